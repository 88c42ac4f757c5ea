"""`python -m server.simulate ...` (same as `qms simulate ...`)."""

from .runner import main

main()
