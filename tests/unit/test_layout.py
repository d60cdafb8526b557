"""The layout's promises, checked from the source: one-way imports, a core without I/O.

Static (AST) checks, so they hold whatever the interpreter happens to import underneath.
"""

from __future__ import annotations

import ast
import functools
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app"
IO_MODULES = frozenset(
    {
        "kubernetes",
        "uvicorn",
        "fastapi",
        "starlette",
        "asyncio",
        "ssl",
        "socket",
        "threading",
        "subprocess",
        "urllib",
        "http",
    }
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@functools.cache
def imports_of(path: Path) -> frozenset[str]:
    """Every module the file imports, anywhere in it (lazy imports inside functions too).

    Parsed once per file and run: the per-module tests below walk the same graph."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # `from app.core import labels` imports the module app.core.labels
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return frozenset(found)


def app_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in APP.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = {i for i in imports_of(path) if i in modules}
        # importing a.b.c runs the package a.b's __init__ too; those hold only docstrings
        graph[name] = targets - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle as a path of module names, or None: depth-first search with colours."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_sees_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_among_app_modules() -> None:
    assert find_cycle(app_graph()) is None


def test_packages_import_one_way() -> None:
    """No cycle between subpackages either: the core never imports the shell."""
    graph = app_graph()
    packages: dict[str, set[str]] = {}
    for name, targets in graph.items():
        here = ".".join(name.split(".")[:3])
        packages.setdefault(here, set()).update(
            ".".join(t.split(".")[:3]) for t in targets if not t.startswith(here)
        )
    assert find_cycle(packages) is None
    core = [n for n in graph if n.startswith("app.core")]
    assert core, "the functional core is app.core"
    assert not [(n, t) for n in core for t in graph[n] if t.startswith("app.shell")]


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for target in graph[todo.pop()] - seen:
            seen.add(target)
            todo.append(target)
    return seen


@pytest.mark.parametrize(
    "module", sorted(module_name(p) for p in (APP / "core").rglob("*.py")), ids=str
)
def test_core_reaches_no_io_module(module: str) -> None:
    graph = app_graph()
    paths = {module_name(p): p for p in APP.rglob("*.py")}
    reached = {
        (m, i)
        for m in reachable(graph, module)
        for i in imports_of(paths[m])
        if i.split(".")[0] in IO_MODULES
    }
    assert not reached, f"{module} reaches I/O modules: {sorted(reached)}"


def sources_outside_tests() -> list[Path]:
    """Every .py file of the repository but the tests, the virtualenvs and build output; those
    directories are pruned from the walk, not filtered after it (a venv has thousands of files)."""
    skipped = {"tests", ".git", "build", "mutants"}
    found = []
    for here, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in skipped and not d.startswith(".venv")]
        found.extend(Path(here, f) for f in files if f.endswith(".py"))
    return found


def test_nothing_outside_tests_imports_tests() -> None:
    sources = sources_outside_tests()
    assert any(p.parts[-2] == "scripts" for p in sources)
    offenders = []
    for path in sources:
        text = path.read_text()
        roots = {i.split(".")[0] for i in imports_of(path)}
        if "tests" in roots or '/ "tests"' in text:
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_tests_import_their_helpers_one_way() -> None:
    """Tests import helpers by their full name (`tests.kit.objects`), and a suite reaches another
    suite's helpers only through tests/kit: a bare `from support import` depends on which
    directory happens to be on the path, and a suite reaching into another's files couples them."""
    tests = ROOT / "tests"
    local = {p.stem for p in tests.rglob("*.py")} | {p.name for p in tests.rglob("*") if p.is_dir()}
    local -= {"tests", "__init__", "conftest"} | set(sys.stdlib_module_names)
    bare, crossing = [], []
    for path in tests.rglob("*.py"):
        where = path.relative_to(ROOT)
        suite = ".".join(where.parts[:3] if where.parts[1] == "e2e" else where.parts[:2])
        for module in imports_of(path):
            root = module.split(".")[0]
            if root in local:
                bare.append(f"{where}: {module}")
            inner = module.removesuffix(".py")
            if (
                root == "tests"
                and not inner.startswith(("tests.kit", suite))
                and where != Path("tests/conftest.py")
            ):
                crossing.append(f"{where}: {module}")
    assert bare == [], "import test helpers as tests.<suite>.<module>"
    assert crossing == [], "share a helper across suites through tests/kit"


# Calls that read a clock: the shell passes the time in, as core.repair.stuck.decide takes `now`.
CLOCK_CALLS = frozenset(
    {
        "now",
        "utcnow",
        "today",
        "time",
        "time_ns",
        "monotonic",
        "monotonic_ns",
        "perf_counter",
        "perf_counter_ns",
    }
)


def clock_reads(source: str) -> list[str]:
    """Every clock read in `source`: a call of a clock's method, or an import of `time`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in CLOCK_CALLS:
                found.append(f"line {node.lineno}: {ast.unparse(node.func)}()")
        elif isinstance(node, ast.Import) and any(a.name == "time" for a in node.names):
            found.append(f"line {node.lineno}: import time")
        elif isinstance(node, ast.ImportFrom) and node.module == "time":
            found.append(f"line {node.lineno}: from time import")
    return found


def test_clock_reads_are_seen() -> None:
    assert clock_reads("import datetime\nx = datetime.datetime.now(datetime.UTC)") == [
        "line 2: datetime.datetime.now()"
    ]
    assert clock_reads("from datetime import date\ndate.today()") == ["line 2: date.today()"]
    assert len(clock_reads("import time\ntime.monotonic()")) == 2
    assert clock_reads("from time import monotonic") == ["line 1: from time import"]
    assert clock_reads("def f(now: float) -> float:\n    return now + 1") == []


@pytest.mark.parametrize(
    "path", sorted((APP / "core").rglob("*.py")), ids=lambda p: str(p.relative_to(APP))
)
def test_core_reads_no_clock(path: Path) -> None:
    assert clock_reads(path.read_text()) == [], "pass `now` in from the shell"
