"""Placing questions into existing clusters by a vote of their nearest neighbours.

Used for outliers (which cluster is nearest, and how near) and for questions ingested after a
run (which cluster they join until the next full run, or none when nothing is close).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

UNASSIGNED = -1


@dataclass(frozen=True)
class Placement:
    cluster_key: int  # UNASSIGNED when no cluster is close or the vote is split
    share: float  # the winning cluster's share of the similarity-weighted vote
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
    min_share: float = 0.5,
) -> list[Placement]:
    """One placement per row of (m, k) neighbour keys and similarities, (m, k, 2) positions."""
    placements = []
    for keys, sims, xy in zip(neighbour_keys, neighbour_sims, neighbour_xy, strict=True):
        close = sims >= min_similarity
        weights = np.maximum(sims, 1e-6)
        x, y = (weights[:, None] * xy).sum(axis=0) / weights.sum()
        votes: dict[int, float] = {}
        for key, sim in zip(keys[close & (keys >= 0)], sims[close & (keys >= 0)], strict=True):
            votes[int(key)] = votes.get(int(key), 0.0) + float(sim)
        total = float(sims[close].sum())
        if not votes or total <= 0:
            placements.append(Placement(UNASSIGNED, 0.0, float(sims.max(initial=0.0)), x, y))
            continue
        winner = max(votes, key=lambda k: votes[k])
        share = votes[winner] / total
        best_sim = float(sims[keys == winner].max())
        key = winner if share >= min_share else UNASSIGNED
        placements.append(Placement(key, share, best_sim, float(x), float(y)))
    return placements
