"""The service's modules import each other without a cycle, function-local imports included
(`make lint` also checks the layers with import-linter)."""

from __future__ import annotations

import grimp


def cycle_through(graph: grimp.ImportGraph, start: str) -> list[str] | None:
    """A chain of imports from `start` back to itself, if there is one."""
    path: list[str] = []
    seen: set[str] = set()

    def visit(module: str) -> list[str] | None:
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported == start:
                return [*path, module, start]
            if imported.startswith("app") and imported not in seen:
                seen.add(imported)
                path.append(module)
                found = visit(imported)
                path.pop()
                if found:
                    return found
        return None

    return visit(start)


def test_no_module_of_the_service_is_in_an_import_cycle() -> None:
    graph = grimp.build_graph("app", exclude_type_checking_imports=True)
    cycles = [c for module in sorted(graph.modules) if (c := cycle_through(graph, module))]
    assert cycles == [], " -> ".join(cycles[0])
