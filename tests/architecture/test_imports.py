"""The package layering of docs/architecture.md, checked on the code as it is.

lint-imports (run by bin/test) enforces which package may import which; these tests add what
its contracts can't say: no cycle among modules at all, counting imports inside functions,
and no function-level import of our own modules (the usual way to hide a cycle).
"""

from __future__ import annotations

import ast
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = ("messaging", "providers")
# Django's documented place to connect signal receivers and register checks.
ALLOWED_FUNCTION_IMPORTS = {("messaging/apps.py", "ready")}


def strongly_connected(graph: grimp.ImportGraph) -> list[list[str]]:
    modules = sorted(m for m in graph.modules if m.startswith(OURS))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if not imported.startswith(OURS):
                continue
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in modules:
        if module not in index:
            visit(module)
    return found


def build() -> grimp.ImportGraph:
    # Imports under ``if TYPE_CHECKING:`` never run, so they can't form a cycle at run time.
    return grimp.build_graph(*OURS, cache_dir=None, exclude_type_checking_imports=True)


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return build()


def test_no_module_of_messaging_or_providers_imports_itself_round_a_cycle(graph):
    assert strongly_connected(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    """The finder itself is checked, so the test above can fail."""
    broken = build()
    broken.add_import(importer="messaging.models", imported="messaging.dashboard.overview")
    assert any("messaging.models" in cycle for cycle in strongly_connected(broken))


def function_level_imports(path: Path) -> list[tuple[str, int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []

    def walk(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            name = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
            if function is not None and isinstance(child, ast.Import | ast.ImportFrom):
                targets = [a.name for a in child.names] if isinstance(child, ast.Import) else [child.module or ""]
                if any(t.split(".")[0] in OURS for t in targets):
                    found.append((function, child.lineno, ", ".join(targets)))
            walk(child, name)

    walk(tree, None)
    return found


def test_no_function_level_imports_of_our_own_modules():
    offenders = []
    for package in OURS:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if "/migrations/" in relative:
                continue  # migrations import frozen code on purpose, at run time
            for function, line, target in function_level_imports(path):
                if (relative, function) not in ALLOWED_FUNCTION_IMPORTS:
                    offenders.append(f"{relative}:{line} {function}() imports {target}")
    assert offenders == []
