"""`qclust cluster`: stored vectors in, one clustering run in the database out.

Stages, each reported to `progress`: neighbours (FAISS kNN graph, shared by everything after),
duplicates, topics (EVoC's layout of the graph + HDBSCAN), names (c-TF-IDF), map (the topics'
layout refined in 2-D), saving. The run is written in one transaction; a failure marks it
failed, so nothing half-written is ever shown.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session, sessionmaker

from clustering.errors import NotEnoughQuestionsError
from clustering.hierarchy import coarse_levels
from clustering.kernels import kernels_on_disk
from clustering.knn import KnnGraph, knn_graph
from clustering.mapping import map_2d
from clustering.naming import (
    MisspellingCheck,
    ctfidf_keywords,
    name_from_keywords,
    naming_sample,
    representatives,
)
from clustering.near_duplicates import NearDuplicateGrouper
from clustering.outliers import attach_to_centres, member_similarities, topic_centres
from clustering.params import ClusterParams
from clustering.placement import nearest_labelled
from clustering.sampled import SampledTopics, samples_topics
from clustering.store_results import LevelResult, RunResult, mark_failed, start_run, write_run
from clustering.topics import TopicClusterer
from clustering.tracking import Tracking, track_clusters
from db.cluster_queries import latest_run, level_memberships, next_cluster_key
from db.errors import QclustError
from db.faults import fault_point
from db.models import ClusterRun
from db.queries import question_texts
from db.runs import run_heartbeat
from db.settings import Settings
from indexer.corpus_index import load_vectors, locate_corpus, open_index

logger = logging.getLogger(__name__)
ProgressFn = Callable[[str, int, int | None], None]
MIN_QUESTIONS = 3


def first_run_stage(engines: tuple[str, ...]) -> str:
    """The topic stage's name while its kernels compile. Measured with numba's cache empty,
    on 2 cores: fast_hdbscan's 67 s, EVoC's 152 s more."""
    minutes = 4 if "evoc" in engines else 1
    return f"topics (first run here: compiling the kernels, about {minutes} min on 2 cores, once)"


def _no_progress(stage: str, done: int, total: int | None) -> None:
    pass


@dataclass(frozen=True)
class CorpusVectors:
    corpus_id: int
    encoder_id: int
    threshold: float
    ids: npt.NDArray[np.int64]
    vectors: npt.NDArray[np.float32]
    index: Any


def load_corpus_vectors(
    sessions: sessionmaker[Session], settings: Settings, corpus_name: str
) -> CorpusVectors:
    try:
        location = locate_corpus(sessions, settings, corpus_name)
    except QclustError as exc:
        raise NotEnoughQuestionsError(str(exc)) from exc
    if location.not_encoded:
        logger.warning("%s; they are left out of this run", location.not_encoded_message())
    if location.vector_count < MIN_QUESTIONS:
        raise NotEnoughQuestionsError(
            f"clustering needs at least {MIN_QUESTIONS} encoded questions; "
            f"corpus '{corpus_name}' has {location.vector_count}"
        )
    ids, vectors = load_vectors(sessions, location)
    index = open_index(sessions, location, exact_max=settings.exact_index_max)
    return CorpusVectors(
        location.corpus_id, location.encoder_id, location.threshold, ids, vectors, index
    )


def run_clustering(
    corpus_name: str,
    *,
    settings: Settings,
    sessions: sessionmaker[Session],
    params: ClusterParams | None = None,
    progress: ProgressFn = _no_progress,
) -> int:
    """Cluster the corpus and store the run; returns the run id."""
    params = params or ClusterParams()
    params.validate()
    data = load_corpus_vectors(sessions, settings, corpus_name)
    run_id = start_run(sessions, data.corpus_id, data.encoder_id, params.as_record())
    started = time.perf_counter()
    try:
        with run_heartbeat(sessions, ClusterRun, run_id):
            result = _compute(sessions, data, params, progress)
            fault_point("cluster:computed")
            progress("saving", 0, 1)
            write_run(sessions, run_id, data.corpus_id, result, time.perf_counter() - started)
            progress("saving", 1, 1)
    except BaseException as exc:
        mark_failed(sessions, run_id, str(exc) or type(exc).__name__)
        raise
    return run_id


def _compute(
    sessions: sessionmaker[Session],
    data: CorpusVectors,
    params: ClusterParams,
    progress: ProgressFn,
) -> RunResult:
    n = len(data.ids)
    progress("neighbours", 0, n)
    graph = knn_graph(data.vectors, params.knn_k, index=data.index, ids=data.ids)
    progress("neighbours", n, n)

    progress("duplicates", 0, 1)
    threshold = params.duplicate_threshold or data.threshold
    groups = NearDuplicateGrouper(threshold=threshold).fit(graph, data.vectors)
    progress("duplicates", 1, 1)

    sampled = samples_topics(n, params.topic_sample)
    clusterer = params.topic_clusterer()
    umap = clusterer.lays_out_with_umap(params.topic_sample if sampled else n)
    engines = ("fast_hdbscan",) if umap else ("fast_hdbscan", "evoc")
    stage = "topics" if kernels_on_disk(engines) else first_run_stage(engines)
    if sampled:
        stage += f" (fitted on {params.topic_sample:,} sampled questions, the rest placed)"
    progress(stage, 0, 1)
    topics: TopicClusterer | SampledTopics
    if sampled:
        topics = SampledTopics(
            clusterer=clusterer, sample_size=params.topic_sample,
            knn_k=params.knn_k, seed=params.random_state,
        ).fit(data.vectors)  # fmt: skip
    else:
        topics = clusterer.fit(graph, data.vectors)
    labels, strengths = _attach_near_duplicates(
        graph, topics.labels_, topics.probabilities_, threshold
    )
    if params.join_outliers:
        labels, strengths = attach_to_centres(data.vectors, labels, strengths)
    progress(stage, 1, 1)

    progress("names", 0, 1)
    with sessions() as session:
        texts_by_id = question_texts(session, data.ids.tolist())
        previous = latest_run(session, data.corpus_id)
        previous_levels = level_memberships(session, previous.id) if previous else [{}]
        first_new_key = next_cluster_key(session, data.corpus_id)
    texts = [texts_by_id[int(i)] for i in data.ids]
    misspelt = MisspellingCheck([texts[int(row)] for row in naming_sample(labels)])  # all levels'
    keywords = ctfidf_keywords(texts, labels, misspelt=misspelt)
    central = representatives(data.vectors, labels, strengths)
    progress("names", 1, 1)

    progress("map", 0, 1)
    coordinates = _map(graph, data.vectors, topics, params)
    progress("map", 1, 1)

    current = {label: {int(data.ids[row]) for row in rows} for label, rows in central.items()}
    tracking = track_clusters(current, previous_levels[0], first_new_key)
    levels = _coarse_levels(
        data, texts, misspelt, labels, strengths, tracking, previous_levels, first_new_key
    )
    return RunResult(
        ids=data.ids,
        labels=labels,
        strengths=strengths,
        centrality=_centrality(data.vectors, labels),
        coordinates=coordinates,
        group_labels=groups.labels_,
        group_medoids=groups.medoids_,
        nearest=_nearest_clusters(graph, labels),
        keywords=keywords,
        names={label: name_from_keywords(words) for label, words in keywords.items()},
        representatives={label: rows[0] for label, rows in central.items()},
        tracking=tracking,
        levels=levels,
        min_cluster_size=topics.min_cluster_size_,
        level_scores=topics.scores_,
        topic_sample=len(topics.rows_) if isinstance(topics, SampledTopics) else None,
    )


def _map(
    graph: KnnGraph,
    vectors: npt.NDArray[np.float32],
    topics: TopicClusterer | SampledTopics,
    params: ClusterParams,
) -> npt.NDArray[np.float32]:
    """The 2-D map, warm-started from the topics' own layout (a fraction of the epochs)."""
    if isinstance(topics, SampledTopics):
        if not params.make_map:
            return np.zeros((len(vectors), 2), dtype=np.float32)
        return topics.map(vectors, n_neighbors=params.n_neighbors, random_state=params.random_state)
    if not params.make_map:
        return topics.embedding_[:, :2]
    return map_2d(
        graph,
        vectors,
        n_neighbors=params.n_neighbors,
        random_state=params.random_state,
        start=topics.embedding_,
        evoc=not topics.lays_out_with_umap(len(vectors)),
    )


