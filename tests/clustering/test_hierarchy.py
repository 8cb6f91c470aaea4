"""Coarse topics above the topics: unit tests on made-up directions, then the real pipeline on
the demo corpus on both databases (every question one path, names, identities across runs)."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from clustering.hierarchy import coarse_levels, group_directions
from clustering.params import ClusterParams
from clustering.pipeline import run_clustering
from db.cluster_queries import (
    cluster_path,
    cluster_views,
    latest_run,
    level_counts,
    level_memberships,
    rename_cluster,
)
from db.models import Cluster, ClusterIdentity, ClusterRun
from db.queries import get_corpus
from db.settings import Settings

FAST = ClusterParams(random_state=7)


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def _two_families(topics_per_family: int = 4, per_topic: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Topics in two families: topics of a family lie near each other, families far apart."""
    rng = np.random.default_rng(0)
    families = _unit(rng.normal(size=(2, 32)))
    vectors, labels = [], []
    for family in range(2):
        for topic in range(topics_per_family):
            centre = families[family] + 0.25 * _unit(rng.normal(size=(1, 32)))[0]
            vectors.append(centre + 0.02 * rng.normal(size=(per_topic, 32)))
            labels += [family * topics_per_family + topic] * per_topic
    return _unit(np.vstack(vectors)), np.array(labels, dtype=np.int64)


def test_a_coarse_topic_holds_topics_of_one_family() -> None:
    vectors, labels = _two_families()
    labels[:3] = -1  # outliers stay outliers at every level
    (level,) = coarse_levels(vectors, labels, min_children=6)
    family = {topic: topic // 4 for topic in range(8)}
    parents = level.parents
    assert set(parents) == set(range(8))
    assert len(set(parents.values())) == round(8**0.5)  # about the square root: 3 of 8
    for a in range(8):
        for b in range(8):
            if parents[a] == parents[b]:  # a coarse topic never mixes the two families
                assert family[a] == family[b]
    assert (level.labels[:3] == -1).all()
    assert (level.labels[3:] == [parents[int(t)] for t in labels[3:]]).all()


def test_few_topics_have_no_coarse_level() -> None:
    vectors, labels = _two_families(topics_per_family=2)
    assert coarse_levels(vectors, labels, min_children=6) == []
    assert coarse_levels(vectors, np.full(len(labels), -1), min_children=6) == []


def test_levels_shrink_to_about_the_square_root_and_stop() -> None:
    rng = np.random.default_rng(1)
    vectors = _unit(rng.normal(size=(400, 16)))
    labels = np.arange(400, dtype=np.int64) // 2  # 200 topics of 2
    counts = [len(set(level.parents.values())) for level in coarse_levels(vectors, labels)]
    assert counts[0] <= round(200**0.5)
    assert all(later < earlier for earlier, later in zip(counts, counts[1:], strict=False))
    assert counts[-1] < 6 or len(counts) == 1


def test_grouping_is_deterministic_and_numbered_in_input_order() -> None:
    vectors, labels = _two_families()
    centres = _unit(np.stack([vectors[labels == t].mean(axis=0) for t in range(8)]))
    first = group_directions(centres, 2)
    assert first.tolist() == group_directions(centres.copy(), 2).tolist()
    assert first[0] == 0  # the first topic's group is group 0


@pytest.mark.slow
def test_every_question_has_one_path_and_coarse_names_survive_a_rerun(
    demo: sessionmaker[Session], settings: Settings
) -> None:
    first = run_clustering("demo", settings=settings, sessions=demo, params=FAST)
    with demo.begin() as session:
        run = session.get_one(ClusterRun, first)
        counts = level_counts(session, run)
        assert len(counts) >= 2
        assert counts[1] < counts[0]
        levels = level_memberships(session, run.id)
        topics = cluster_views(session, run)
        coarse = cluster_views(session, run, level=1)
        # A coarse topic holds exactly the questions of its topics, and every topic has one.
        for view in coarse:
            children = [t for t in topics if t.parent_key == view.key]
            assert children
            assert view.size == sum(t.size for t in children)
            assert levels[1][view.key] == set().union(*(levels[0][t.key] for t in children))
            assert view.name not in ("", "(unnamed)")
            assert view.representative
        assert all(t.parent_key in {c.key for c in coarse} for t in topics)
        keys = [
            v.key for level in range(len(counts)) for v in cluster_views(session, run, level=level)
        ]
        assert len(keys) == len(set(keys))  # one key sequence across levels
        path = cluster_path(session, run, topics[0].key)
        assert [p.level for p in path] == list(range(len(counts) - 1, -1, -1))
        biggest = coarse[0]
        rename_cluster(session, run.corpus_id, biggest.key, "Billing and plans")
    second = run_clustering("demo", settings=settings, sessions=demo, params=FAST)
    with demo() as session:
        rerun = session.get_one(ClusterRun, second)
        again = {v.key: v for v in cluster_views(session, rerun, level=1)}
        # Same data, same seed: the coarse topics come back under their keys, with the name.
        assert biggest.key in again
        assert again[biggest.key].name == "Billing and plans"
        assert again[biggest.key].change == "kept"
        identities = session.scalars(
            select(ClusterIdentity.key).where(ClusterIdentity.corpus_id == rerun.corpus_id)
        ).all()
        stored = session.scalars(select(Cluster.key).where(Cluster.run_id == second)).all()
        assert set(stored) <= set(identities)
        assert latest_run(session, get_corpus(session, "demo").id) == rerun
