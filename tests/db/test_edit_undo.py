"""A cluster made by hand from chosen questions, and undoing the last change, on a real
clustering run of the demo corpus, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from clustering.pipeline import run_clustering
from clustering.store_results import _fresh_keys
from clustering.tracking import TrackedCluster, Tracking
from db.cluster_queries import cluster_views, next_cluster_key, run_memberships
from db.edits import (
    OUTLIER_KEY,
    EditError,
    mark_canonical,
    merge_clusters,
    move_question,
    new_cluster,
    undo_last_edit,
)
from db.models import (
    Cluster,
    ClusterEdit,
    ClusterIdentity,
    ClusterMember,
    ClusterRun,
    DuplicateGroup,
)
from db.settings import Settings
from tests.db.conftest import PARAMS, latest

pytestmark = pytest.mark.slow


def _picture(session: Session, run_id: int) -> tuple[object, ...]:
    """Everything an undo must put back: who sits where, the clusters, the run's counts."""
    members = session.execute(
        select(
            ClusterMember.question_id, ClusterMember.cluster_key, ClusterMember.strength,
            ClusterMember.nearest_key, ClusterMember.nearest_similarity,
        ).where(ClusterMember.run_id == run_id).order_by(ClusterMember.question_id)
    ).all()  # fmt: skip
    clusters = session.execute(
        select(Cluster.key, Cluster.size, Cluster.auto_name, Cluster.representative_id)
        .where(Cluster.run_id == run_id)
        .order_by(Cluster.key)
    ).all()
    run = session.get_one(ClusterRun, run_id)
    return tuple(members), tuple(clusters), run.cluster_count, run.noise_share


def _chosen(session: Session, run: ClusterRun) -> list[int]:
    """Three questions from each of the two largest clusters, and two outliers."""
    members = run_memberships(session, run.id)
    largest = sorted((key for key in members if key != OUTLIER_KEY), key=lambda k: -len(members[k]))
    outliers = session.scalars(
        select(ClusterMember.question_id).where(
            ClusterMember.run_id == run.id, ClusterMember.cluster_key == OUTLIER_KEY
        )
    ).all()
    return sorted(members[largest[0]])[:3] + sorted(members[largest[1]])[:3] + list(outliers[:2])


def test_a_new_cluster_holds_the_chosen_questions_under_its_name_and_survives_the_next_run(
    clustered: sessionmaker[Session], settings: Settings
) -> None:
    with clustered.begin() as session:
        run = latest(session)
        chosen = _chosen(session, run)
        expected_key = next_cluster_key(session, run.corpus_id)
        clusters_before = run.cluster_count
        key = new_cluster(session, run, chosen, name="  Card questions ", by="ana")
        assert key == expected_key
    with clustered() as session:
        run = latest(session)
        assert run_memberships(session, run.id)[key] == set(chosen)
        assert run.cluster_count == clusters_before + 1
        views = {view.key: view for view in cluster_views(session, run)}
        assert views[key].name == "Card questions"
        assert views[key].size == len(chosen)
    run_clustering("demo", settings=settings, sessions=clustered, params=PARAMS)
    with clustered() as session:
        rerun = latest(session)
        assert rerun.id != run.id
        assert set(chosen) <= run_memberships(session, rerun.id)[key]
        assert {v.key: v.name for v in cluster_views(session, rerun)}[key] == "Card questions"


def test_a_new_cluster_needs_a_name_and_questions_of_the_run(
    clustered: sessionmaker[Session],
) -> None:
    with clustered() as session:
        run = latest(session)
        chosen = _chosen(session, run)
        with pytest.raises(EditError, match="give the new cluster a name"):
            new_cluster(session, run, chosen, name="  ", by="ana")
        with pytest.raises(EditError, match="at least 2 questions"):
            new_cluster(session, run, chosen[:1] * 3, name="one", by="ana")
        with pytest.raises(EditError, match="1 of the chosen questions are not in"):
            new_cluster(session, run, [*chosen, 10**9], name="x", by="ana")
        session.rollback()
        assert session.scalar(select(func.count()).select_from(ClusterEdit)) == 0


