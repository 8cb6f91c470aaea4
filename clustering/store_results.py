"""Writing a clustering run to the database: all of it in one transaction, or marked failed.

The analysts' recorded edits (merges, moves, canonical picks) are replayed in that same
transaction, so no one ever sees a run without them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from clustering.tracking import Tracking
from db.changes import note_change
from db.edits import replay_edits
from db.faults import fault_point
from db.models import (
    Cluster,
    ClusterIdentity,
    ClusterMember,
    ClusterRun,
    DuplicateGroup,
    RunStatus,
    utcnow,
)
from db.runs import close_abandoned_runs, owner_fields

_MEMBER_BATCH = 20_000


@dataclass(frozen=True)
class RunResult:
    """Everything a run found, by row of the corpus's vector matrix."""

    ids: npt.NDArray[np.int64]
    labels: npt.NDArray[np.int64]
    strengths: npt.NDArray[np.float32]
    centrality: npt.NDArray[np.float32]
    coordinates: npt.NDArray[np.float32]
    group_labels: npt.NDArray[np.int64]
    group_medoids: dict[int, int]
    nearest: tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]
    keywords: dict[int, list[str]]
    names: dict[int, str]
    representatives: dict[int, int]  # label -> row
    tracking: Tracking
    levels: list[LevelResult] = field(default_factory=list)  # coarse topics, finest first
    min_cluster_size: int | None = None  # the topic level's, as chosen or given
    level_scores: dict[int, float] = field(default_factory=dict)  # candidate size -> coherence
    topic_sample: int | None = None  # questions the topics were fitted on, when sampled


@dataclass(frozen=True)
class LevelResult:
    """One level of coarse topics: each cluster of the level below goes into one of them."""

    parents: dict[int, int]  # label in the level below -> label here
    labels: npt.NDArray[np.int64]  # per row: label here (-1: outlier)
    keywords: dict[int, list[str]]
    names: dict[int, str]
    representatives: dict[int, int]  # label -> row
    tracking: Tracking


def start_run(
    sessions: sessionmaker[Session], corpus_id: int, encoder_id: int, params: dict[str, Any]
) -> int:
    with sessions.begin() as session:
        close_abandoned_runs(session, corpus_id)
        run = ClusterRun(
            corpus_id=corpus_id, encoder_id=encoder_id, status=RunStatus.RUNNING, params=params,
            **owner_fields(),
        )  # fmt: skip
        session.add(run)
        session.flush()
        return run.id


def mark_failed(sessions: sessionmaker[Session], run_id: int, message: str) -> None:
    with sessions.begin() as session:
        run = session.get_one(ClusterRun, run_id)
        run.status, run.message, run.finished_at = RunStatus.FAILED, message, utcnow()


def write_run(
    sessions: sessionmaker[Session],
    run_id: int,
    corpus_id: int,
    result: RunResult,
    seconds: float,
) -> None:
    with sessions.begin() as session:
        keys, *level_keys = _fresh_keys(
            session, corpus_id, [result.tracking, *(level.tracking for level in result.levels)]
        )
        _write_identities(session, run_id, corpus_id, [keys, *level_keys])
        _write_clusters(session, run_id, result, keys, level_keys)
        group_ids = _write_groups(session, run_id, result)
        _write_members(session, run_id, result, keys, group_ids)
        run = session.get_one(ClusterRun, run_id)
        run.status, run.finished_at, run.seconds = RunStatus.DONE, utcnow(), seconds
        run.question_count = len(result.ids)
        run.cluster_count = len(keys)
        run.noise_share = float(np.mean(result.labels < 0)) if len(result.labels) else 0.0
        run.group_count = len(group_ids)
        run.params = {
            **run.params,
            "chosen_min_cluster_size": result.min_cluster_size,
            "level_scores": {
                str(size): round(score, 6) for size, score in result.level_scores.items()
            },
            "fitted_on_sample": result.topic_sample,
        }
        run.changes = {
            "gone": result.tracking.gone,
            "merged_into": {str(k): v for k, v in result.tracking.merged_into.items()},
        }
        replay_edits(session, run)
        note_change(session, corpus_id)
        fault_point("cluster:writing")  # inside the transaction: a kill here writes nothing


