"""The labelling queue: question pairs whose similarity sits nearest the duplicate threshold.

Those are the pairs the threshold is least sure of, so a label there teaches the most
(uncertainty sampling). Pairs come from the index's neighbours of a random sample of the
corpus, so the queue costs the same on a thousand questions as on a million.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import dataclass

import numpy as np

from indexer.index import limited_nprobe
from indexer.index import search as index_search
from indexer.search import CorpusSearcher

MAX_SELECTION = 2_000  # questions paired from one selection: 2 million pairs at most


@dataclass(frozen=True)
class CandidatePair:
    first_id: int
    second_id: int
    first_text: str
    second_text: str
    similarity: float


# Above this many vectors the queue's sample is drawn without reading every id, and an IVF
# index is searched at `QUEUE_NPROBE` lists: at a million questions the Labelling page took
# 7 s on every open, half reading a million ids and half 500 searches at the search's nprobe.
ALL_IDS_MAX = 100_000
QUEUE_NPROBE = 16


def candidate_pairs(
    searcher: CorpusSearcher,
    labelled: Set[tuple[int, int]],
    *,
    threshold: float,
    limit: int = 20,
    sample: int = 500,
    neighbours: int = 5,
    seed: int = 0,
) -> list[CandidatePair]:
    """Up to `limit` unlabelled pairs, the one nearest `threshold` first."""
    if searcher.size < 2:
        return []
    if searcher.size <= ALL_IDS_MAX:
        ids = searcher.vector_ids()
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(len(ids), size=min(sample, len(ids)), replace=False))
        picked = ids[rows].tolist()
    else:  # not a million ids read for 500: index seeks from seeded points of the id range
        picked = searcher.sample_vector_ids(sample, seed=seed)
    sampled, vectors = searcher.vectors_of(picked)
    with limited_nprobe(searcher.index, QUEUE_NPROBE):  # close pairs sit in the nearest lists
        scores, found = index_search(searcher.index, vectors, neighbours + 1)
    best: dict[tuple[int, int], float] = {}
    for query_id, row_scores, row_ids in zip(sampled.tolist(), scores, found, strict=True):
        for score, other in zip(row_scores.tolist(), row_ids.tolist(), strict=True):
            if other < 0 or other == query_id:
                continue
            pair = (min(query_id, other), max(query_id, other))
            if pair not in labelled:
                best[pair] = max(score, best.get(pair, -1.0))
    chosen = sorted(best, key=lambda pair: (abs(best[pair] - threshold), pair))[:limit]
    texts = searcher.texts(sorted({i for pair in chosen for i in pair}))
    return [
        CandidatePair(first, second, texts[first], texts[second], best[(first, second)])
        for first, second in chosen
        if first in texts and second in texts
    ]


def selection_pairs(
    searcher: CorpusSearcher,
    question_ids: Sequence[int],
    labelled: Set[tuple[int, int]],
    *,
    threshold: float,
    limit: int = 10,
    most: int = MAX_SELECTION,
) -> list[CandidatePair]:
    """Unlabelled pairs within the chosen questions (say a map selection), nearest `threshold`
    first: what an analyst who picked them out most needs to judge. Only the first `most`
    questions are paired, so that a huge selection stays one small matrix product."""
    ids, vectors = searcher.vectors_of(sorted(set(question_ids))[:most])
    if len(ids) < 2:
        return []
    scores = vectors @ vectors.T
    first, second = np.triu_indices(len(ids), k=1)
    similarity = scores[first, second]
    chosen: list[tuple[tuple[int, int], float]] = []
    # Nearest the threshold first; a stable sort keeps id order among equals.
    for index in np.argsort(np.abs(similarity - threshold), kind="stable").tolist():
        pair = (int(ids[first[index]]), int(ids[second[index]]))
        if pair not in labelled:
            chosen.append((pair, float(similarity[index])))
            if len(chosen) == limit:
                break
    texts = searcher.texts(sorted({i for pair, _ in chosen for i in pair}))
    return [
        CandidatePair(a, b, texts[a], texts[b], score)
        for (a, b), score in chosen
        if a in texts and b in texts
    ]
