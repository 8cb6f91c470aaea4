"""Queries over clustering results. Each takes a `Session` first; callers own the transaction."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from db.changes import note_change
from db.models import (
    Cluster,
    ClusterIdentity,
    ClusterMember,
    ClusterRun,
    DuplicateGroup,
    Question,
    RunStatus,
)


def latest_run(session: Session, corpus_id: int) -> ClusterRun | None:
    """The newest finished run of a corpus: the one the UI and CLI show."""
    return session.scalar(
        select(ClusterRun)
        .where(ClusterRun.corpus_id == corpus_id, ClusterRun.status == RunStatus.DONE)
        .order_by(ClusterRun.id.desc())
        .limit(1)
    )


def run_number(session: Session, run: ClusterRun) -> int:
    """The run's number among its corpus's runs (1, 2, ...): what people are shown; the id is
    global across corpora."""
    return int(
        session.scalar(
            select(func.count()).where(
                ClusterRun.corpus_id == run.corpus_id, ClusterRun.id <= run.id
            )
        )
        or 0
    )


def next_cluster_key(session: Session, corpus_id: int) -> int:
    highest = session.scalar(
        select(func.max(ClusterIdentity.key)).where(ClusterIdentity.corpus_id == corpus_id)
    )
    return 0 if highest is None else highest + 1


def run_memberships(session: Session, run_id: int) -> dict[int, set[int]]:
    """Cluster key -> question ids, for the fitted (not placed) members of a run."""
    members: dict[int, set[int]] = {}
    rows = session.execute(
        select(ClusterMember.cluster_key, ClusterMember.question_id).where(
            ClusterMember.run_id == run_id,
            ClusterMember.cluster_key >= 0,
            ClusterMember.placed.is_(False),
        )
    )
    for key, question_id in rows:
        members.setdefault(key, set()).add(question_id)
    return members


def level_memberships(session: Session, run_id: int) -> list[dict[int, set[int]]]:
    """Per level (0: the topics, then coarser): cluster key -> question ids, fitted members
    only. A coarse topic holds the members of its children."""
    levels = [run_memberships(session, run_id)]
    rows = session.execute(
        select(Cluster.level, Cluster.key, Cluster.parent_key).where(Cluster.run_id == run_id)
    ).all()
    parents: dict[int, dict[int, int]] = {}
    for level, key, parent in rows:
        if parent is not None:
            parents.setdefault(level, {})[key] = parent
    level = 0
    while level in parents:
        above: dict[int, set[int]] = {}
        for key, members in levels[level].items():
            parent = parents[level].get(key)
            if parent is not None:
                above.setdefault(parent, set()).update(members)
        levels.append(above)
        level += 1
    return levels


@dataclass(frozen=True)
class ClusterView:
    key: int
    name: str
    auto_name: str
    size: int
    keywords: list[str]
    representative: str | None
    change: str
    sources: list[int]
    level: int = 0
    parent_key: int | None = None


def cluster_views(session: Session, run: ClusterRun, *, level: int = 0) -> list[ClusterView]:
    """Clusters of `run` at `level` (0: the topics questions belong to; 1, 2, ...: coarser),
    largest first, named as analysts named them (else automatically)."""
    names: dict[int, str | None] = {
        key: name
        for key, name in session.execute(
            select(ClusterIdentity.key, ClusterIdentity.name).where(
                ClusterIdentity.corpus_id == run.corpus_id
            )
        )
    }
    placed: dict[int, int] = {
        key: count
        for key, count in session.execute(
            select(ClusterMember.cluster_key, func.count())
            .where(ClusterMember.run_id == run.id, ClusterMember.placed.is_(True))
            .group_by(ClusterMember.cluster_key)
        )
    }
    rows = session.execute(
        select(Cluster, Question.text)
        .outerjoin(Question, Cluster.representative_id == Question.id)
        # An emptied coarse topic stays (an undo may fill it again) but is not shown.
        .where(Cluster.run_id == run.id, Cluster.level == level)
        .where(or_(Cluster.level == 0, Cluster.size > 0))
    ).all()
    views = [
        ClusterView(
            key=cluster.key,
            name=names.get(cluster.key) or cluster.auto_name,
            auto_name=cluster.auto_name,
            size=cluster.size + placed.get(cluster.key, 0),
            keywords=list(cluster.keywords),
            representative=text,
            change=cluster.change,
            sources=list(cluster.sources or []),
            level=cluster.level,
            parent_key=cluster.parent_key,
        )
        for cluster, text in rows
    ]
    return sorted(views, key=lambda view: (-view.size, view.key))


def level_counts(session: Session, run: ClusterRun) -> list[int]:
    """How many clusters each level of the run has shown: [topics, coarser, ...]."""
    rows = session.execute(
        select(Cluster.level, func.count())
        .where(Cluster.run_id == run.id, or_(Cluster.level == 0, Cluster.size > 0))
        .group_by(Cluster.level)
        .order_by(Cluster.level)
    ).all()
    counts = dict((int(level), int(count)) for level, count in rows)
    return [counts.get(level, 0) for level in range(max(counts, default=0) + 1)]


def coarse_ancestry(
    session: Session, run: ClusterRun
) -> list[tuple[dict[int, int], dict[int, str]]]:
    """Per level above the topics: topic key -> key of the cluster holding it there, and that
    level's names."""
    levels = len(level_counts(session, run))
    views = [cluster_views(session, run, level=level) for level in range(levels)]
    mapping = {view.key: view.key for view in views[0]} if views else {}
    found: list[tuple[dict[int, int], dict[int, str]]] = []
    for level in range(1, levels):
        above = {v.key: v.parent_key for v in views[level - 1] if v.parent_key is not None}
        mapping = {topic: above[held] for topic, held in mapping.items() if held in above}
        found.append((mapping, {view.key: view.name for view in views[level]}))
    return found


