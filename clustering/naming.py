"""Cluster names from class-based TF-IDF: terms frequent in a cluster and rare in the corpus.

Weight of term t in cluster c: tf(t, c) * log(1 + A / f(t)), with tf normalised per cluster,
f(t) the term's frequency over all clusters and A the mean number of words per cluster (the
c-TF-IDF of BERTopic). No language model is involved.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from sklearn.feature_extraction.text import CountVectorizer

Labels = npt.NDArray[np.int64]


def ctfidf_keywords(
    texts: Sequence[str], labels: Labels, *, top_n: int = 8, ngram_range: tuple[int, int] = (1, 2)
) -> dict[int, list[str]]:
    """The `top_n` keywords of every cluster label >= 0."""
    clusters = sorted(int(c) for c in np.unique(labels) if c >= 0)
    if not clusters:
        return {}
    documents = [
        " ".join(texts[int(i)] for i in np.flatnonzero(labels == cluster)) for cluster in clusters
    ]
    vectorizer = CountVectorizer(
        stop_words="english",
        ngram_range=ngram_range,
        min_df=1,
        token_pattern=r"(?u)\b\w[\w+#.-]*\b",
    )
    try:
        counts = vectorizer.fit_transform(documents)
    except ValueError:  # only stop words everywhere
        return {cluster: [] for cluster in clusters}
    terms = vectorizer.get_feature_names_out()
    counts = counts.astype(np.float64)
    words_per_cluster = np.asarray(counts.sum(axis=1)).ravel()
    term_frequency = np.asarray(counts.sum(axis=0)).ravel()
    idf = np.log1p(words_per_cluster.mean() / np.maximum(term_frequency, 1.0))
    keywords: dict[int, list[str]] = {}
    for row, cluster in enumerate(clusters):
        weights = counts.getrow(row).toarray().ravel() / max(words_per_cluster[row], 1.0) * idf
        best = np.argsort(-weights)[:top_n]
        keywords[cluster] = [str(terms[i]) for i in best if weights[i] > 0]
    return keywords


def name_from_keywords(keywords: Sequence[str], *, words: int = 3) -> str:
    """A short name: the first keywords, skipping ones already inside a longer chosen one."""
    chosen: list[str] = []
    for keyword in keywords:
        if any(keyword in other or other in keyword for other in chosen):
            continue
        chosen.append(keyword)
        if len(chosen) == words:
            break
    return " / ".join(chosen) or "(unnamed)"


def representatives(
    vectors: npt.NDArray[np.float32], labels: Labels, strengths: npt.NDArray[np.float32]
) -> dict[int, list[int]]:
    """Members of every cluster, most central first (closest to the cluster's mean direction)."""
    ordered: dict[int, list[int]] = {}
    for cluster in (int(c) for c in np.unique(labels) if c >= 0):
        members = np.flatnonzero(labels == cluster)
        centre = vectors[members].mean(axis=0)
        centre /= max(float(np.linalg.norm(centre)), 1e-12)
        closeness = vectors[members] @ centre
        ordered[cluster] = [int(m) for m in members[np.lexsort((-strengths[members], -closeness))]]
    return ordered
