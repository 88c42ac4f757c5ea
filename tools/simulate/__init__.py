"""`qms simulate`: a compressed working day of a service centre against a live server
(profiles.py: who comes when and for what; actors.py: kiosks, officers, devices, display;
runner.py: the scheduler and the command; report.py: checks, summary and report)."""

from .runner import build_parser, run

__all__ = ["build_parser", "run"]
