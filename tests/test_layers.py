"""The apps stand on floors: no import cycle between them, and the access module a leaf.

Every import of every product module counts, those inside functions too (an import put
inside a function to dodge a cycle is still the cycle). An app is a top-level package of
fangkong/; the project's own modules (settings, urls, api, cli, wsgi) sit on top and may
import anything. `lib` is the bottom floor: it imports no app. The access module
(places/access.py) imports nothing of the platform but lib and the places app's models.
"""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "fangkong"


def _imports(path: Path, package_dir: Path = PACKAGE) -> set[str]:
    """The fangkong.* modules a file imports (relative imports resolved)."""
    rel = path.relative_to(package_dir.parent).with_suffix("")
    package = list(rel.parts[:-1]) if rel.name != "__init__" else list(rel.parts[:-1])
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("fangkong")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
                names = [mod] if node.module else [f"{mod}.{a.name}" for a in node.names]
            else:
                names = [node.module or ""]
                names += [f"{node.module}.{a.name}" for a in node.names]
            out |= {n for n in names if n.startswith("fangkong")}
    return out


def _app(module: str, package_dir: Path = PACKAGE) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and (package_dir / parts[1]).is_dir() else None


def app_graph(package_dir: Path = PACKAGE) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in package_dir.rglob("*.py"):
        rel = path.relative_to(package_dir)
        if len(rel.parts) < 2 or "migrations" in rel.parts:
            continue  # project modules (top floor) and migrations (Django's own order)
        app = rel.parts[0]
        graph[app]
        for module in _imports(path, package_dir):
            other = _app(module, package_dir)
            if other and other != app:
                graph[app].add(other)
    return graph


def _cycle(graph) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_cycle_between_apps():
    graph = app_graph()
    assert len(graph) >= 15
    cycle = _cycle(graph)
    assert cycle is None, "import cycle between apps: " + " -> ".join(cycle)


def test_lib_imports_no_app():
    graph = app_graph()
    assert graph["lib"] == set(), f"lib imports {sorted(graph['lib'])}"


def _module_file(module: str) -> Path | None:
    path = PACKAGE.parent.joinpath(*module.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def test_the_access_module_is_a_leaf():
    """access.py, and every module of the places app it reaches, imports nothing of the
    platform but lib and the places app."""
    seen, todo, bad = set(), ["fangkong.places.access"], []
    while todo:
        module = todo.pop()
        path = _module_file(module)
        if module in seen or path is None:
            continue
        seen.add(module)
        for imported in _imports(path):
            app = _app(imported)
            if app == "places":
                todo.append(imported)
            elif app not in (None, "lib"):
                bad.append(f"{module} imports {imported}")
    assert "fangkong.places.models" in seen
    assert not bad, bad


def test_the_checker_sees_a_cycle_made_inside_a_function(tmp_path):
    """The checker itself, on a small tree: a relative import one way and an import inside a
    function the other way make a cycle; without the second there is none."""
    pkg = tmp_path / "fangkong"
    for app in ("alpha", "beta"):
        (pkg / app).mkdir(parents=True)
        (pkg / app / "__init__.py").write_text("")
    (pkg / "alpha" / "actions.py").write_text("from ..beta.models import Thing\n")
    (pkg / "beta" / "models.py").write_text("class Thing:\n    pass\n")
    assert _cycle(app_graph(pkg)) is None
    (pkg / "beta" / "views.py").write_text("def view():\n    from fangkong.alpha import actions\n")
    assert _cycle(app_graph(pkg)) == ["alpha", "beta", "alpha"]
