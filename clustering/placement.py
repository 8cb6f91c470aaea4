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
    placements = []
    for keys, sims, xy in zip(neighbour_keys, neighbour_sims, neighbour_xy, strict=True):
        weights = np.maximum(sims, 1e-6)
        x, y = (weights[:, None] * xy).sum(axis=0) / weights.sum()
        voting = (sims >= min_similarity) & (keys >= 0)
        if not voting.any():
            placements.append(
                Placement(UNASSIGNED, 0.0, float(sims.max(initial=0.0)), float(x), float(y))
            )
            continue
        voter_keys, voter_sims = keys[voting], sims[voting].astype(np.float64)
        candidates = np.unique(voter_keys)
        votes = np.array([voter_sims[voter_keys == key].sum() for key in candidates])
        best = int(np.argmax(votes))
        winner = int(candidates[best])
        share = float(votes[best] / voter_sims.sum())
        supporters = int(np.count_nonzero(voter_keys == winner))
        best_sim = float(sims[keys == winner].max())
        placed = share >= min_share and supporters >= min_votes
        placements.append(
            Placement(winner if placed else UNASSIGNED, share, best_sim, float(x), float(y))
        )
    return placements
