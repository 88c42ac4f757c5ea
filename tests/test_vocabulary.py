"""common/vocabulary.py is the one definition of the event types, the call types and the
priority classes: the server emits exactly those events, and the copies that must stay
elsewhere (the pages' JavaScript, the OpenAPI enum) spell them the same way."""

from __future__ import annotations

import ast
import re

from common import vocabulary as V
from tools.testing import ROOT

EMITTERS = {"_event", "append_event", "_ticket_step", "_counter_step"}  # take an event type
EVENTISH = re.compile(r"""["']((?:ticket|counter|team|device|config)\.[a-z_]+)["']""")


def _value(node: ast.AST) -> str | None:
    """A string constant, or a vocabulary constant by name (`TICKET_CALLED`, `V.TICKET_CALLED`)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
    value = getattr(V, name, None) if name and name.isupper() else None
    return value if isinstance(value, str) else None


def _tables(tree: ast.Module) -> dict[str, list[ast.AST]]:
    """A module's named tables of values: `BAND_EVENTS = {"low": TEAM_BAND_LOW, ...}` (the
    dict's values) or `KINDS = (TICKET_CALLED, ...)` (the items)."""
    tables: dict[str, list[ast.AST]] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if isinstance(node.value, ast.Dict):
                values = list(node.value.values)
            elif isinstance(node.value, ast.Tuple | ast.List):
                values = list(node.value.elts)
            else:
                continue
            tables |= {t.id: values for t in targets if isinstance(t, ast.Name)}
    return tables


def _values(node: ast.AST, tables: dict[str, list[ast.AST]]) -> set[str]:
    """The event types an emitter's argument can be: a string, a vocabulary constant, or a
    look-up in a module's table (`BAND_EVENTS[level]`: every value of the table)."""
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
        nodes = tables.get(node.value.id, [])
    else:
        nodes = [node]
    return {v for n in nodes if (v := _value(n)) and "." in v}


def emitted_types() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "server").rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        tables = _tables(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in EMITTERS:
                    for a in node.args:
                        found |= _values(a, tables)
            elif isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id in ("kind", "type_") for t in node.targets):
                if (v := _value(node.value)) and "." in v:
                    found.add(v)
    return found


def test_vocabulary_imports_nothing_of_the_project():
    tree = ast.parse((ROOT / "common" / "vocabulary.py").read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert imported <= {"__future__"}


def test_the_server_emits_exactly_the_vocabulary():
    assert emitted_types() == set(V.EVENT_TYPES)
    assert len(set(V.EVENT_TYPES)) == len(V.EVENT_TYPES)


def test_call_types_and_priorities_are_consistent():
    assert set(V.CALL_TYPES) <= set(V.TICKET_EVENTS)
    assert V.CALL_TYPES == ("ticket.called", "ticket.recalled")
    for lang in ("vi", "en"):
        assert tuple(V.PRIORITY_LABELS[lang]) == V.PRIORITY_CLASSES
    assert V.PRIORITY_LABELS_VI is V.PRIORITY_LABELS["vi"]


def test_javascript_copies_spell_the_event_types_as_python():
    scripts = [p for p in ROOT.rglob("*.js")
               if "static" in p.parts and ".venv" not in p.parts and "node_modules" not in p.parts]
    used = {m for p in scripts for m in EVENTISH.findall(p.read_text())}
    assert used and used <= set(V.EVENT_TYPES), used - set(V.EVENT_TYPES)
    board = (ROOT / "display_board" / "static" / "display_board" / "display.js").read_text()
    for kind in V.CALL_TYPES:  # the hall board announces exactly the call types
        assert f'case "{kind}":' in board


def test_javascript_and_openapi_know_every_priority_class():
    console_text = (ROOT / "counter" / "static" / "console-text.js").read_text()
    for code in V.PRIORITY_CLASSES:
        assert f'"{code}": {{' in console_text
    from server.api.openapi import spec

    body = spec()["paths"]["/api/v1/tickets"]["post"]["requestBody"]["content"]["application/json"]
    assert tuple(body["schema"]["properties"]["priority"]["enum"]) == V.PRIORITY_CLASSES