def _fresh_keys(
    session: Session, corpus_id: int, trackings: Sequence[Tracking]
) -> list[dict[int, int]]:
    """Label -> key for each level, with the keys issued for new clusters moved past any an
    analyst took while this run was working (a cluster made by hand gets the next key too)."""
    taken = set(
        session.scalars(select(ClusterIdentity.key).where(ClusterIdentity.corpus_id == corpus_id))
    )
    levels = [{label: c.key for label, c in t.clusters.items()} for t in trackings]
    next_key = max([*taken, *(key for keys in levels for key in keys.values()), -1]) + 1
    for tracking, keys in zip(trackings, levels, strict=True):
        for label, tracked in sorted(tracking.clusters.items()):
            issued = tracked.change == "new" or (
                tracked.change == "split" and tracked.key not in tracked.sources
            )
            if issued and tracked.key in taken:
                keys[label], next_key = next_key, next_key + 1
    return levels


def _write_identities(
    session: Session, run_id: int, corpus_id: int, levels: Sequence[dict[int, int]]
) -> None:
    existing = set(
        session.scalars(select(ClusterIdentity.key).where(ClusterIdentity.corpus_id == corpus_id))
    )
    new = [
        {"corpus_id": corpus_id, "key": key, "created_run_id": run_id}
        for key in sorted({key for keys in levels for key in keys.values()})
        if key not in existing
    ]
    if new:
        session.execute(insert(ClusterIdentity), new)


def _write_clusters(
    session: Session,
    run_id: int,
    result: RunResult,
    keys: dict[int, int],
    level_keys: Sequence[dict[int, int]],
) -> None:
    """The topics (level 0) and the coarse topics above them, each with its parent's key."""
    found = [
        (result.labels, result.names, result.keywords, result.representatives,
         result.tracking, keys),
        *((level.labels, level.names, level.keywords, level.representatives, level.tracking,
           level_keys[number]) for number, level in enumerate(result.levels)),
    ]  # fmt: skip
    rows = []
    for level, (labels, names, keywords, central, tracking, own) in enumerate(found):
        sizes = np.bincount(labels[labels >= 0], minlength=len(own))
        above = result.levels[level].parents if level < len(result.levels) else {}
        parent_keys = level_keys[level] if level < len(result.levels) else {}
        rows += [
            {
                "run_id": run_id,
                "key": key,
                "level": level,
                "parent_key": parent_keys[above[label]] if label in above else None,
                "size": int(sizes[label]),
                "auto_name": names.get(label, "(unnamed)"),
                "keywords": keywords.get(label, []),
                "representative_id": int(result.ids[central[label]]),
                "change": tracking.clusters[label].change,
                "sources": tracking.clusters[label].sources or None,
            }
            for label, key in own.items()
        ]
    if rows:
        session.execute(insert(Cluster), rows)


def _write_groups(session: Session, run_id: int, result: RunResult) -> dict[int, int]:
    """Insert the duplicate groups; returns group label -> database id."""
    labels = sorted(result.group_medoids)
    if not labels:
        return {}
    sizes = np.bincount(result.group_labels[result.group_labels >= 0])
    rows = [
        {
            "run_id": run_id,
            "canonical_id": int(result.ids[result.group_medoids[label]]),
            "size": int(sizes[label]),
        }
        for label in labels
    ]
    ids = session.scalars(
        insert(DuplicateGroup).returning(DuplicateGroup.id, sort_by_parameter_order=True), rows
    ).all()
    return dict(zip(labels, ids, strict=True))


def _write_members(
    session: Session,
    run_id: int,
    result: RunResult,
    keys: dict[int, int],
    group_ids: dict[int, int],
) -> None:
    nearest_labels, nearest_sims = result.nearest
    batch: list[dict[str, Any]] = []
    for row, question_id in enumerate(result.ids.tolist()):
        label, group = int(result.labels[row]), int(result.group_labels[row])
        nearest = int(nearest_labels[row])
        outlier = label < 0
        batch.append(
            {
                "run_id": run_id,
                "question_id": question_id,
                "cluster_key": keys[label] if label >= 0 else -1,
                "strength": float(result.strengths[row]),
                "centrality": float(result.centrality[row]),
                "group_id": group_ids.get(group) if group >= 0 else None,
                "x": float(result.coordinates[row, 0]),
                "y": float(result.coordinates[row, 1]),
                "nearest_key": keys[nearest] if outlier and nearest >= 0 else None,
                "nearest_similarity": float(nearest_sims[row])
                if outlier and nearest >= 0
                else None,
                "placed": False,
            }
        )
        if len(batch) >= _MEMBER_BATCH:
            session.execute(insert(ClusterMember), batch)
            batch = []
    if batch:
        session.execute(insert(ClusterMember), batch)
