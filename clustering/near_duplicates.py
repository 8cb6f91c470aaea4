"""Near-duplicate groups: questions that ask the same thing, from the kNN graph.

Edges join neighbours at or above the duplicate threshold; connected components are the
candidate groups. Chains (A~B, B~C, but A and C apart) are cut: a member must be within the
threshold of its group's medoid, else it leaves and the rest is grouped again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from clustering.errors import ParameterError
from clustering.knn import KnnGraph

Labels = npt.NDArray[np.int64]
# Components up to this size are cut exactly; bigger ones (long chains of similar questions,
# as in banking queries) by leaders, which costs neighbours, not the component, per group.
EXACT_SPLIT_MAX = 200


def _components(graph: KnnGraph, threshold: float) -> Labels:
    n = len(graph.indices)
    rows = np.repeat(np.arange(n), graph.k)
    cols = graph.indices.ravel()
    keep = (graph.similarities.ravel() >= threshold) & (cols >= 0) & (cols != rows)
    adjacency = coo_matrix((np.ones(int(keep.sum())), (rows[keep], cols[keep])), shape=(n, n))
    _, labels = connected_components(adjacency, directed=False)
    components: Labels = np.asarray(labels, dtype=np.int64)
    return components


TIE_TOLERANCE = 1e-4


def medoid(vectors: npt.NDArray[np.float32]) -> int:
    """The member most similar to the others: the largest sum of cosines to the group.

    That sum is each vector's dot product with the group's summed vector, so it costs one
    matrix-vector product, not the n-by-n similarity matrix (chains in big components are
    cut again and again, and the square made that cubic).

    Sums within float noise of the best are a tie (in a pair, both members' sums are the
    same number), won by the first member, the oldest question: the choice must not flip
    with the last bits of an encoding.
    """
    sums = vectors @ vectors.sum(axis=0)
    return int(np.flatnonzero(sums >= sums.max() - TIE_TOLERANCE)[0])


def _split_chains(
    members: npt.NDArray[np.int64], vectors: npt.NDArray[np.float32], threshold: float
) -> list[npt.NDArray[np.int64]]:
    """Groups whose every member is within `threshold` of the group's medoid."""
    groups: list[npt.NDArray[np.int64]] = []
    pending = [members]
    while pending:
        current = pending.pop()
        if len(current) < 2:
            continue
        centre = current[medoid(vectors[current])]
        close = vectors[current] @ vectors[centre] >= threshold
        if close.all():
            groups.append(current)
            continue
        pending.append(current[close])
        pending.append(current[~close])
    return groups


def _leader_groups(
    members: npt.NDArray[np.int64],
    vectors: npt.NDArray[np.float32],
    threshold: float,
    graph: KnnGraph,
    assigned: npt.NDArray[np.bool_],
) -> list[npt.NDArray[np.int64]]:
    """For big components, where re-splitting the whole chain is quadratic: the most central
    unassigned member leads a group of the unassigned within `threshold` of it, looked for
    among its neighbours and theirs (a duplicate of a question is among its nearest)."""
    component = np.zeros(len(vectors), dtype=bool)
    component[members] = True
    block = vectors[members]
    order = members[np.argsort(-(block @ block.sum(axis=0)), kind="stable")]
    groups: list[npt.NDArray[np.int64]] = []
    for leader in order.tolist():
        if assigned[leader]:
            continue
        near = graph.indices[leader]
        near = near[near >= 0]
        candidates = np.unique(np.concatenate([near, graph.indices[near].ravel()]))
        candidates = candidates[(candidates >= 0) & component[candidates] & ~assigned[candidates]]
        group = candidates[vectors[candidates] @ vectors[leader] >= threshold]
        group = np.union1d(group, [leader])
        assigned[group] = True
        if len(group) >= 2:
            groups.append(group)
    return groups


@dataclass(kw_only=True)
class NearDuplicateGrouper:
    """Estimator in the scikit-learn shape: `fit` sets `labels_` (-1: no group) and `medoids_`."""

    threshold: float = 0.8
    labels_: Labels = field(init=False, repr=False)
    medoids_: dict[int, int] = field(init=False, repr=False)

    def fit(self, graph: KnnGraph, vectors: npt.NDArray[np.float32]) -> NearDuplicateGrouper:
        if not 0.0 < self.threshold <= 1.0:
            raise ParameterError(f"duplicate threshold must be in (0, 1], not {self.threshold}")
        components = _components(graph, self.threshold)
        sizes = np.bincount(components)
        labels = np.full(len(vectors), -1, dtype=np.int64)
        medoids: dict[int, int] = {}
        order = np.argsort(components, kind="stable")
        bounds = np.cumsum(sizes)[:-1]
        assigned = np.zeros(len(vectors), dtype=bool)
        for members in np.split(order, bounds):
            if len(members) < 2:
                continue
            split = (
                _split_chains(members, vectors, self.threshold)
                if len(members) <= EXACT_SPLIT_MAX
                else _leader_groups(members, vectors, self.threshold, graph, assigned)
            )
            for group in split:
                label = len(medoids)
                labels[group] = label
                medoids[label] = int(group[medoid(vectors[group])])
        self.labels_, self.medoids_ = labels, medoids
        return self
