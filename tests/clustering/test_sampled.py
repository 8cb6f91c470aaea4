"""Topics of large corpora fitted on a sample, the other questions placed by their neighbours."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import v_measure_score
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from clustering.params import ClusterParams
from clustering.pipeline import run_clustering
from clustering.sampled import SampledTopics, sample_rows, samples_topics
from clustering.topics import TopicClusterer
from db.models import ClusterMember, ClusterRun
from db.settings import Settings


def test_only_corpora_over_twice_the_sample_are_sampled() -> None:
    assert not samples_topics(200_000, 100_000)
    assert samples_topics(200_001, 100_000)
    assert not samples_topics(10_000_000, 0)


def test_the_sample_is_the_same_for_the_same_corpus() -> None:
    first, again = sample_rows(10_000, 500, seed=0), sample_rows(10_000, 500, seed=0)
    np.testing.assert_array_equal(first, again)
    assert len(np.unique(first)) == 500
    assert np.all(np.diff(first) > 0)


def planted(n: int, topics: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(topics, 48))
    truth = rng.integers(0, topics, n)
    points = centres[truth] + 1.1 * rng.normal(size=(n, 48))  # overlapping edges
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    return points.astype(np.float32), truth


def test_placed_questions_join_the_topic_of_their_sampled_neighbours() -> None:
    vectors, truth = planted(4_000, 12)
    sampled = SampledTopics(
        clusterer=TopicClusterer(random_state=0), sample_size=800, knn_k=16
    ).fit(vectors)
    assert len(sampled.labels_) == 4_000
    rest = np.setdiff1d(np.arange(4_000), sampled.rows_)
    clustered = sampled.labels_[rest] >= 0
    assert clustered.mean() > 0.9  # 0.97 measured
    assert sampled.placed_ == clustered.sum()
    assert v_measure_score(truth[sampled.rows_], sampled.labels_[sampled.rows_]) > 0.95  # 1.00
    assert v_measure_score(truth[rest], sampled.labels_[rest]) > 0.9  # 0.97 (0.94 on seed 1)
    coordinates = sampled.map(vectors, n_neighbors=15, random_state=0)
    assert coordinates.shape == (4_000, 2)
    assert np.isfinite(coordinates).all()


@pytest.mark.slow
def test_a_run_fitted_on_a_sample_places_every_question(
    demo: sessionmaker[Session], settings: Settings
) -> None:
    run_id = run_clustering(
        "demo", settings=settings, sessions=demo,
        params=ClusterParams(topic_sample=500, random_state=0),
    )  # fmt: skip
    with demo() as session:
        run = session.get_one(ClusterRun, run_id)
        members = session.scalar(
            select(func.count()).select_from(ClusterMember).where(ClusterMember.run_id == run_id)
        )
        assert run.params["fitted_on_sample"] == 500
        assert members == run.question_count > 1_000
        assert run.cluster_count >= 10
        assert run.noise_share < 0.5
        spread = session.execute(
            select(func.min(ClusterMember.x), func.max(ClusterMember.x)).where(
                ClusterMember.run_id == run_id
            )
        ).one()
        assert spread[0] < spread[1]


def test_a_sample_too_small_to_say_anything_is_refused() -> None:
    from clustering.errors import ParameterError

    with pytest.raises(ParameterError, match="topic sample must be 0"):
        ClusterParams(topic_sample=10).validate()
