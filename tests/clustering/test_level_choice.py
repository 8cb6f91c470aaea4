"""Choosing the topic level without labels: candidate sizes, the coherence score, the
granularity control, and the small Banking77 sample that a fixed size got wrong."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import v_measure_score
from sqlalchemy.orm import Session, sessionmaker

from clustering.errors import ParameterError
from clustering.knn import knn_graph
from clustering.params import ClusterParams
from clustering.pipeline import run_clustering
from clustering.topics import (
    CoherenceScorer,
    TopicClusterer,
    candidate_sizes,
    coherence,
    cosine_silhouette,
    largest_share,
    pick_level,
)
from db.cluster_queries import latest_run, run_memberships
from db.models import Question
from db.queries import get_corpus
from db.settings import Settings
from indexer.encoder import Encoder
from indexer.ingest import ingest_file
from tests.conftest import write_csv

BANKING = (
    Path(__file__).resolve().parents[3] / "shared" / "data" / "banking77" / "banking77_train.tsv"
)


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_candidate_sizes_grow_with_the_corpus() -> None:
    assert candidate_sizes(200) == [3, 5, 8, 10, 15]
    assert candidate_sizes(20) == [3]
    assert min(candidate_sizes(1_000_000)) == 50  # no 3-question topics among a million
    assert max(candidate_sizes(1_000_000)) == 5000
    assert max(candidate_sizes(20_000)) <= 2000


def test_a_level_with_a_catch_all_topic_is_passed_over() -> None:
    scores = {5: 0.01, 25: 0.03, 100: 0.02, 1000: 0.06, 5000: 0.09}
    largest = {5: 0.01, 25: 0.05, 100: 0.05, 1000: 0.53, 5000: 0.64}
    assert pick_level(scores, largest) == 25
    assert pick_level(scores, largest, "coarser") == 100  # along the levels left
    assert pick_level(scores, largest, "finer") == 5
    every_one = dict.fromkeys(scores, 0.9)
    assert pick_level(scores, every_one) == 5000  # nothing else to choose from
    assert largest_share(np.array([0, 0, 0, 1, -1, -1])) == 0.5


def test_coherence_rewards_clean_clusters_and_coverage() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 16))
    truth = np.repeat(np.arange(4), 50)
    vectors = _unit(centres[truth] + 0.1 * rng.normal(size=(200, 16)))
    right = coherence(vectors, truth)
    shuffled = coherence(vectors, rng.permutation(truth))
    half_outliers = coherence(vectors, np.where(np.arange(200) % 2 == 0, truth, -1))
    assert right > 0.5 > shuffled
    assert half_outliers == pytest.approx(right / 2, rel=0.15)  # the share clustered counts
    assert coherence(vectors, np.full(200, -1)) == 0.0
    assert coherence(vectors, np.zeros(200, dtype=np.int64)) == 0.0  # one cluster: no contrast


@pytest.mark.parametrize("clusters", [2, 7, 60])
def test_the_silhouette_is_sklearns(clusters: int) -> None:
    """On outliers, clusters of one and the sampled rows: sklearn's value, to float32 sums."""
    from sklearn.metrics import silhouette_score

    rng = np.random.default_rng(clusters)
    vectors = _unit(rng.normal(size=(clusters, 16))[rng.integers(0, clusters, 300)])
    vectors = _unit(vectors + 0.3 * rng.normal(size=vectors.shape))
    labels = np.where(rng.random(300) < 0.2, -1, rng.integers(0, clusters, 300))
    labels[:3] = [clusters, clusters + 1, clusters + 2]  # three clusters of one
    scorer = CoherenceScorer(vectors, sample=250)
    inside = np.flatnonzero(labels[scorer.rows] >= 0)
    expected = silhouette_score(
        scorer.distances[np.ix_(inside, inside)], labels[scorer.rows][inside], metric="precomputed"
    )
    actual = cosine_silhouette(scorer.distances, inside, labels[scorer.rows][inside])
    assert actual == pytest.approx(expected, abs=1e-6)
    assert cosine_silhouette(scorer.distances, inside, np.zeros(len(inside), np.int64)) == 0.0


def test_the_most_coherent_level_is_kept_and_granularity_moves_along_the_grid() -> None:
    """Twelve tight topics of 25: the automatic level finds them; finer and coarser move."""
    rng = np.random.default_rng(3)
    truth = np.repeat(np.arange(12), 25)
    vectors = _unit(rng.normal(size=(12, 32))[truth] + 0.12 * rng.normal(size=(300, 32)))
    graph = knn_graph(vectors, 16)
    found = {
        granularity: TopicClusterer(random_state=0, granularity=granularity).fit(graph, vectors)
        for granularity in ("finer", "auto", "coarser")
    }  # fmt: skip
    auto = found["auto"]
    assert set(auto.scores_) == set(candidate_sizes(300))
    assert auto.scores_[auto.min_cluster_size_] == max(auto.scores_.values())
    assert v_measure_score(truth, auto.labels_) > 0.9
    sizes = [found[g].min_cluster_size_ for g in ("finer", "auto", "coarser")]
    assert sizes == sorted(sizes)
    assert sizes[0] < sizes[2]
    given = TopicClusterer(random_state=0, min_cluster_size=10).fit(graph, vectors)
    assert (given.min_cluster_size_, given.scores_) == (10, {})  # a given size is used as is
    with pytest.raises(ParameterError, match="granularity must be one of finer, auto, coarser"):
        TopicClusterer(granularity="fine").validate()  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.skipif(not BANKING.is_file(), reason="needs ../shared/data/banking77")
def test_two_hundred_banking_questions_get_sensible_topics(
    settings: Settings, sessions: sessionmaker[Session], default_encoder: Encoder, tmp_path: Path
) -> None:
    """The issue's case: 200 Banking77 questions (77 intents) made 2 clusters, one a catch-all
    of 177, at the fixed size of 10."""
    with BANKING.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    picked = np.random.default_rng(0).choice(len(rows), size=200, replace=False)
    sample = [rows[int(i)] for i in picked]
    path = write_csv(
        tmp_path / "banking200.csv", [{"question": r["text"], "intent": r["label"]} for r in sample]
    )
    ingest_file(
        path, "banking", settings=settings, sessions=sessions, text_column="question",
        encoder=default_encoder,
    )  # fmt: skip
    run_clustering(
        "banking", settings=settings, sessions=sessions, params=ClusterParams(random_state=0)
    )
    with sessions() as session:
        run = latest_run(session, get_corpus(session, "banking").id)
        assert run is not None
        members = run_memberships(session, run.id)
        intent = {q.id: (q.meta or {})["intent"] for q in session.query(Question)}
    topics = {key: ids for key, ids in members.items() if key >= 0}
    assert len(topics) >= 10
    assert max(len(ids) for ids in topics.values()) <= 30  # no catch-all
    labelled = [(intent[q], key) for key, ids in members.items() for q in ids]
    assert v_measure_score(*zip(*labelled, strict=True)) >= 0.6
