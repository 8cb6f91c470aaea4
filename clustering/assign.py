"""Between full runs: put newly ingested questions into the latest run's clusters, and attach
outliers an analyst accepts, without re-fitting anything."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from clustering.pipeline import load_corpus_vectors
from clustering.placement import UNASSIGNED, place_by_vote
from db.changes import note_change
from db.cluster_queries import latest_run
from db.edits import refresh_counts
from db.models import ClusterMember
from db.queries import get_corpus
from db.settings import Settings
from indexer.index import search

NEIGHBOURS = 15
MIN_SIMILARITY = 0.5


@dataclass(frozen=True)
class AssignReport:
    placed: int = 0
    unassigned: int = 0


def place_new_questions(
    corpus_name: str,
    *,
    settings: Settings,
    sessions: sessionmaker[Session],
    min_similarity: float = MIN_SIMILARITY,
) -> AssignReport:
    """Questions of the corpus that the latest run has not seen join a cluster by neighbour vote
    (or stay unassigned, key -1, when nothing is close)."""
    with sessions() as session:
        corpus_id = get_corpus(session, corpus_name).id
        run = latest_run(session, corpus_id)
        if run is None:
            return AssignReport()
        known = {
            question_id: (key, x, y)
            for question_id, key, x, y in session.execute(
                select(
                    ClusterMember.question_id, ClusterMember.cluster_key, ClusterMember.x,
                    ClusterMember.y,
                ).where(ClusterMember.run_id == run.id)
            )
        }  # fmt: skip
        run_id = run.id
    data = load_corpus_vectors(sessions, settings, corpus_name)
    new_rows = np.flatnonzero([int(i) not in known for i in data.ids])
    if not len(new_rows):
        return AssignReport()
    sims, neighbour_ids = search(data.index, data.vectors[new_rows], NEIGHBOURS + 1)
    fitted = [[known.get(int(i)) for i in row] for row in neighbour_ids]
    keys = np.array([[f[0] if f else UNASSIGNED for f in row] for row in fitted], dtype=np.int64)
    xy = np.array([[(f[1], f[2]) if f else (0.0, 0.0) for f in row] for row in fitted])
    sims = np.where([[f is not None for f in row] for row in fitted], sims, -1.0)
    placements = place_by_vote(
        keys, sims.astype(np.float32), xy.astype(np.float32), min_similarity=min_similarity
    )
    rows = [
        {
            "run_id": run_id,
            "question_id": int(data.ids[row]),
            "cluster_key": placement.cluster_key,
            "strength": placement.share,
            "centrality": placement.similarity,
            "x": placement.x,
            "y": placement.y,
            "nearest_similarity": placement.similarity,
            "placed": True,
        }
        for row, placement in zip(new_rows, placements, strict=True)
    ]
    with sessions.begin() as session:
        session.execute(insert(ClusterMember), rows)
    unassigned = sum(p.cluster_key == UNASSIGNED for p in placements)
    return AssignReport(placed=len(rows) - unassigned, unassigned=unassigned)


def attach_outliers(
    corpus_name: str, *, sessions: sessionmaker[Session], min_similarity: float
) -> int:
    """Move the latest run's outliers into their nearest cluster when at least this similar."""
    with sessions.begin() as session:
        corpus_id = get_corpus(session, corpus_name).id
        run = latest_run(session, corpus_id)
        if run is None:
            return 0
        result = session.execute(
            update(ClusterMember)
            .where(
                ClusterMember.run_id == run.id,
                ClusterMember.cluster_key == UNASSIGNED,
                ClusterMember.nearest_key.is_not(None),
                ClusterMember.nearest_similarity >= min_similarity,
            )
            .values(cluster_key=ClusterMember.nearest_key, placed=True)
        )
        moved = int(result.rowcount or 0)  # type: ignore[attr-defined]
        if moved:
            refresh_counts(session, run.id)  # sizes and the noise share say what happened
            note_change(session, corpus_id)
        return moved