def _coarse_levels(
    data: CorpusVectors,
    texts: list[str],
    misspelt: MisspellingCheck,
    labels: npt.NDArray[np.int64],
    strengths: npt.NDArray[np.float32],
    tracking: Tracking,
    previous_levels: list[dict[int, set[int]]],
    first_new_key: int,
) -> list[LevelResult]:
    """Coarse topics above the topics, each level named and tracked across runs like them.
    Keys are one sequence across levels: each level's new keys come after the level below's."""
    results: list[LevelResult] = []
    issued = max([first_new_key - 1, *(c.key for c in tracking.clusters.values())]) + 1
    for number, level in enumerate(coarse_levels(data.vectors, labels), start=1):
        central = representatives(data.vectors, level.labels, strengths)
        keywords = ctfidf_keywords(texts, level.labels, misspelt=misspelt)
        current = {label: {int(data.ids[r]) for r in rows} for label, rows in central.items()}
        previous = previous_levels[number] if number < len(previous_levels) else {}
        level_tracking = track_clusters(current, previous, issued)
        issued = max([issued - 1, *(c.key for c in level_tracking.clusters.values())]) + 1
        results.append(
            LevelResult(
                parents=level.parents,
                labels=level.labels,
                keywords=keywords,
                names={label: name_from_keywords(words) for label, words in keywords.items()},
                representatives={label: rows[0] for label, rows in central.items()},
                tracking=level_tracking,
            )
        )
    return results


