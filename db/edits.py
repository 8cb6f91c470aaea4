"""Analysts' changes to a clustering run: merge two clusters, move a question, pick a canonical,
make a new cluster of chosen questions; and take the last change back.

Each change is applied to the run the analyst is looking at and recorded as a `ClusterEdit`;
`replay_edits` applies every recorded change again to each later run, inside the transaction
that writes it, so a re-clustering never undoes an analyst's work. The edit also keeps what it
replaced in its run (members' old places, clusters it emptied), which is what `undo_last_edit`
puts back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from db.changes import note_change
from db.cluster_queries import next_cluster_key
from db.errors import QclustError
from db.models import (
    Cluster,
    ClusterEdit,
    ClusterIdentity,
    ClusterMember,
    ClusterRun,
    DuplicateGroup,
    EditKind,
)
from db.queries import IN_CHUNK

OUTLIER_KEY = -1
MIN_NEW_CLUSTER = 2
_CLUSTER_FIELDS = (
    "key", "size", "auto_name", "keywords", "representative_id", "change", "sources",
    "level", "parent_key",
)  # fmt: skip


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
    edit = ClusterEdit(
        kind=EditKind.MERGE,
        target_key=target_key,
        member_ids=sorted(source_members + _member_ids(session, run.id, target_key)),
    )
    _record(
        session, run, edit, source_members, by=by,
        apply=lambda: _apply_merge(session, run.id, source_members, target_key),
    )  # fmt: skip
    return len(source_members)


def move_question(
    session: Session, run: ClusterRun, question_id: int, target_key: int, *, by: str
) -> None:
    """Move one question to another cluster, or out of every cluster (`OUTLIER_KEY`)."""
    if target_key != OUTLIER_KEY:
        _require_cluster(session, run.id, target_key)
    if _member(session, run.id, question_id) is None:
        raise EditError(f"question {question_id} is not in clustering run {run.id}")
    edit = ClusterEdit(kind=EditKind.MOVE, target_key=target_key, question_id=question_id)
    _record(
        session, run, edit, [question_id], by=by,
        apply=lambda: _apply_move(session, run.id, question_id, target_key),
    )  # fmt: skip


def mark_canonical(session: Session, run: ClusterRun, question_id: int, *, by: str) -> None:
    """Make the question the canonical one of its near-duplicate group."""
    member = _member(session, run.id, question_id)
    if member is None or member.group_id is None:
        raise EditError(f"question {question_id} is in no near-duplicate group of run {run.id}")
    group = session.get_one(DuplicateGroup, member.group_id)
    session.add(
        ClusterEdit(
            corpus_id=run.corpus_id,
            kind=EditKind.CANONICAL,
            question_id=question_id,
            created_by=by,
            run_id=run.id,
            undo={"group": group.id, "canonical": group.canonical_id},
        )
    )
    _apply_canonical(session, run.id, question_id)
    note_change(session, run.corpus_id)


def new_cluster(
    session: Session, run: ClusterRun, question_ids: Sequence[int], *, name: str, by: str
) -> int:
    """Make a cluster of the chosen questions (taken from wherever they are), named by the
    analyst; returns its key, new and stable like every cluster key."""
    ids = sorted(set(question_ids))
    name = name.strip()
    if not name:
        raise EditError("give the new cluster a name")
    if len(ids) < MIN_NEW_CLUSTER:
        raise EditError(f"a new cluster needs at least {MIN_NEW_CLUSTER} questions")
    missing = len(ids) - len(_present(session, run.id, ids))
    if missing:
        raise EditError(f"{missing:,} of the chosen questions are not in clustering run {run.id}")
    key = next_cluster_key(session, run.corpus_id)
    session.add(ClusterIdentity(corpus_id=run.corpus_id, key=key, name=name, created_run_id=run.id))
    session.flush()
    edit = ClusterEdit(kind=EditKind.NEW, target_key=key, member_ids=ids)
    _record(session, run, edit, ids, by=by, apply=lambda: _apply_new(session, run, ids, key))
    return key


def undo_last_edit(session: Session, run: ClusterRun, *, by: str) -> ClusterEdit:
    """Take back `by`'s latest change, if it is the corpus's latest and made on this run: what
    it replaced is put back and it is no longer replayed. Returns the edit taken back."""
    edits = select(ClusterEdit).where(ClusterEdit.corpus_id == run.corpus_id)
    latest = session.scalar(edits.order_by(ClusterEdit.created_at.desc(), ClusterEdit.id.desc()))
    own = session.scalar(
        edits.where(ClusterEdit.created_by == by).order_by(
            ClusterEdit.created_at.desc(), ClusterEdit.id.desc()
        )
    )
    if own is None:
        raise EditError(f"{by} has no change to the clusters to undo")
    if latest is not None and latest.id != own.id:
        raise EditError(
            f"{latest.created_by} changed the clusters after your last change; only the latest "
            "change can be undone"
        )
    if own.run_id != run.id or own.undo is None:
        raise EditError(
            "your last change was made on an earlier clustering run, which a newer one has "
            "replaced; make the opposite change instead"
        )
    _restore(session, run, own)
    session.delete(own)
    refresh_counts(session, run.id)
    note_change(session, run.corpus_id)
    return own


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
        elif edit.kind is EditKind.NEW and edit.target_key is not None:
            applied += _apply_new(session, run, edit.member_ids or [], edit.target_key)
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


def _apply_new(session: Session, run: ClusterRun, member_ids: Sequence[int], key: int) -> bool:
    """Gather the remembered questions still in the run into cluster `key`, made if this run
    has none (a later run may have kept the key for them, or spread them elsewhere)."""
    present = _present(session, run.id, member_ids)
    if len(present) < MIN_NEW_CLUSTER:
        return False
    if _cluster(session, run.id, key) is None:
        hits = _clusters_holding(session, run.id, present)
        source = _cluster(session, run.id, max(hits, key=lambda k: (hits[k], -k))) if hits else None
        identity = session.scalar(
            select(ClusterIdentity).where(
                ClusterIdentity.corpus_id == run.corpus_id, ClusterIdentity.key == key
            )
        )
        session.add(
            Cluster(
                run_id=run.id, key=key, size=len(present),
                auto_name=(identity.name if identity and identity.name else "made by an analyst"),
                keywords=[], representative_id=present[0], change="new", sources=None,
                level=0, parent_key=source.parent_key if source else None,
            )
        )  # fmt: skip
        session.flush()
    changed = False
    for start in range(0, len(present), IN_CHUNK):
        result = session.execute(
            update(ClusterMember)
            .where(
                ClusterMember.run_id == run.id,
                ClusterMember.cluster_key != key,
                ClusterMember.question_id.in_(present[start : start + IN_CHUNK]),
            )
            .values(cluster_key=key, strength=1.0, nearest_key=None, nearest_similarity=None)
        )
        changed = changed or bool(result.rowcount)  # type: ignore[attr-defined]
    return changed


def _record(
    session: Session,
    run: ClusterRun,
    edit: ClusterEdit,
    touched: Sequence[int],
    *,
    by: str,
    apply: Callable[[], object],
) -> None:
    """Apply an edit to `run` and store it with what it replaced: the touched questions' old
    places, the clusters it emptied, the clusters it made."""
    members = _member_state(session, run.id, touched)
    before = {row["key"]: row for row in _cluster_rows(session, run.id)}
    apply()
    refresh_counts(session, run.id)
    after = {row["key"] for row in _cluster_rows(session, run.id)}
    edit.corpus_id, edit.created_by, edit.run_id = run.corpus_id, by, run.id
    edit.undo = {
        "members": members,
        "removed": [row for key, row in before.items() if key not in after],
        "made": sorted(after - set(before)),
    }
    session.add(edit)
    note_change(session, run.corpus_id)


def _restore(session: Session, run: ClusterRun, edit: ClusterEdit) -> None:
    undo = edit.undo or {}
    if edit.kind is EditKind.CANONICAL:
        group = session.get(DuplicateGroup, undo.get("group"))
        if group is not None and group.run_id == run.id:
            group.canonical_id = undo["canonical"]
        return
    removed = [
        row for row in undo.get("removed", []) if _cluster(session, run.id, row["key"]) is None
    ]
    if removed:
        session.execute(insert(Cluster), [{"run_id": run.id, **row} for row in removed])
    for question_id, key, strength, nearest_key, nearest_similarity in undo.get("members", []):
        session.execute(
            update(ClusterMember)
            .where(ClusterMember.run_id == run.id, ClusterMember.question_id == question_id)
            .values(
                cluster_key=key, strength=strength, nearest_key=nearest_key,
                nearest_similarity=nearest_similarity,
            )
        )  # fmt: skip
    made = undo.get("made", [])
    if made:
        session.execute(delete(Cluster).where(Cluster.run_id == run.id, Cluster.key.in_(made)))
    if edit.kind is EditKind.NEW and edit.target_key is not None:
        # The key was issued for this edit: no run but this one ever held it.
        session.execute(
            delete(ClusterIdentity).where(
                ClusterIdentity.corpus_id == run.corpus_id, ClusterIdentity.key == edit.target_key
            )
        )


def _member_state(session: Session, run_id: int, question_ids: Sequence[int]) -> list[list[Any]]:
    """[question id, cluster key, strength, nearest key, nearest similarity] of each member."""
    ids = sorted(set(question_ids))
    state: list[list[Any]] = []
    for start in range(0, len(ids), IN_CHUNK):
        rows = session.execute(
            select(
                ClusterMember.question_id, ClusterMember.cluster_key, ClusterMember.strength,
                ClusterMember.nearest_key, ClusterMember.nearest_similarity,
            ).where(
                ClusterMember.run_id == run_id,
                ClusterMember.question_id.in_(ids[start : start + IN_CHUNK]),
            )
        )  # fmt: skip
        state += [list(row) for row in rows]
    return state


def _cluster_rows(session: Session, run_id: int) -> list[dict[str, Any]]:
    clusters = session.scalars(select(Cluster).where(Cluster.run_id == run_id, Cluster.level == 0))
    return [{name: getattr(cluster, name) for name in _CLUSTER_FIELDS} for cluster in clusters]


def _present(session: Session, run_id: int, question_ids: Sequence[int]) -> list[int]:
    """Those of the questions that are members of the run, in id order."""
    ids = sorted(set(question_ids))
    found: list[int] = []
    for start in range(0, len(ids), IN_CHUNK):
        found += session.scalars(
            select(ClusterMember.question_id).where(
                ClusterMember.run_id == run_id,
                ClusterMember.question_id.in_(ids[start : start + IN_CHUNK]),
            )
        )
    return sorted(found)


def _apply_canonical(session: Session, run_id: int, question_id: int) -> bool:
    member = _member(session, run_id, question_id)
    if member is None or member.group_id is None:
        return False
    group = session.get_one(DuplicateGroup, member.group_id)
    group.canonical_id = question_id
    session.flush()
    return True


def refresh_counts(session: Session, run_id: int) -> None:
    """Cluster sizes, emptied topics, the run's cluster count and noise share, after edits; a
    coarse topic's size is its children's (kept at 0 when emptied, so an undo finds it)."""
    session.flush()
    sizes = _sizes(session, run_id)
    held = _held(session, run_id)
    clusters = list(session.scalars(select(Cluster).where(Cluster.run_id == run_id)))
    for cluster in [c for c in clusters if c.level == 0 and c.key not in held]:
        session.delete(cluster)
        clusters.remove(cluster)
    for level in sorted({c.level for c in clusters}):
        totals = Counter[int]()
        for child in (c for c in clusters if c.level == level - 1):
            if child.parent_key is not None:
                totals[child.parent_key] += child.size
        for cluster in (c for c in clusters if c.level == level):
            cluster.size = sizes.get(cluster.key, 0) if level == 0 else totals[cluster.key]
    session.flush()
    run = session.get_one(ClusterRun, run_id)
    total = sum(sizes.values())
    run.cluster_count = len([key for key in sizes if key != OUTLIER_KEY])
    run.noise_share = sizes.get(OUTLIER_KEY, 0) / total if total else 0.0


def _held(session: Session, run_id: int) -> set[int]:
    """Keys of the topics that hold any question, placed ones included."""
    return set(
        session.scalars(
            select(ClusterMember.cluster_key).where(ClusterMember.run_id == run_id).distinct()
        )
    )


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
    """A topic of the run (level 0: the clusters questions belong to and edits act on)."""
    return session.scalar(
        select(Cluster).where(Cluster.run_id == run_id, Cluster.key == key, Cluster.level == 0)
    )


def _require_cluster(session: Session, run_id: int, key: int) -> Cluster:
    cluster = _cluster(session, run_id, key)
    if cluster is None:
        raise EditError(f"clustering run {run_id} has no cluster {key}")
    return cluster


def _member(session: Session, run_id: int, question_id: int) -> ClusterMember | None:
    return session.get(ClusterMember, (run_id, question_id))
