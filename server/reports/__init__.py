"""Reports: one fold of the event log (fold.py), the report engine and its figures, exports."""