def _attach_near_duplicates(
    graph: KnnGraph,
    labels: npt.NDArray[np.int64],
    strengths: npt.NDArray[np.float32],
    threshold: float,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """An outlier that is a near-duplicate of a clustered question (cosine at or above the
    duplicate threshold) joins that question's cluster: asking the same thing, it is about the
    same topic, whatever the density estimate said ("turn the lights on" stayed an outlier at
    0.974 to a member of "lights / turn / room")."""
    nearest_key, similarity = _nearest_clusters(graph, labels)
    joins = (labels < 0) & (nearest_key >= 0) & (similarity >= threshold)
    if not joins.any():
        return labels, strengths
    attached = np.where(joins, nearest_key, labels).astype(np.int64)
    return attached, np.where(joins, similarity, strengths).astype(np.float32)


def _centrality(
    vectors: npt.NDArray[np.float32], labels: npt.NDArray[np.int64]
) -> npt.NDArray[np.float32]:
    """Cosine of each member to its cluster's mean direction (0 for outliers)."""
    result = np.zeros(len(vectors), dtype=np.float32)
    if (labels >= 0).any():
        result[labels >= 0] = member_similarities(vectors, labels, topic_centres(vectors, labels))
    return result


def _nearest_clusters(
    graph: KnnGraph, labels: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Per point: the cluster of its most similar clustered neighbour, and that similarity.

    Stored for outliers; the attach threshold is applied later, so it can change without a run.
    """
    neighbour_labels = np.where(graph.indices >= 0, labels[np.maximum(graph.indices, 0)], -1)
    neighbour_labels[:, 0] = -1  # not itself
    return nearest_labelled(neighbour_labels, graph.similarities)
