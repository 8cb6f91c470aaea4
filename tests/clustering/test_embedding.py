"""EVoC's layout of the kNN graph, the one larger corpora get (`embedding="auto"` from
UMAP_BELOW questions). Every test that runs it lives here, so that a fresh CI worker compiles
EVoC's kernels (2.5 min of CPU) once, not once per worker."""

from __future__ import annotations

import csv

import numpy as np
from sklearn.metrics import v_measure_score
from sqlalchemy import select

from clustering.knn import knn_graph
from clustering.mapping import map_2d, neighbours_kept, principal_axes
from clustering.pipeline import CorpusVectors, load_corpus_vectors
from clustering.topics import TopicClusterer
from db.models import Question
from db.session import open_database
from db.settings import Settings
from indexer.encoder import Encoder
from indexer.ingest import ingest_file
from tests.clustering.test_topics import _blobs
from tests.conftest import DEMO_QUESTIONS


def test_separated_topics_are_recovered_through_evocs_layout() -> None:
    vectors, truth = _blobs(600, 6)
    model = TopicClusterer(random_state=0, embedding="evoc").fit(knn_graph(vectors, 16), vectors)
    assert model.embedding_.shape == (600, 5)
    clustered = model.labels_ >= 0
    assert clustered.mean() > 0.8
    assert v_measure_score(truth[clustered], model.labels_[clustered]) > 0.95


def test_the_layout_is_the_same_on_one_thread_and_two() -> None:
    """Over qclust's own graph, EVoC's layout does not depend on the thread count (EVoC whole,
    with its approximate graph, did), so the same corpus clusters alike on any machine."""
    import numba

    vectors, _ = _blobs(800, 8, seed=3)
    graph = knn_graph(vectors, 16)
    threads = numba.get_num_threads()
    layouts = []
    try:
        for count in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(count)
            model = TopicClusterer(min_cluster_size=10, embedding="evoc")
            layouts.append(model.fit(graph, vectors).embedding_)
    finally:
        numba.set_num_threads(threads)
    np.testing.assert_array_equal(layouts[0], layouts[1])


def _demo_corpus(settings: Settings, encoder: Encoder) -> tuple[CorpusVectors, list[str]]:
    """The demo corpus's stored vectors, and each row's topic from the file."""
    ingest_file(
        DEMO_QUESTIONS, "demo", settings=settings, text_column="question",
        id_column="id", encoder=encoder,
    )  # fmt: skip
    sessions = open_database(settings.resolved_database_url)
    data = load_corpus_vectors(sessions, settings, "demo")
    with sessions() as session:
        external = dict(session.execute(select(Question.id, Question.external_id)).all())
    with DEMO_QUESTIONS.open(encoding="utf-8", newline="") as handle:
        topic = {row["id"]: row["topic"] for row in csv.DictReader(handle)}
    return data, [topic[external[int(i)]] for i in data.ids]


def test_evocs_layout_finds_the_demo_corpus_topics(
    sqlite_settings: Settings, default_encoder: Encoder
) -> None:
    """On real questions. The demo corpus is below `auto`'s UMAP_BELOW, so the layout is asked
    for by name; it reads only vectors, so one database is enough here (the pipeline's tests
    run both)."""
    data, truth = _demo_corpus(sqlite_settings, default_encoder)
    graph = knn_graph(data.vectors, 16, index=data.index, ids=data.ids)
    model = TopicClusterer(embedding="evoc", random_state=0).fit(graph, data.vectors)
    assert model.embedding_.shape == (len(data.ids), 5)
    assert 25 <= len(set(model.labels_.tolist()) - {-1}) <= 80  # the corpus has 40 topics
    assert (model.labels_ < 0).mean() < 0.3
    assert v_measure_score(truth, model.labels_) > 0.65  # 0.74 to 0.76 over seeds 0, 1, 2


def test_the_map_refines_the_topics_layout_with_evoc(
    sqlite_settings: Settings, default_encoder: Encoder
) -> None:
    """The map of a corpus laid out by EVoC starts from the layout's two main axes and keeps
    more of each question's 15 nearest neighbours than they do (demo corpus, seeds 0 to 2:
    0.41 to 0.43 at the start, 0.48 to 0.49 after; UMAP's map 0.47 to 0.48). Seeded, it is
    the same every time."""
    data, _ = _demo_corpus(sqlite_settings, default_encoder)
    graph = knn_graph(data.vectors, 16, index=data.index, ids=data.ids)
    topics = TopicClusterer(embedding="evoc", random_state=0).fit(graph, data.vectors)
    xy = map_2d(graph, data.vectors, start=topics.embedding_, evoc=True, random_state=0)
    assert xy.shape == (len(data.ids), 2)
    assert np.isfinite(xy).all()
    again = map_2d(graph, data.vectors, start=topics.embedding_, evoc=True, random_state=0)
    np.testing.assert_array_equal(xy, again)
    start = neighbours_kept(principal_axes(topics.embedding_, 2), graph)
    assert neighbours_kept(xy, graph) > start + 0.03
