"""Read queries for the web UI's pages. Each takes a `Session` first; callers own transactions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, aliased

from db.cluster_queries import run_number
from db.models import ClusterMember, ClusterRun, Corpus, DuplicateGroup, Question, RunStatus
from db.queries import IN_CHUNK
from db.sampling import bound_integers, seeded_ids

# Fibonacci hashing: id * 2^32/phi mod 2^32 spreads consecutive ids evenly over [0, 2^32), so
# "the n smallest hashes" is a fixed, uniform sample that both SQLite and PostgreSQL compute.
_HASH_MULTIPLIER = 2_654_435_761
_HASH_MODULUS = 2**32
_SAMPLE_MARGIN = 1.1


@dataclass(frozen=True)
class RunOverview:
    run_id: int
    finished_at: datetime | None
    cluster_count: int
    noise_share: float
    question_count: int
    number: int = 0  # among the corpus's runs: what people are shown


def latest_runs_by_corpus(session: Session) -> dict[str, RunOverview]:
    """Corpus name -> its newest finished clustering run, for corpora that have one."""
    newest = (
        select(ClusterRun.corpus_id, func.max(ClusterRun.id).label("run_id"))
        .where(ClusterRun.status == RunStatus.DONE)
        .group_by(ClusterRun.corpus_id)
        .subquery()
    )
    rows = session.execute(
        select(Corpus.name, ClusterRun)
        .join(newest, newest.c.corpus_id == Corpus.id)
        .join(ClusterRun, ClusterRun.id == newest.c.run_id)
    ).all()
    return {
        name: RunOverview(
            run.id,
            run.finished_at,
            run.cluster_count,
            run.noise_share,
            run.question_count,
            run_number(session, run),
        )  # fmt: skip
        for name, run in rows
    }


def run_member_count(session: Session, run_id: int, key: int | None = None) -> int:
    """Questions a run placed (in one cluster when `key` is given; -1: the outliers)."""
    query = select(func.count()).where(ClusterMember.run_id == run_id)
    if key is not None:
        query = query.where(ClusterMember.cluster_key == key)
    return session.scalar(query) or 0


@dataclass(frozen=True)
class MapPoint:
    question_id: int
    x: float
    y: float
    cluster_key: int
    text: str
    meta: dict[str, Any] | None = None  # the file's own columns, as stored at ingest


def _sample_hash(seed: int) -> ColumnElement[int]:
    # The seed turns the circle of hashes by seed * multiplier: another arc, another sample.
    return ((ClusterMember.question_id + seed) * _HASH_MULTIPLIER) % _HASH_MODULUS


def map_points(
    session: Session, run_id: int, *, limit: int, seed: int = 0, total: int | None = None
) -> list[MapPoint]:
    """Map positions of a run's questions: all of them, or a fixed uniform sample of `limit`
    (`total`: the run's member count, when the caller has just counted them)."""
    total = run_member_count(session, run_id) if total is None else total
    query = (
        select(
            ClusterMember.question_id,
            ClusterMember.x,
            ClusterMember.y,
            ClusterMember.cluster_key,
            Question.text,
            Question.meta,
        )
        .join(Question, ClusterMember.question_id == Question.id)
        .where(ClusterMember.run_id == run_id)
    )
    if total <= limit:
        rows = session.execute(query.order_by(ClusterMember.question_id)).all()
        return [MapPoint(*row) for row in rows]
    # Seeded index seeks into the run's ids: at a million members, ordering every member by a
    # hash (the way below) took about 2 s of the Map page's first open.
    drawn = seeded_ids(
        session, ClusterMember.question_id, (ClusterMember.run_id == run_id,),
        int(limit * _SAMPLE_MARGIN) + 16, seed=seed,
    )  # fmt: skip
    if len(drawn) >= limit:
        table, chosen, _ = bound_integers(session, drawn[:limit])
        picked = query.where(ClusterMember.question_id.in_(select(chosen).select_from(table)))
        rows = session.execute(picked.order_by(ClusterMember.question_id)).all()
        return [MapPoint(*row) for row in rows]
    # Ids too sparse for the seeks to find `limit` of them: every member's hash, in order. The
    # cut-off keeps the sort small; the margin nearly always leaves `limit` rows, and the query
    # without it covers the rare case it does not.
    hashed = _sample_hash(seed)
    cutoff = int(_HASH_MODULUS * min(1.0, _SAMPLE_MARGIN * limit / total))
    sampled = query.order_by(hashed, ClusterMember.question_id).limit(limit)
    rows = session.execute(sampled.where(hashed < cutoff)).all()
    if len(rows) < limit:
        rows = session.execute(sampled).all()
    return [MapPoint(*row) for row in rows]


@dataclass(frozen=True)
class OutlierView:
    question_id: int
    text: str
    nearest_key: int | None
    nearest_similarity: float | None
    placed: bool


def outlier_members(
    session: Session, run_id: int, *, limit: int = 50, offset: int = 0
) -> list[OutlierView]:
    """The run's outliers, those closest to a cluster first (the likeliest to attach)."""
    rows = session.execute(
        select(
            ClusterMember.question_id,
            Question.text,
            ClusterMember.nearest_key,
            ClusterMember.nearest_similarity,
            ClusterMember.placed,
        )
        .join(Question, ClusterMember.question_id == Question.id)
        .where(ClusterMember.run_id == run_id, ClusterMember.cluster_key == -1)
        .order_by(ClusterMember.nearest_similarity.desc().nulls_last(), Question.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return [OutlierView(*row) for row in rows]


@dataclass(frozen=True)
class GroupView:
    group_id: int
    canonical_id: int
    canonical: str
    size: int
    members: list[str]  # the other questions of the group, canonical left out


def cluster_groups(session: Session, run_id: int, key: int, *, limit: int = 50) -> list[GroupView]:
    """Near-duplicate groups with a member in cluster `key`, largest first, with all members."""
    in_cluster = (
        select(ClusterMember.group_id)
        .where(
            ClusterMember.run_id == run_id,
            ClusterMember.cluster_key == key,
            ClusterMember.group_id.is_not(None),
        )
        .distinct()
    )
    groups = session.execute(
        select(DuplicateGroup, Question.text)
        .join(Question, DuplicateGroup.canonical_id == Question.id)
        .where(DuplicateGroup.id.in_(in_cluster))
        .order_by(DuplicateGroup.size.desc(), DuplicateGroup.id)
        .limit(limit)
    ).all()
    members: dict[int, list[str]] = {group.id: [] for group, _ in groups}
    if members:
        rows = session.execute(
            select(ClusterMember.group_id, ClusterMember.question_id, Question.text)
            .join(Question, ClusterMember.question_id == Question.id)
            .where(ClusterMember.run_id == run_id, ClusterMember.group_id.in_(list(members)))
            .order_by(Question.id)
        )
        canonical_of = {group.id: group.canonical_id for group, _ in groups}
        for group_id, question_id, text in rows:
            if group_id is not None and question_id != canonical_of[group_id]:
                members[group_id].append(text)
    return [
        GroupView(group.id, group.canonical_id, text, group.size, members[group.id])
        for group, text in groups
    ]


@dataclass(frozen=True)
class Canonical:
    group_id: int
    question_id: int
    text: str


def canonical_questions(
    session: Session, run_id: int, question_ids: Iterable[int]
) -> dict[int, Canonical]:
    """Question id -> the canonical question of its near-duplicate group in the run.

    Questions the run put in no group are left out.
    """
    canonical = aliased(Question)
    found: dict[int, Canonical] = {}
    id_list = list(dict.fromkeys(question_ids))
    for start in range(0, len(id_list), IN_CHUNK):
        chunk = id_list[start : start + IN_CHUNK]
        rows = session.execute(
            select(ClusterMember.question_id, DuplicateGroup.id, canonical.id, canonical.text)
            .join(DuplicateGroup, ClusterMember.group_id == DuplicateGroup.id)
            .join(canonical, DuplicateGroup.canonical_id == canonical.id)
            .where(ClusterMember.run_id == run_id, ClusterMember.question_id.in_(chunk))
        )
        found.update(
            (question_id, Canonical(group_id, canonical_id, text))
            for question_id, group_id, canonical_id, text in rows
        )
    return found


def question_clusters(session: Session, run_id: int, question_ids: Iterable[int]) -> dict[int, int]:
    """Question id -> its cluster key in the run (-1: an outlier); questions not in it left out."""
    found: dict[int, int] = {}
    id_list = list(dict.fromkeys(question_ids))
    for start in range(0, len(id_list), IN_CHUNK):
        rows = session.execute(
            select(ClusterMember.question_id, ClusterMember.cluster_key).where(
                ClusterMember.run_id == run_id,
                ClusterMember.question_id.in_(id_list[start : start + IN_CHUNK]),
            )
        )
        found.update((int(question_id), int(key)) for question_id, key in rows)
    return found
