"""The layers of docs/architecture.md, read from the code: every import of every module (also
the ones inside functions) must point down a layer, nothing may import `kiosk/` or `qms/`,
and no two modules may import each other, directly or around a longer circle."""

from __future__ import annotations

import ast
from pathlib import Path

from tools.testing import ROOT

# What each top-level package may import of the project (besides itself).
ALLOWED: dict[str, set[str]] = {
    "common": set(),
    "hardware": {"common"},
    "server": {"common"},
    "qmsclient": {"common"},
    "counter": {"common", "hardware", "server", "qmsclient"},
    "display_board": {"common", "hardware", "server", "qmsclient"},
    "kiosk": {"common", "hardware", "qmsclient"},
    "tools": {"common", "hardware", "server", "qmsclient", "counter", "display_board",
              "central", "sync"},
    "central": {"common", "server"},
    "sync": {"common", "server", "qmsclient"},
    "qms": {"common", "hardware", "server", "qmsclient", "counter", "display_board", "kiosk",
            "tools", "central", "sync"},
}
PACKAGES = set(ALLOWED)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            found[module_name(path)] = path
    return found


def imports_of(name: str, path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import in the file, relative ones resolved."""
    is_package = path.name == "__init__.py"
    base = name.split(".") if is_package else name.split(".")[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[:len(base) - (node.level - 1)]
                target = ".".join(anchor + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.append((node.lineno, target))
            # `from package import module` imports the module too
            out += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module":
            out.append((node.lineno, "<import_module>"))
    return out


def graph() -> dict[str, set[str]]:
    modules = project_modules()
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for _line, target in imports_of(name, path):
            if target in modules and target != name:
                edges[name].add(target)
    return edges


def test_every_import_points_down_a_layer():
    wrong = []
    for name, path in sorted(project_modules().items()):
        own = name.split(".")[0]
        for line, target in imports_of(name, path):
            if target == "<import_module>":
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports by name (importlib)")
                continue
            top = target.split(".")[0]
            if top in PACKAGES and top != own and top not in ALLOWED[own]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} {own} -> {target}")
    assert not wrong, "imports that point up a layer or sideways:\n" + "\n".join(wrong)


def test_no_import_circles():
    edges = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    # A package's __init__ re-exporting its own modules is not a circle between modules.
    circles = [c for c in circles
               if not all(m == c[0] or m.startswith(c[0] + ".") for m in c)]
    assert not circles, "import circles:\n" + "\n".join(" <-> ".join(c) for c in circles)


def test_the_checker_sees_a_wrong_import(tmp_path):
    """The rules above are not vacuous: a server module importing the kiosk is caught."""
    path = tmp_path / "_probe_layers.py"
    path.write_text("from kiosk import search\nfrom . import rules\n")
    found = imports_of("server._probe_layers", path)
    assert (1, "kiosk") in found and (2, "server.rules") in found
    assert "kiosk" not in ALLOWED["server"]
