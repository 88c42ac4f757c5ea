"""The bottom layer every other layer may import: Vietnamese text and the shared vocabulary
(event types, call types, priority classes). Imports nothing else of the project."""
