"""The one way every benchmark rewrites its own section of docs/benchmarks.md."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def write_section(text: str, path: Path = DOC) -> None:
    """Replace the section whose heading is `text`'s first line (or append it)."""
    head = text.splitlines()[0]
    doc = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(head)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(doc):
        doc = pattern.sub(lambda _m: text.rstrip() + "\n\n", doc).rstrip() + "\n"
    else:
        doc = doc.rstrip() + "\n\n" + text.rstrip() + "\n"
    path.write_text(doc, encoding="utf-8")
