"""The link modules: the base imports no transport, transports do not import each other,
and `open_link` (the only module that knows them all) picks one per URL."""

import ast
from pathlib import Path

import pytest

import hardware
from hardware.fake_link import FakeLink
from hardware.link import Link, LinkError
from hardware.serial_link import SerialLink
from hardware.transports import open_link

HW = Path(hardware.__file__).parent


def _imports(module: str) -> set[str]:
    tree = ast.parse((HW / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            found.add(node.module or "")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hardware"):
            found.add(node.module.removeprefix("hardware."))
        elif isinstance(node, ast.Import):
            found |= {a.name.removeprefix("hardware.") for a in node.names
                      if a.name.startswith("hardware")}
    return found


def test_link_modules_import_down_only():
    assert _imports("link") == set()
    assert _imports("serial_link") == {"link"}
    assert _imports("fake_link") == {"link"}
    assert _imports("transports") == {"link", "serial_link", "fake_link"}
    assert "transports" not in _imports("printer")


def test_open_link_picks_the_transport():
    fake = FakeLink.get("links-pick")
    with open_link("fake:links-pick") as end:
        assert isinstance(end, Link) and not isinstance(end, SerialLink)
        end.write(b"x")
    assert fake.written == b"x"
    with pytest.raises(LinkError):
        open_link("serial:///nonexistent/tty?baudrate=19200")
