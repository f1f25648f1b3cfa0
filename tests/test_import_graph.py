"""The package's import graph, read from the source: no cycle, and the sandbox apart from the client.

Every ``import`` counts, wherever it stands (module level, inside a function, under
``TYPE_CHECKING``): an import deferred into a function is still a dependency, and a
cycle through one is how ``_config → _magics → _active → _config`` hid.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "connect_notebook"
NAME = "connect_notebook"
# What the sandbox may use from the package besides itself: the shared server thread and signature, no client code.
SANDBOX_MAY_IMPORT = {f"{NAME}._serving", f"{NAME}._signature"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> Iterator[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    if node.level:
        base = package.split(".")
        base = base[: len(base) - (node.level - 1)]
        target = ".".join([*base, node.module] if node.module else base)
    else:
        target = node.module or ""
    if not target.startswith(NAME):
        return
    found = False
    for alias in node.names:  # ``from . import _active`` imports a module, not a name
        if f"{target}.{alias.name}" in MODULES:
            found = True
            yield f"{target}.{alias.name}"
    if not found:
        yield target


def imports(module: str) -> set[str]:
    """The package's modules that ``module`` imports, anywhere in its source."""
    path = MODULES[module]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith(NAME)}
        elif isinstance(node, ast.ImportFrom):
            found |= set(_resolve(module, path, node))
    return {m for m in found if m in MODULES and m != module}


GRAPH = {m: imports(m) for m in MODULES}


def _cycle() -> list[str] | None:
    """One import cycle, as the modules along it, or None (a depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(GRAPH[module]):
            # A package's __init__ is run before its submodules, so "a.b imports a" is not a cycle to report.
            if module.startswith(f"{target}."):
                continue
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[module] = 2
        return None

    for module in sorted(GRAPH):
        if module not in state and (found := visit(module)):
            return found
    return None


def test_the_graph_was_read() -> None:
    # The reader must see real edges, or "no cycle" would mean nothing.
    assert f"{NAME}._client" in GRAPH[f"{NAME}._loaders"]
    assert f"{NAME}._kernel" in GRAPH[f"{NAME}._magics"]
    assert f"{NAME}.sandbox" in GRAPH[f"{NAME}._kernel"]  # a function-level import counts


def test_the_reader_finds_a_cycle_when_there_is_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(GRAPH, f"{NAME}._redact", {*GRAPH[f"{NAME}._redact"], f"{NAME}._loaders"})
    cycle = _cycle()
    assert cycle is not None and cycle[0] == cycle[-1]


def test_the_package_has_no_import_cycle() -> None:
    cycle = _cycle()
    assert cycle is None, "import cycle: " + " → ".join(m.removeprefix(f"{NAME}.") for m in cycle or [])


def test_the_sandbox_never_imports_the_client() -> None:
    sandbox = {m for m in GRAPH if m == f"{NAME}.sandbox" or m.startswith(f"{NAME}.sandbox.")}
    outside = {
        (m, t) for m in sandbox for t in GRAPH[m] if t not in sandbox and t not in SANDBOX_MAY_IMPORT and t != NAME
    }
    assert outside == set()


def test_the_client_imports_the_sandbox_only_in_the_kernel() -> None:
    users = {
        m
        for m, targets in GRAPH.items()
        if not m.startswith(f"{NAME}.sandbox")
        and any(t == f"{NAME}.sandbox" or t.startswith(f"{NAME}.sandbox.") for t in targets)
    }
    # __init__ names Sandbox lazily (cn.Sandbox), the CLI starts one, the kernel embeds one.
    assert users <= {NAME, f"{NAME}._kernel", f"{NAME}._cli"}, users


def _module_assignments(module: str) -> list[str]:
    """``other_module.name = …`` (or ``+=``, ``del``) in ``module``'s source, for the package's modules."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), str(path))
    modules: set[str] = set()  # local names bound to one of the package's modules
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {(a.asname or a.name).split(".")[0] for a in node.names if a.name.startswith(NAME)}
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if any(t.endswith(f".{alias.name}") and t in MODULES for t in _resolve(module, path, node)):
                    modules.add(alias.asname or alias.name)
    found = []
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign | ast.Delete):
            targets = list(node.targets)
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("setattr", "delattr"):
            targets = [ast.Attribute(value=node.args[0], attr="?", ctx=ast.Store())] if node.args else []
        for target in targets:
            if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id in modules:
                found.append(f"{module}:{node.lineno}: {target.value.id}.{target.attr}")
    return found


def test_no_module_assigns_into_another_modules_state() -> None:
    # State has one owner object (the Kernel); modules never wire each other together by assignment.
    assert [line for m in sorted(MODULES) for line in _module_assignments(m)] == []


def test_the_assignment_check_sees_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    probe = PACKAGE / "_kernel.py"
    source = probe.read_text() + "\nfrom . import _config\n_config.DEFAULT_CONCURRENCY = 1\n"
    fake = tmp_path / "_kernel.py"
    fake.write_text(source)
    monkeypatch.setitem(MODULES, f"{NAME}._kernel", fake)
    assert any("_config.DEFAULT_CONCURRENCY" in line for line in _module_assignments(f"{NAME}._kernel"))


TESTS = PACKAGE.parent / "tests"


def _imports_bench(source: str, path: str) -> bool:
    for node in ast.walk(ast.parse(source, path)):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "bench" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] == "bench":
            return True
    return False


def test_no_test_imports_bench() -> None:
    # bench/ holds benchmarks and the driver that prints the chaos figures; the chaos
    # properties themselves live in tests/chaos/, so a test never needs bench/.
    offenders = [str(p.relative_to(TESTS)) for p in TESTS.rglob("*.py") if _imports_bench(p.read_text(), str(p))]
    assert offenders == []


def test_the_bench_import_check_sees_one() -> None:
    assert _imports_bench("from bench import chaos_loads\n", "probe.py")
    assert _imports_bench("def f():\n    import bench.chaos\n", "probe.py")
    assert not _imports_bench("from chaos.figures import budget\nimport benchmark_tools\n", "probe.py")
