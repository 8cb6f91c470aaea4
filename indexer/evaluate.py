"""How well a model does on the user's own data: pair classification, STS, retrieval.

The figures are the ones sentence-transformers' evaluators report (and model cards quote),
computed from one encoding of each distinct text, for the four similarities they use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, is_dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.stats import pearsonr, spearmanr
from sentence_transformers.sentence_transformer.evaluation.binary_classification import (
    BinaryClassificationEvaluator,
)
from sklearn.metrics import average_precision_score

from indexer.encoder import Encoder
from indexer.eval_data import EvalDataError

Floats = npt.NDArray[np.float32]
SIMILARITIES = ("cosine", "dot", "manhattan", "euclidean")
RECALL_AT = (1, 5, 10)


def encode_pairs(
    encoder: Encoder, first: Sequence[str], second: Sequence[str]
) -> tuple[Floats, Floats]:
    """Each distinct text encoded once (pairs files repeat texts a lot)."""
    unique = list(dict.fromkeys([*first, *second]))
    vectors = encoder.encode(unique, show_progress=len(unique) > 1000)
    row = {text: i for i, text in enumerate(unique)}
    return vectors[[row[t] for t in first]], vectors[[row[t] for t in second]]


def similarities(a: Floats, b: Floats) -> dict[str, npt.NDArray[np.float64]]:
    """Higher is more similar for all four (distances are negated)."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    norms = np.linalg.norm(a64, axis=1) * np.linalg.norm(b64, axis=1)
    return {
        "cosine": np.sum(a64 * b64, axis=1) / np.maximum(norms, 1e-12),
        "dot": np.sum(a64 * b64, axis=1),
        "manhattan": -np.sum(np.abs(a64 - b64), axis=1),
        "euclidean": -np.linalg.norm(a64 - b64, axis=1),
    }


@dataclass(frozen=True)
class PairScores:
    accuracy: float
    accuracy_threshold: float
    f1: float
    f1_threshold: float
    precision: float
    recall: float
    average_precision: float


def pair_classification(
    a: Floats, b: Floats, labels: npt.NDArray[np.int64]
) -> dict[str, PairScores]:
    """Per similarity: best accuracy and F1 with their thresholds, precision, recall, AP."""
    if set(np.unique(labels).tolist()) != {0, 1}:
        raise EvalDataError("pair labels must be 0 and 1, and both must occur")
    found: dict[str, PairScores] = {}
    for name, scores in similarities(a, b).items():
        # sentence-transformers' own threshold search, so the figures match its evaluator;
        # distances go in as distances, as it expects them.
        higher = name in ("cosine", "dot")
        raw = scores if higher else -scores
        accuracy, acc_threshold = BinaryClassificationEvaluator.find_best_acc_and_threshold(
            raw, labels, higher
        )
        f1, precision, recall, f1_threshold = (
            BinaryClassificationEvaluator.find_best_f1_and_threshold(raw, labels, higher)
        )
        found[name] = PairScores(
            float(accuracy), float(acc_threshold), float(f1), float(f1_threshold),
            float(precision), float(recall), float(average_precision_score(labels, scores)),
        )  # fmt: skip
    return found


@dataclass(frozen=True)
class Correlation:
    pearson: float
    spearman: float


def sts_by_group(
    a: Floats, b: Floats, gold: npt.NDArray[np.float64], groups: Sequence[str]
) -> dict[str, dict[str, Correlation]]:
    """`sts` within each group (e.g. each language or language pair), then over all rows."""
    labels = np.asarray(groups)
    found = {group: sts(a[labels == group], b[labels == group], gold[labels == group])
             for group in dict.fromkeys(groups)}  # fmt: skip
    return found | {"all": sts(a, b, gold)}


def sts(a: Floats, b: Floats, gold: npt.NDArray[np.float64]) -> dict[str, Correlation]:
    """Per similarity: Pearson and Spearman against the gold scores."""
    if np.ptp(gold) == 0:
        raise EvalDataError("every gold score is the same; correlation is undefined")
    return {
        name: Correlation(float(pearsonr(gold, scores)[0]), float(spearmanr(gold, scores)[0]))
        for name, scores in similarities(a, b).items()
    }


@dataclass(frozen=True)
class RetrievalScores:
    queries: int
    candidates: int
    recall: dict[int, float]
    mrr_at_10: float


def retrieval(encoder: Encoder, queries: Sequence[str], partners: Sequence[str]) -> RetrievalScores:
    """Put every partner in one pool; for each query, where does its own partner rank?

    What the duplicate lookup does: a new question against the corpus, nearest first.
    """
    query_vectors, partner_vectors = encode_pairs(encoder, queries, partners)
    return _retrieval_scores(query_vectors, partner_vectors, partners)


def retrieval_by_group(
    encoder: Encoder, queries: Sequence[str], partners: Sequence[str], groups: Sequence[str]
) -> dict[str, RetrievalScores]:
    """Retrieval within each group's own pool (e.g. per language: a Spanish sentence against
    the English translations of all Spanish sentences), plus "average" over the groups."""
    query_vectors, partner_vectors = encode_pairs(encoder, queries, partners)
    labels = np.asarray(groups)
    found: dict[str, RetrievalScores] = {}
    for group in dict.fromkeys(groups):
        rows = np.flatnonzero(labels == group)
        found[group] = _retrieval_scores(
            query_vectors[rows], partner_vectors[rows], [partners[int(i)] for i in rows]
        )
    scores = list(found.values())
    found["average"] = RetrievalScores(
        queries=sum(s.queries for s in scores),
        candidates=round(float(np.mean([s.candidates for s in scores]))),
        recall={k: float(np.mean([s.recall[k] for s in scores])) for k in RECALL_AT},
        mrr_at_10=float(np.mean([s.mrr_at_10 for s in scores])),
    )
    return found


def _retrieval_scores(
    query_vectors: Floats, partner_vectors: Floats, partners: Sequence[str]
) -> RetrievalScores:
    first_row: dict[str, int] = {}
    for row, text in enumerate(partners):
        first_row.setdefault(text, row)
    pool_rows = list(first_row.values())
    position = {text: i for i, text in enumerate(first_row)}
    pool_vectors = partner_vectors[pool_rows]
    target = np.array([position[text] for text in partners])
    ranks = np.empty(len(query_vectors), dtype=np.int64)
    for start in range(0, len(query_vectors), 1024):
        stop = start + 1024
        scores = query_vectors[start:stop] @ pool_vectors.T
        own = scores[np.arange(len(scores)), target[start:stop]]
        ranks[start:stop] = (scores > own[:, None]).sum(axis=1) + 1  # ties go the query's way
    reciprocal = np.where(ranks <= 10, 1.0 / ranks, 0.0)
    return RetrievalScores(
        queries=len(query_vectors),
        candidates=len(pool_rows),
        recall={k: float(np.mean(ranks <= k)) for k in RECALL_AT},
        mrr_at_10=float(np.mean(reciprocal)),
    )


def as_record(result: Any) -> Any:
    """Dataclasses (and dicts of them) as plain JSON-ready values."""
    if is_dataclass(result) and not isinstance(result, type):
        return asdict(result)
    if isinstance(result, dict):
        return {str(key): as_record(value) for key, value in result.items()}
    return result
