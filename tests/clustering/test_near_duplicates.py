from __future__ import annotations

import numpy as np
import pytest

from clustering.errors import ParameterError
from clustering.knn import knn_graph
from clustering.near_duplicates import NearDuplicateGrouper


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_tight_groups_are_found_and_loners_stay_alone() -> None:
    rng = np.random.default_rng(0)
    centres = _unit(rng.normal(size=(5, 64)))
    group_members = np.repeat(centres, 3, axis=0) + 0.02 * rng.normal(size=(15, 64))
    loners = rng.normal(size=(30, 64))
    vectors = _unit(np.vstack([group_members, loners]))
    grouper = NearDuplicateGrouper(threshold=0.9).fit(knn_graph(vectors, 10), vectors)
    labels = grouper.labels_
    for g in range(5):
        assert len(set(labels[3 * g : 3 * g + 3])) == 1
        assert labels[3 * g] >= 0
    assert len(set(labels[:15])) == 5
    assert (labels[15:] == -1).all()
    assert all(labels[medoid] == group for group, medoid in grouper.medoids_.items())


def test_a_chain_is_cut_where_members_drift_from_the_medoid() -> None:
    """a~b, b~c, c~d above the threshold, but a and d far apart: not one group."""
    angles = np.radians([0, 20, 40, 60])
    vectors = _unit(np.stack([np.cos(angles), np.sin(angles)], axis=1))
    grouper = NearDuplicateGrouper(threshold=0.9).fit(knn_graph(vectors, 4), vectors)
    labels = grouper.labels_
    assert labels[0] != labels[3] or labels[0] == -1
    for group, medoid in grouper.medoids_.items():
        members = np.flatnonzero(labels == group)
        assert (vectors[members] @ vectors[medoid] >= 0.9).all()


def test_threshold_out_of_range() -> None:
    vectors = _unit(np.eye(3))
    with pytest.raises(ParameterError, match="threshold"):
        NearDuplicateGrouper(threshold=1.5).fit(knn_graph(vectors, 3), vectors)


def test_a_long_chain_is_cut_by_leaders_without_losing_the_medoid_rule() -> None:
    """1,000 points along an arc: one component far above the exact-split size."""
    from clustering.near_duplicates import EXACT_SPLIT_MAX

    angles = np.radians(np.linspace(0, 90, 1000))
    noise = np.random.default_rng(1).normal(scale=1e-3, size=(1000, 3))
    vectors = _unit(np.stack([np.cos(angles), np.sin(angles), np.zeros(1000)], axis=1) + noise)
    graph = knn_graph(vectors, 16)
    grouper = NearDuplicateGrouper(threshold=0.9999).fit(graph, vectors)
    labels = grouper.labels_
    assert EXACT_SPLIT_MAX < 1000
    assert len(grouper.medoids_) > 10  # cut into many groups, not one chain
    for group, medoid in grouper.medoids_.items():
        members = np.flatnonzero(labels == group)
        assert len(members) >= 2
        assert (vectors[members] @ vectors[medoid] >= 0.9999 - 1e-4).all()
