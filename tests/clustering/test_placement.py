from __future__ import annotations

import numpy as np
import pytest

from clustering.placement import UNASSIGNED, nearest_labelled, place_by_vote


def test_vote_follows_the_similar_majority() -> None:
    keys = np.array([[3, 3, 5, -1]])
    sims = np.array([[0.9, 0.8, 0.7, 0.95]], dtype=np.float32)
    xy = np.array([[[1, 1], [1, 1], [5, 5], [0, 0]]], dtype=np.float32)
    [placement] = place_by_vote(keys, sims, xy, min_similarity=0.5)
    assert placement.cluster_key == 3
    assert placement.similarity == np.float32(0.9)
    assert 0 < placement.x < 5


def test_nothing_close_is_unassigned() -> None:
    keys = np.array([[3, 5]])
    sims = np.array([[0.3, 0.2]], dtype=np.float32)
    xy = np.zeros((1, 2, 2), dtype=np.float32)
    [placement] = place_by_vote(keys, sims, xy, min_similarity=0.5)
    assert placement.cluster_key == UNASSIGNED


def test_nearest_labelled_skips_unlabelled_neighbours() -> None:
    labels, sims = nearest_labelled(
        np.array([[-1, 4, 2], [-1, -1, -1]]), np.array([[1.0, 0.7, 0.9], [1, 1, 1]], np.float32)
    )
    assert labels.tolist() == [2, UNASSIGNED]
    assert sims.tolist() == [np.float32(0.9), 0.0]


def test_outlier_neighbours_are_no_vote_against_a_cluster() -> None:
    """The paraphrase of issue 10: 7 close neighbours in one cluster, 5 outliers, 4 elsewhere."""
    keys = np.array([[2] * 7 + [-1] * 5 + [4, 4, 6, 6]])
    sims = np.full((1, 16), 0.7, dtype=np.float32)
    xy = np.zeros((1, 16, 2), dtype=np.float32)
    [placement] = place_by_vote(keys, sims, xy, min_similarity=0.5)
    assert placement.cluster_key == 2
    assert placement.share == np.float32(7 / 11)  # of the clustered votes only


def test_a_single_close_member_is_not_enough() -> None:
    keys = np.array([[3, -1, -1, -1], [3, 3, -1, -1]])
    sims = np.array([[0.9, 0.8, 0.8, 0.8], [0.9, 0.6, 0.8, 0.8]], dtype=np.float32)
    xy = np.zeros((2, 4, 2), dtype=np.float32)
    first, second = place_by_vote(keys, sims, xy, min_similarity=0.5)
    assert first.cluster_key == UNASSIGNED
    assert first.share == 1.0  # the vote was unanimous, the support too thin
    assert second.cluster_key == 3


def test_a_split_vote_is_unassigned() -> None:
    keys = np.array([[1, 1, 2, 2, 3, 3]])
    sims = np.array([[0.8, 0.8, 0.8, 0.8, 0.8, 0.8]], dtype=np.float32)
    xy = np.zeros((1, 6, 2), dtype=np.float32)
    [placement] = place_by_vote(keys, sims, xy, min_similarity=0.5)
    assert placement.cluster_key == UNASSIGNED
    assert placement.share == pytest.approx(1 / 3)
