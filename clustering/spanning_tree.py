"""One spanning tree for all: the same HDBSCAN hierarchy whatever tree the parallel search found.

fast_hdbscan's Boruvka search runs its threads against shared bounds, so among edges of equal
mutual-reachability weight (common: every edge inside a point's core distance weighs that
distance) the tree it returns differs from run to run and with the thread count, and so,
now and then, do the topics: two seeded fits of the demo corpus in one process gave different
labels (ARI 0.9994), and its `reproducible` flag still gave up to 10 different trees in 5
runs on 2 and 4 threads (bench sets and demo layouts, BENCHMARKS.md). Every minimum spanning
tree has the same components below each weight, so rebuilding the tree from those components
alone gives one tree, and one set of labels, for all of them.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

from clustering.kernels import compiled

Tree = npt.NDArray[np.float64]  # rows (from, to, weight), as fast_hdbscan gives them


def canonical_tree(tree: Tree) -> Tree:
    """The spanning tree of `tree`'s points that depends only on which points `tree` joins
    below each weight: edges of one weight that join components into one are rebuilt as a
    star from that union's lowest point to each joined component's lowest point."""
    edges = np.ascontiguousarray(
        tree[np.lexsort((tree[:, 1], tree[:, 0], tree[:, 2]))], dtype=np.float64
    )
    result: Tree
    written: int
    result, written = _compiled_rebuild()(edges)
    if written != len(edges):
        raise ValueError(f"not a spanning tree: {len(edges)} edges joined {written} components")
    return result


def _rebuild(edges: Tree) -> tuple[Tree, int]:
    """`canonical_tree` of `edges` sorted by weight; also how many edges it wrote. (Run
    compiled, by `_compiled_rebuild`.)"""

    def _root(parent: npt.NDArray[np.int64], point: Any) -> Any:  # numba integers
        top = point
        while parent[top] != top:
            top = parent[top]
        while parent[point] != top:  # path compression
            parent[point], point = top, parent[point]
        return top

    count = len(edges) + 1
    parent = np.arange(count)  # a root is its component's lowest point: unions keep the lower
    result = np.empty_like(edges)
    written = 0
    start = 0
    while start < len(edges):
        end = start
        while end < len(edges) and edges[end, 2] == edges[start, 2]:
            end += 1
        # The components this weight's edges join, by their lowest points before joining.
        before = np.empty(2 * (end - start), dtype=np.int64)
        for edge in range(start, end):
            for side in range(2):
                before[2 * (edge - start) + side] = _root(parent, np.int64(edges[edge, side]))
        for edge in range(start, end):
            a = _root(parent, np.int64(edges[edge, 0]))
            b = _root(parent, np.int64(edges[edge, 1]))
            parent[max(a, b)] = min(a, b)
        # Each union, as (its lowest point, a joined component's lowest point), in order.
        after = np.empty(len(before), dtype=np.int64)
        for i in range(len(before)):
            after[i] = _root(parent, before[i])
        order = np.argsort(after * count + before)  # by union, then joined component
        previous = -1
        for i in order:
            if before[i] != after[i] and before[i] != previous:
                result[written, 0] = after[i]
                result[written, 1] = before[i]
                result[written, 2] = edges[start, 2]
                written += 1
            previous = before[i]
        start = end
    return result, written


@cache
def _compiled_rebuild() -> Any:
    """`_rebuild` compiled on first use, so that importing this module (as the quick CLI
    commands do) loads no numba."""
    return compiled(_rebuild)
