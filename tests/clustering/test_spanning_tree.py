"""One canonical spanning tree for every minimum spanning tree of the same points."""

from __future__ import annotations

import numpy as np
import pytest

from clustering.spanning_tree import canonical_tree


def _kruskal(weights: np.ndarray, tie_order: np.random.Generator) -> np.ndarray:
    """A minimum spanning tree of the complete graph `weights`; which of the equal-weight
    edges it takes follows `tie_order`."""
    n = len(weights)
    rows, columns = np.triu_indices(n, k=1)
    edge_weights = weights[rows, columns]
    order = np.lexsort((tie_order.permutation(len(rows)), edge_weights))
    parent = list(range(n))

    def root(point: int) -> int:
        while parent[point] != point:
            point = parent[point]
        return point

    tree = []
    for edge in order:
        a, b = root(int(rows[edge])), root(int(columns[edge]))
        if a != b:
            parent[a] = b
            tree.append((rows[edge], columns[edge], edge_weights[edge]))
    return np.array(tree, dtype=np.float64)


def _tie_heavy_weights(n: int, seed: int) -> np.ndarray:
    upper = np.triu(np.random.default_rng(seed).integers(1, 4, size=(n, n)), k=1)
    return (upper + upper.T).astype(np.float64)


def _components(tree: np.ndarray, n: int, below: float) -> set[frozenset[int]]:
    parent = list(range(n))

    def root(point: int) -> int:
        while parent[point] != point:
            point = parent[point]
        return point

    for a, b, weight in tree:
        if weight <= below:
            parent[root(int(a))] = root(int(b))
    groups: dict[int, set[int]] = {}
    for point in range(n):
        groups.setdefault(root(point), set()).add(point)
    return {frozenset(group) for group in groups.values()}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_different_minimum_trees_give_one_canonical_tree(seed: int) -> None:
    n = 60
    weights = _tie_heavy_weights(n, seed)
    first = _kruskal(weights, np.random.default_rng(100 + seed))
    second = _kruskal(weights, np.random.default_rng(200 + seed))
    as_pairs = [{(min(a, b), max(a, b)) for a, b, _ in tree} for tree in (first, second)]
    assert as_pairs[0] != as_pairs[1]  # the ties were settled differently

    canonical = canonical_tree(first)
    np.testing.assert_array_equal(canonical, canonical_tree(second))
    assert canonical.sum(axis=0)[2] == first.sum(axis=0)[2]  # still a minimum tree
    for below in (1.0, 2.0, 3.0):  # joining the same points below every weight
        assert _components(canonical, n, below) == _components(first, n, below)


def test_a_tree_without_ties_keeps_its_joins() -> None:
    tree = np.array([[0, 1, 0.5], [2, 3, 0.25], [1, 3, 1.0]])
    np.testing.assert_array_equal(canonical_tree(tree), [[2, 3, 0.25], [0, 1, 0.5], [0, 2, 1.0]])


def test_edges_that_do_not_span_are_refused() -> None:
    cycle = np.array([[0, 1, 1.0], [1, 2, 1.0], [2, 0, 1.0]])  # three edges, three points
    with pytest.raises(ValueError, match="not a spanning tree"):
        canonical_tree(cycle)
