"""Strongly connected components of the reference graph, dependencies first."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def components(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; every component comes after all it reaches.

    Nodes and edges are visited in sorted order and members are sorted, so the
    result does not depend on the order files were found in.
    """
    graph = {node: sorted(set(edges[node]) & edges.keys()) for node in edges}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    result: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            node, position = work.pop()
            if position == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            targets = graph[node]
            while position < len(targets):
                target = targets[position]
                position += 1
                if target not in index:
                    work.append((node, position))
                    work.append((target, 0))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    result.append(sorted(component))
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
    return result


def is_cycle(component: list[str], edges: Mapping[str, Iterable[str]]) -> bool:
    """A component is a cycle if it has several members or a file references itself."""
    return len(component) > 1 or component[0] in set(edges[component[0]])
