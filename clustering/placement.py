"""Placing questions into existing clusters by a vote of their nearest neighbours.

Used for outliers (which cluster is nearest, and how near) and for questions ingested after a
run (which cluster they join until the next full run, or none when nothing is close).

Only neighbours that belong to a cluster vote. An outlier neighbour is the absence of a
cluster, not a vote against one: counting it in the denominator left a paraphrase with seven
neighbours in one cluster and five outliers unplaced. A winner still needs `min_votes` close
members of its own, so one stray neighbour cannot pull a question into a cluster.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

UNASSIGNED = -1
MIN_SHARE = 0.5
MIN_VOTES = 2
_VOTE_CHUNK = 16_384


@dataclass(frozen=True)
class Placement:
    cluster_key: int  # UNASSIGNED when no cluster is close or the vote is split
    share: float  # the winning cluster's share of the clustered neighbours' weighted vote
    similarity: float  # to the most similar neighbour in that cluster
    x: float
    y: float


def nearest_labelled(
    neighbour_labels: npt.NDArray[np.int64], neighbour_sims: npt.NDArray[np.float32]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Per row: the label of the most similar neighbour that has one, and that similarity."""
    masked = np.where(neighbour_labels >= 0, neighbour_sims, -np.inf)
    best = np.argmax(masked, axis=1)
    rows = np.arange(len(best))
    found = np.isfinite(masked[rows, best])
    labels = np.where(found, neighbour_labels[rows, best], UNASSIGNED)
    sims = np.where(found, masked[rows, best], 0.0).astype(np.float32)
    return labels.astype(np.int64), sims


def place_by_vote(
    neighbour_keys: npt.NDArray[np.int64],
    neighbour_sims: npt.NDArray[np.float32],
    neighbour_xy: npt.NDArray[np.float32],
    *,
    min_similarity: float,
    min_share: float = MIN_SHARE,
    min_votes: int = MIN_VOTES,
) -> list[Placement]:
    """One placement per row of (m, k) neighbour keys and similarities, (m, k, 2) positions.

    A row joins the cluster with the largest similarity-weighted vote among its neighbours
    that are at least `min_similarity` close and in a cluster, when that cluster holds at
    least `min_share` of those votes and `min_votes` of those neighbours.
    """
    found = place_all(
        neighbour_keys, neighbour_sims, neighbour_xy,
        min_similarity=min_similarity, min_share=min_share, min_votes=min_votes,
    )  # fmt: skip
    return [
        Placement(int(key), float(share), float(similarity), float(x), float(y))
        for key, share, similarity, (x, y) in zip(
            found.keys, found.shares, found.similarities, found.xy, strict=True
        )
    ]


@dataclass(frozen=True)
class Placements:
    """`place_by_vote` as arrays, one entry per row: for millions of rows at once."""

    keys: npt.NDArray[np.int64]
    shares: npt.NDArray[np.float32]
    similarities: npt.NDArray[np.float32]
    xy: npt.NDArray[np.float32]  # (m, 2): the similarity-weighted mean of the neighbours'


def place_all(
    neighbour_keys: npt.NDArray[np.int64],
    neighbour_sims: npt.NDArray[np.float32],
    neighbour_xy: npt.NDArray[np.float32],
    *,
    min_similarity: float,
    min_share: float = MIN_SHARE,
    min_votes: int = MIN_VOTES,
) -> Placements:
    """The vote of `place_by_vote`, vectorised over rows in chunks (ties go to the lower key)."""
    m = len(neighbour_keys)
    keys = np.full(m, UNASSIGNED, dtype=np.int64)
    shares = np.zeros(m, dtype=np.float32)
    similarities = np.zeros(m, dtype=np.float32)
    xy = np.zeros((m, 2), dtype=np.float32)
    for start in range(0, m, _VOTE_CHUNK):
        rows = slice(start, min(m, start + _VOTE_CHUNK))
        chunk_keys, sims = neighbour_keys[rows], neighbour_sims[rows].astype(np.float64)
        weights = np.maximum(sims, 1e-6)
        xy[rows] = (weights[..., None] * neighbour_xy[rows]).sum(axis=1) / weights.sum(
            axis=1, keepdims=True
        )
        voting = (sims >= min_similarity) & (chunk_keys >= 0)
        voter_sims = np.where(voting, sims, 0.0)
        same_key = chunk_keys[:, :, None] == chunk_keys[:, None, :]
        votes = np.where(voting, (same_key * voter_sims[:, None, :]).sum(axis=2), -np.inf)
        top = votes.max(axis=1)
        winner = np.where(votes == top[:, None], chunk_keys, np.iinfo(np.int64).max).min(axis=1)
        any_vote = voting.any(axis=1)
        winner = np.where(any_vote, winner, UNASSIGNED)
        total = voter_sims.sum(axis=1)
        share = np.where(any_vote, top / np.where(any_vote, total, 1.0), 0.0)
        of_winner = chunk_keys == winner[:, None]
        supporters = (of_winner & voting).sum(axis=1)
        best_sim = np.where(of_winner, sims, -np.inf).max(axis=1)
        placed = any_vote & (share >= min_share) & (supporters >= min_votes)
        keys[rows] = np.where(placed, winner, UNASSIGNED)
        shares[rows] = share
        similarities[rows] = np.where(any_vote, best_sim, np.maximum(sims.max(axis=1), 0.0))
    return Placements(keys, shares, similarities, xy)
