"""The shape of the house, read from the source: imports flow one way, functions stay short,
``tune`` stays small, and benchmarks and examples use the public API only."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "boostobj"
MAX_BODY_LINES = 100
MAX_TUNE_PARAMETERS = 20


def _modules() -> dict[str, Path]:
    """``{"boostobj.x": path}`` for every module of the package."""
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _runtime_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, also inside functions, except ``if TYPE_CHECKING:`` blocks."""
    typing_only = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only |= {id(sub) for stmt in node.body for sub in ast.walk(stmt)}
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in typing_only
    ]


def _import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in _runtime_imports(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([node.module] if node.module else [])])
                # `from . import _kernels` names the compiled extension, not the package.
                targets = [
                    f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                    for a in node.names
                    if not (PACKAGE / f"{a.name}.c").exists()
                ]
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, or ``None``."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt] if nxt in path else [node, nxt]
            if nxt not in state and (found := visit(nxt, [*path, nxt])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


def test_no_import_cycle_among_boostobj_modules() -> None:
    graph = _import_graph()
    assert graph["boostobj.sklearn"], "the import graph is empty: the reader is broken"
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_library_function_is_longer_than_100_lines() -> None:
    long = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.body[0].lineno + 1  # type: ignore[operator]
                if lines > MAX_BODY_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.name} ({lines} lines)")
    assert not long, long


def test_tune_takes_at_most_20_parameters() -> None:
    from boostobj.tuning import tune

    # named parameters: **deprecated maps the previous release's keywords and goes with them
    params = [
        name
        for name, param in inspect.signature(tune).parameters.items()
        if param.kind is not inspect.Parameter.VAR_KEYWORD
    ]
    assert len(params) <= MAX_TUNE_PARAMETERS, params


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _private_uses(path: Path) -> list[str]:
    """Private boostobj names imported or read, and boostobj module attributes assigned."""
    tree = ast.parse(path.read_text())
    aliases: set[str] = set()  # local names bound to boostobj modules or objects
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("boostobj"):
            if any(map(_private, node.module.split("."))):  # type: ignore[union-attr]
                found.append(f"line {node.lineno}: from {node.module} import ...")
            for alias in node.names:
                if _private(alias.name):
                    found.append(f"line {node.lineno}: imports {alias.name}")
                aliases.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("boostobj"):
                    if any(map(_private, alias.name.split("."))):
                        found.append(f"line {node.lineno}: import {alias.name}")
                    aliases.add(alias.asname or alias.name.split(".")[0])
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id in aliases and _private(node.attr):
                found.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                base = target.value if isinstance(target, ast.Subscript) else target
                if isinstance(base, ast.Attribute) and isinstance(base.value, ast.Name):
                    if base.value.id in aliases:
                        found.append(f"line {node.lineno}: assigns {base.value.id}.{base.attr}")
    return found


@pytest.mark.parametrize(
    "path",
    sorted([*ROOT.glob("benchmarks/*.py"), *ROOT.glob("examples/*.py")]),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_benchmarks_and_examples_use_the_public_api_only(path: Path) -> None:
    assert _private_uses(path) == []


def test_the_private_use_finder_finds_them(tmp_path: Path) -> None:
    script = tmp_path / "s.py"
    script.write_text(
        "from boostobj._meta import versions\n"
        "from boostobj.tuning import _refit_on_all\n"
        "from boostobj import tuning\n"
        "tuning.search_space = None\n"
        "tuning._make_estimator(1)\n"
    )
    assert len(_private_uses(script)) == 4
