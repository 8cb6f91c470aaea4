"""How well a model does on the user's own data: pair classification, STS, retrieval.

The figures are the ones sentence-transformers' evaluators report (and model cards quote),
computed from one encoding of each distinct text, for the four similarities they use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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
    pool = list(dict.fromkeys(partners))
    position = {text: i for i, text in enumerate(pool)}
    pool_vectors = encoder.encode(pool, show_progress=len(pool) > 1000)
    query_vectors = encoder.encode(list(queries), show_progress=len(queries) > 1000)
    target = np.array([position[text] for text in partners])
    ranks = np.empty(len(queries), dtype=np.int64)
    for start in range(0, len(queries), 1024):
        stop = start + 1024
        scores = query_vectors[start:stop] @ pool_vectors.T
        own = scores[np.arange(len(scores)), target[start:stop]]
        ranks[start:stop] = (scores > own[:, None]).sum(axis=1) + 1  # ties go the query's way
    reciprocal = np.where(ranks <= 10, 1.0 / ranks, 0.0)
    return RetrievalScores(
        queries=len(queries),
        candidates=len(pool),
        recall={k: float(np.mean(ranks <= k)) for k in RECALL_AT},
        mrr_at_10=float(np.mean(reciprocal)),
    )


def as_record(result: Any) -> Any:
    """Dataclasses (and dicts of them) as plain JSON-ready values."""
    from dataclasses import asdict, is_dataclass

    if is_dataclass(result) and not isinstance(result, type):
        return asdict(result)
    if isinstance(result, dict):
        return {str(key): as_record(value) for key, value in result.items()}
    return result
