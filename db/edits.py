"""Analysts' changes to a clustering run: merge two clusters, move a question, pick a canonical.

Each change is applied to the run the analyst is looking at and recorded as a `ClusterEdit`;
`replay_edits` applies every recorded change again to each later run, inside the transaction
that writes it, so a re-clustering never undoes an analyst's work.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from db.changes import note_change
from db.errors import QclustError
from db.models import (
    Cluster,
    ClusterEdit,
    ClusterMember,
    ClusterRun,
    DuplicateGroup,
    EditKind,
)
from db.queries import IN_CHUNK

OUTLIER_KEY = -1


class EditError(QclustError):
    """An edit that does not fit the run (an unknown cluster, a question not in the run)."""


def merge_clusters(
    session: Session, run: ClusterRun, source_key: int, target_key: int, *, by: str
) -> int:
    """Put every member of `source_key` into `target_key`; returns how many moved."""
    if source_key == target_key:
        raise EditError("pick two different clusters to merge")
    _require_cluster(session, run.id, source_key)
    _require_cluster(session, run.id, target_key)
    source_members = _member_ids(session, run.id, source_key)
    # Both sides are remembered: on a later run the merged questions stay together wherever
    # that run puts them, the target's own members included.
    session.add(
        ClusterEdit(
            corpus_id=run.corpus_id,
            kind=EditKind.MERGE,
            target_key=target_key,
            member_ids=sorted(source_members + _member_ids(session, run.id, target_key)),
            created_by=by,
        )
    )
    _apply_merge(session, run.id, source_members, target_key)
    refresh_counts(session, run.id)
    note_change(session, run.corpus_id)
    return len(source_members)


def move_question(
    session: Session, run: ClusterRun, question_id: int, target_key: int, *, by: str
) -> None:
    """Move one question to another cluster, or out of every cluster (`OUTLIER_KEY`)."""
    if target_key != OUTLIER_KEY:
        _require_cluster(session, run.id, target_key)
    if _member(session, run.id, question_id) is None:
        raise EditError(f"question {question_id} is not in clustering run {run.id}")
    session.add(
        ClusterEdit(
            corpus_id=run.corpus_id,
            kind=EditKind.MOVE,
            target_key=target_key,
            question_id=question_id,
            created_by=by,
        )
    )
    _apply_move(session, run.id, question_id, target_key)
    refresh_counts(session, run.id)
    note_change(session, run.corpus_id)


def mark_canonical(session: Session, run: ClusterRun, question_id: int, *, by: str) -> None:
    """Make the question the canonical one of its near-duplicate group."""
    member = _member(session, run.id, question_id)
    if member is None or member.group_id is None:
        raise EditError(f"question {question_id} is in no near-duplicate group of run {run.id}")
    session.add(
        ClusterEdit(
            corpus_id=run.corpus_id,
            kind=EditKind.CANONICAL,
            question_id=question_id,
            created_by=by,
        )
    )
    _apply_canonical(session, run.id, question_id)
    note_change(session, run.corpus_id)


def replay_edits(session: Session, run: ClusterRun) -> int:
    """Apply the corpus's recorded edits, oldest first, to a new run; returns how many applied.

    An edit that no longer fits (its question is gone, its target cluster dissolved) is skipped.
    """
    edits = session.scalars(
        select(ClusterEdit)
        .where(ClusterEdit.corpus_id == run.corpus_id)
        .order_by(ClusterEdit.created_at, ClusterEdit.id)
    ).all()
    applied = 0
    for edit in edits:
        if edit.kind is EditKind.MERGE and edit.target_key is not None:
            applied += _apply_merge(session, run.id, edit.member_ids or [], edit.target_key)
        elif edit.kind is EditKind.MOVE and edit.question_id is not None:
            if edit.target_key is not None:
                applied += _apply_move(session, run.id, edit.question_id, edit.target_key)
        elif edit.kind is EditKind.CANONICAL and edit.question_id is not None:
            applied += _apply_canonical(session, run.id, edit.question_id)
    if applied:
        refresh_counts(session, run.id)
    return applied


def _apply_merge(session: Session, run_id: int, member_ids: list[int], target_key: int) -> bool:
    """Bring every remembered member of a merge into one cluster of this run, whatever it found.

    Clusters made mostly of remembered members join the target whole (so their new members
    follow); remembered members the run put anywhere else, outliers included, join it one by
    one. When the target cluster is gone, the cluster holding most of them takes its place.
    """
    remembered = sorted(set(member_ids))
    if not remembered:
        return False
    hits = _clusters_holding(session, run_id, remembered)
    target = target_key if _cluster(session, run_id, target_key) is not None else None
    if target is None:
        if not hits:
            return False
        target = max(hits, key=lambda key: (hits[key], -key))
    sizes = _sizes(session, run_id)
    sources = [
        key for key, count in hits.items() if key != target and count * 2 > sizes.get(key, 0)
    ]
    changed = False
    if sources:
        session.execute(
            update(ClusterMember)
            .where(ClusterMember.run_id == run_id, ClusterMember.cluster_key.in_(sources))
            .values(cluster_key=target)
        )
        session.execute(delete(Cluster).where(Cluster.run_id == run_id, Cluster.key.in_(sources)))
        changed = True
    for start in range(0, len(remembered), IN_CHUNK):
        result = session.execute(
            update(ClusterMember)
            .where(
                ClusterMember.run_id == run_id,
                ClusterMember.cluster_key != target,
                ClusterMember.question_id.in_(remembered[start : start + IN_CHUNK]),
            )
            .values(cluster_key=target, nearest_key=None, nearest_similarity=None)
        )
        changed = changed or bool(result.rowcount)  # type: ignore[attr-defined]
    return changed


def _clusters_holding(session: Session, run_id: int, question_ids: list[int]) -> Counter[int]:
    """How many of the questions each cluster of the run holds (outliers not counted)."""
    hits: Counter[int] = Counter()
    for start in range(0, len(question_ids), IN_CHUNK):  # a big cluster's ids, in slices
        rows = session.execute(
            select(ClusterMember.cluster_key, func.count())
            .where(
                ClusterMember.run_id == run_id,
                ClusterMember.cluster_key != OUTLIER_KEY,
                ClusterMember.question_id.in_(question_ids[start : start + IN_CHUNK]),
            )
            .group_by(ClusterMember.cluster_key)
        )
        hits.update({int(key): int(count) for key, count in rows})
    return hits


def _apply_move(session: Session, run_id: int, question_id: int, target_key: int) -> bool:
    if target_key != OUTLIER_KEY and _cluster(session, run_id, target_key) is None:
        return False
    member = _member(session, run_id, question_id)
    if member is None or member.cluster_key == target_key:
        return False
    member.cluster_key = target_key
    # Put there by hand: full strength in a cluster; out of one, nothing to attach it to.
    member.strength = 1.0 if target_key != OUTLIER_KEY else 0.0
    member.nearest_key = member.nearest_similarity = None
    session.flush()
    return True


def _apply_canonical(session: Session, run_id: int, question_id: int) -> bool:
    member = _member(session, run_id, question_id)
    if member is None or member.group_id is None:
        return False
    group = session.get_one(DuplicateGroup, member.group_id)
    group.canonical_id = question_id
    session.flush()
    return True


def refresh_counts(session: Session, run_id: int) -> None:
    """Cluster sizes, emptied clusters, the run's cluster count and noise share, after edits."""
    session.flush()
    sizes = _sizes(session, run_id)
    for cluster in session.scalars(select(Cluster).where(Cluster.run_id == run_id)):
        if sizes.get(cluster.key, 0) == 0:
            session.delete(cluster)
        else:
            cluster.size = sizes[cluster.key]
    session.flush()
    run = session.get_one(ClusterRun, run_id)
    total = sum(sizes.values())
    run.cluster_count = len([key for key in sizes if key != OUTLIER_KEY])
    run.noise_share = sizes.get(OUTLIER_KEY, 0) / total if total else 0.0


def _sizes(session: Session, run_id: int) -> dict[int, int]:
    rows = session.execute(
        select(ClusterMember.cluster_key, func.count())
        .where(ClusterMember.run_id == run_id, ClusterMember.placed.is_(False))
        .group_by(ClusterMember.cluster_key)
    ).all()
    return {int(key): int(count) for key, count in rows}


def _member_ids(session: Session, run_id: int, key: int) -> list[int]:
    return list(
        session.scalars(
            select(ClusterMember.question_id).where(
                ClusterMember.run_id == run_id, ClusterMember.cluster_key == key
            )
        )
    )


def _cluster(session: Session, run_id: int, key: int) -> Cluster | None:
    return session.scalar(select(Cluster).where(Cluster.run_id == run_id, Cluster.key == key))


def _require_cluster(session: Session, run_id: int, key: int) -> Cluster:
    cluster = _cluster(session, run_id, key)
    if cluster is None:
        raise EditError(f"clustering run {run_id} has no cluster {key}")
    return cluster


def _member(session: Session, run_id: int, question_id: int) -> ClusterMember | None:
    return session.get(ClusterMember, (run_id, question_id))