def cluster_path(session: Session, run: ClusterRun, key: int) -> list[ClusterView]:
    """The cluster and the coarse topics above it, coarsest first; empty for an unknown key."""
    views = {
        view.key: view
        for level in range(len(level_counts(session, run)))
        for view in cluster_views(session, run, level=level)
    }
    path: list[ClusterView] = []
    current = views.get(key)
    while current is not None and current not in path:
        path.insert(0, current)
        current = views.get(current.parent_key) if current.parent_key is not None else None
    return path


def child_views(session: Session, run: ClusterRun, key: int, level: int) -> list[ClusterView]:
    """The clusters one level below cluster `key` (of `level`) that it holds, largest first."""
    if level <= 0:
        return []
    return [view for view in cluster_views(session, run, level=level - 1) if view.parent_key == key]


@dataclass(frozen=True)
class MemberView:
    question_id: int
    text: str
    strength: float
    centrality: float
    placed: bool
    group_id: int | None


def cluster_members(
    session: Session, run_id: int, key: int, *, limit: int = 100, offset: int = 0
) -> list[MemberView]:
    """Members of one cluster (key -1: the outliers), most central first."""
    rows = session.execute(
        select(ClusterMember, Question.text)
        .join(Question, ClusterMember.question_id == Question.id)
        .where(ClusterMember.run_id == run_id, ClusterMember.cluster_key == key)
        .order_by(ClusterMember.placed, ClusterMember.centrality.desc(), Question.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return [
        MemberView(m.question_id, text, m.strength, m.centrality, m.placed, m.group_id)
        for m, text in rows
    ]


def duplicate_groups(session: Session, run_id: int, *, limit: int = 100) -> list[DuplicateGroup]:
    return list(
        session.scalars(
            select(DuplicateGroup)
            .where(DuplicateGroup.run_id == run_id)
            .order_by(DuplicateGroup.size.desc(), DuplicateGroup.id)
            .limit(limit)
        )
    )


def placed_question_ids(session: Session, run_id: int) -> set[int]:
    return set(
        session.scalars(select(ClusterMember.question_id).where(ClusterMember.run_id == run_id))
    )


def rename_cluster(session: Session, corpus_id: int, key: int, name: str | None) -> None:
    identity = session.scalar(
        select(ClusterIdentity).where(
            ClusterIdentity.corpus_id == corpus_id, ClusterIdentity.key == key
        )
    )
    if identity is None:
        raise KeyError(key)
    identity.name = name.strip() if name and name.strip() else None
    note_change(session, corpus_id)
