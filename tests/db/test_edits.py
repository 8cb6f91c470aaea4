"""Analysts' edits on a real clustering run, and their replay on the next run, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from clustering.pipeline import run_clustering
from db.cluster_queries import run_memberships
from db.edits import (
    OUTLIER_KEY,
    EditError,
    mark_canonical,
    merge_clusters,
    move_question,
    replay_edits,
)
from db.models import Cluster, ClusterEdit, ClusterMember, ClusterRun, DuplicateGroup, EditKind
from db.settings import Settings
from tests.db.conftest import PARAMS, latest

pytestmark = pytest.mark.slow


def _two_clusters(session: Session, run: ClusterRun) -> tuple[int, int]:
    keys = session.scalars(
        select(Cluster.key)
        .where(Cluster.run_id == run.id, Cluster.level == 0)
        .order_by(Cluster.size.desc())
    ).all()
    return keys[-1], keys[0]  # the smallest into the largest


def test_merge_moves_every_member_and_survives_the_next_run(
    clustered: sessionmaker[Session], settings: Settings
) -> None:
    with clustered.begin() as session:
        run = latest(session)
        clusters_before = run.cluster_count
        source, target = _two_clusters(session, run)
        members = run_memberships(session, run.id)
        merged = members[source] | members[target]
        moved = merge_clusters(session, run, source, target, by="ana")
        assert moved == len(members[source])
    with clustered() as session:
        run = latest(session)
        after = run_memberships(session, run.id)
        assert source not in after
        assert after[target] == merged
        assert session.scalar(
            select(Cluster.size).where(Cluster.run_id == run.id, Cluster.key == target)
        ) == len(merged)
        assert run.cluster_count == clusters_before - 1
        edit = session.scalars(select(ClusterEdit)).one()
        assert (edit.kind, edit.target_key, edit.created_by) == (EditKind.MERGE, target, "ana")

    run_clustering("demo", settings=settings, sessions=clustered, params=PARAMS)
    with clustered() as session:
        rerun = latest(session)
        assert rerun.id != run.id
        memberships = run_memberships(session, rerun.id)
    clustered_again = {q for key, ids in memberships.items() if key != OUTLIER_KEY for q in ids}
    kept = (merged & clustered_again) - memberships.get(target, set())
    assert target in memberships
    assert not kept, "members of the merged clusters ended up elsewhere"


def _put(session: Session, run: ClusterRun, question_ids: list[int], key: int) -> None:
    session.execute(
        update(ClusterMember)
        .where(ClusterMember.run_id == run.id, ClusterMember.question_id.in_(question_ids))
        .values(cluster_key=key)
    )


def test_replay_gathers_the_merged_questions_wherever_a_run_put_them(
    clustered: sessionmaker[Session],
) -> None:
    """What a later run may find, made by hand: some merged questions in a third cluster, one an
    outlier, then the target cluster gone altogether. Replay gathers them every time."""
    with clustered.begin() as session:
        run = latest(session)
        source, target = _two_clusters(session, run)
        members = run_memberships(session, run.id)
        third = next(key for key in members if key not in (source, target, OUTLIER_KEY))
        merged = members[source] | members[target]
        merge_clusters(session, run, source, target, by="ana")
        scattered = sorted(merged)[:3]
        _put(session, run, scattered[:2], third)
        _put(session, run, scattered[2:], OUTLIER_KEY)
        assert replay_edits(session, run) >= 1
    with clustered.begin() as session:
        run = latest(session)
        after = run_memberships(session, run.id)
        assert merged <= after[target]
        assert after[third] == members[third]  # its own members stay where they were
        # The target dissolved: its questions now sit in the third cluster, which takes its place.
        _put(session, run, sorted(merged), third)
        session.execute(delete(Cluster).where(Cluster.run_id == run.id, Cluster.key == target))
        _put(session, run, sorted(merged)[:1], OUTLIER_KEY)
        assert replay_edits(session, run) >= 1
    with clustered() as session:
        after = run_memberships(session, latest(session).id)
        assert merged | members[third] <= after[third]
        assert target not in after


def test_moving_a_question_out_survives_the_next_run(
    clustered: sessionmaker[Session], settings: Settings
) -> None:
    with clustered.begin() as session:
        run = latest(session)
        _, target = _two_clusters(session, run)
        question = min(run_memberships(session, run.id)[target])
        noise_before = run.noise_share
        move_question(session, run, question, OUTLIER_KEY, by="ana")
    with clustered() as session:
        run = latest(session)
        assert session.get_one(ClusterMember, (run.id, question)).cluster_key == OUTLIER_KEY
        assert run.noise_share > noise_before
    run_clustering("demo", settings=settings, sessions=clustered, params=PARAMS)
    with clustered() as session:
        rerun = latest(session)
        assert session.get_one(ClusterMember, (rerun.id, question)).cluster_key == OUTLIER_KEY


def test_a_canonical_pick_survives_the_next_run(
    clustered: sessionmaker[Session], settings: Settings
) -> None:
    with clustered.begin() as session:
        run = latest(session)
        group = session.scalars(
            select(DuplicateGroup).where(DuplicateGroup.run_id == run.id)
        ).first()
        assert group is not None
        other = session.scalar(
            select(ClusterMember.question_id).where(
                ClusterMember.run_id == run.id,
                ClusterMember.group_id == group.id,
                ClusterMember.question_id != group.canonical_id,
            )
        )
        assert other is not None
        mark_canonical(session, run, other, by="ana")
        assert group.canonical_id == other
    run_clustering("demo", settings=settings, sessions=clustered, params=PARAMS)
    with clustered() as session:
        rerun = latest(session)
        group_id = session.get_one(ClusterMember, (rerun.id, other)).group_id
        assert group_id is not None
        assert session.get_one(DuplicateGroup, group_id).canonical_id == other


def test_edits_that_do_not_fit_say_why_and_change_nothing(
    clustered: sessionmaker[Session],
) -> None:
    with clustered() as session:
        run = latest(session)
        source, target = _two_clusters(session, run)
        outlier = session.scalar(
            select(ClusterMember.question_id).where(
                ClusterMember.run_id == run.id, ClusterMember.group_id.is_(None)
            )
        )
        assert outlier is not None
        with pytest.raises(EditError, match="two different clusters"):
            merge_clusters(session, run, target, target, by="ana")
        with pytest.raises(EditError, match="has no cluster 9999"):
            merge_clusters(session, run, source, 9999, by="ana")
        with pytest.raises(EditError, match="has no cluster 9999"):
            move_question(session, run, outlier, 9999, by="ana")
        with pytest.raises(EditError, match="is not in clustering run"):
            move_question(session, run, 10**9, target, by="ana")
        with pytest.raises(EditError, match="no near-duplicate group"):
            mark_canonical(session, run, outlier, by="ana")
        session.rollback()
        assert session.scalar(select(func.count()).select_from(ClusterEdit)) == 0
