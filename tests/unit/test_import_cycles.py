"""No import circle between SkyBerth's modules.

import-linter's contracts keep the layers; a circle *inside* a layer (two modules
of one wing importing each other, often through a lazy import in a function) is
not a layer breach, so it is checked here, on grimp's graph (the library
import-linter builds its graph with). Imports under ``TYPE_CHECKING`` are left
out: they never run.
"""

from __future__ import annotations

import grimp

PACKAGES = ("airspace", "booking", "telemetry", "web", "simulator")


def _circles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Return every strongly connected set of more than one module (Tarjan)."""
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
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            members = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                members.append(member)
                if member == module:
                    break
            if len(members) > 1:
                found.append(sorted(members))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_module_imports_itself_back_through_others() -> None:
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True)
    assert _circles(graph) == []


def test_the_check_finds_a_planted_circle() -> None:
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True)
    graph.add_import(importer="airspace.volume", imported="web.cli")
    assert any("airspace.volume" in circle for circle in _circles(graph))