def _make(session: Session, run: ClusterRun, change: str) -> None:
    members = run_memberships(session, run.id)
    keys = sorted((k for k in members if k != OUTLIER_KEY), key=lambda k: len(members[k]))
    if change == "merge":
        merge_clusters(session, run, keys[0], keys[-1], by="ana")
    elif change == "move":
        move_question(session, run, min(members[keys[0]]), OUTLIER_KEY, by="ana")
    elif change == "new":
        new_cluster(session, run, _chosen(session, run), name="mine", by="ana")
    else:
        group = session.scalars(
            select(DuplicateGroup).where(DuplicateGroup.run_id == run.id)
        ).first()
        assert group is not None
        other = session.scalar(
            select(ClusterMember.question_id).where(
                ClusterMember.run_id == run.id, ClusterMember.group_id == group.id,
                ClusterMember.question_id != group.canonical_id,
            )
        )  # fmt: skip
        assert other is not None
        mark_canonical(session, run, other, by="ana")


def _canonicals(session: Session, run_id: int) -> dict[int, int]:
    groups = session.scalars(select(DuplicateGroup).where(DuplicateGroup.run_id == run_id))
    return {group.id: group.canonical_id for group in groups}


def test_undo_puts_the_run_back_as_it_was_and_the_change_is_not_replayed(
    clustered: sessionmaker[Session],
) -> None:
    for change in ("merge", "move", "new", "canonical"):
        with clustered.begin() as session:
            run = latest(session)
            before = (_picture(session, run.id), _canonicals(session, run.id))
            identities = session.scalar(select(func.count()).select_from(ClusterIdentity))
            _make(session, run, change)
            assert (_picture(session, run.id), _canonicals(session, run.id)) != before
        with clustered.begin() as session:
            undone = undo_last_edit(session, latest(session), by="ana")
            assert undone.kind.value == change
        with clustered() as session:
            run = latest(session)
            assert (_picture(session, run.id), _canonicals(session, run.id)) == before, change
            assert session.scalar(select(func.count()).select_from(ClusterEdit)) == 0
            assert session.scalar(select(func.count()).select_from(ClusterIdentity)) == identities
            with pytest.raises(EditError, match="ana has no change to the clusters to undo"):
                undo_last_edit(session, run, by="ana")


def test_only_the_latest_change_of_this_run_can_be_undone(
    clustered: sessionmaker[Session], settings: Settings
) -> None:
    with clustered.begin() as session:
        run = latest(session)
        members = run_memberships(session, run.id)
        keys = sorted((k for k in members if k != OUTLIER_KEY), key=lambda k: len(members[k]))
        move_question(session, run, min(members[keys[0]]), OUTLIER_KEY, by="ana")
        move_question(session, run, min(members[keys[1]]), OUTLIER_KEY, by="ben")
        with pytest.raises(EditError, match="ben changed the clusters after your last change"):
            undo_last_edit(session, run, by="ana")
        undo_last_edit(session, run, by="ben")
    run_clustering("demo", settings=settings, sessions=clustered, params=PARAMS)
    with clustered() as session, pytest.raises(EditError, match="made on an earlier clustering"):
        undo_last_edit(session, latest(session), by="ana")


def test_keys_issued_during_a_run_move_past_a_cluster_made_by_hand_meanwhile(
    clustered: sessionmaker[Session],
) -> None:
    """A run numbers its new clusters from the keys it saw at its start; an analyst who made a
    cluster by hand since then took the first of those keys."""
    with clustered.begin() as session:
        run = latest(session)
        taken = new_cluster(session, run, _chosen(session, run), name="by hand", by="ana")
        kept = min(k for k in run_memberships(session, run.id) if k != OUTLIER_KEY)
        tracking = Tracking(
            {0: TrackedCluster(kept, "kept"), 1: TrackedCluster(taken, "new"),
             2: TrackedCluster(taken + 1, "split", [kept])},
            gone=[], merged_into={},
        )  # fmt: skip
        (keys,) = _fresh_keys(session, run.corpus_id, [tracking])
        assert keys[0] == kept
        assert taken not in keys.values()
        assert len(set(keys.values())) == 3
