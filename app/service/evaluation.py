"""A model judged on the user's own data: pairs, STS, retrieval, clusters.

Each result is stored with the model and the file's SHA-256, so two models can be compared on
the same data later, and returned as an `EvalReport` that every front end renders. The model
and the metric libraries load only when an evaluation runs.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeAlias, TypeVar

from clustering.embedding import DEFAULT_SEED
from indexer.eval_data import (
    EvalDataError,
    EvalTable,
    label_column,
    numbers,
    read_pairs,
    read_table,
    require_rows,
    select_groups,
    text_columns,
    texts,
)

if TYPE_CHECKING:
    from app.service.core import Service
    from clustering.evaluate import ClusterScores
    from indexer.encoder import Encoder
    from indexer.evaluate import Correlation, PairScores, RetrievalScores

    # Per similarity; with a language column, per language (and "all" or "average") first.
    StsMetrics: TypeAlias = dict[str, Correlation] | dict[str, dict[str, Correlation]]
    RetrievalMetrics: TypeAlias = RetrievalScores | dict[str, RetrievalScores]

EvalKind = Literal["pairs", "sts", "retrieval", "clusters"]
M = TypeVar("M")
_CLUSTER_LABEL_GUESSES = ("label", "intent", "topic", "category", "class")


@dataclass(frozen=True)
class EvalReport(Generic[M]):
    """One evaluation, as stored (`id` is its row)."""

    id: int
    kind: EvalKind
    model: str
    file: Path
    sha256: str
    rows: int
    seconds: float
    metrics: M
    stored_metrics: dict[str, Any]  # `metrics` as plain JSON values, as the database holds them
    group_sizes: dict[str, int] | None = None  # rows per language, with a language column

    def record(self) -> dict[str, Any]:
        """The result as one JSON-ready document (what `--json` prints)."""
        return {
            "id": self.id, "kind": self.kind, "model": self.model, "file": str(self.file),
            "sha256": self.sha256, "rows": self.rows, "seconds": self.seconds,
            "metrics": self.stored_metrics,
        }  # fmt: skip


class Evaluation:
    """The evaluation use cases of one `Service`."""

    def __init__(self, service: Service) -> None:
        self.service = service

    def pairs(
        self,
        file: Path,
        *,
        model: str | None = None,
        text_names: Sequence[str] | None = None,
        label: str | None = None,
    ) -> EvalReport[dict[str, PairScores]]:
        """Pair classification (two texts and a 0/1 label): accuracy, F1, precision, recall,
        AP, per similarity."""
        from indexer.evaluate import encode_pairs, pair_classification

        data = read_pairs(file, text_names=text_names, label=label)
        started = time.perf_counter()
        encoder = self._encoder(model)
        metrics = pair_classification(*encode_pairs(encoder, data.first, data.second), data.labels)
        return self._stored("pairs", encoder, data.table, metrics, started)

    def sts(
        self,
        file: Path,
        *,
        model: str | None = None,
        text_names: Sequence[str] | None = None,
        label: str | None = None,
        lang_column: str | None = None,
        langs: Sequence[str] | None = None,
        truncate_dim: int | None = None,
    ) -> EvalReport[StsMetrics]:
        """Semantic similarity (two texts and a score): Pearson and Spearman per similarity;
        with `lang_column`, the cosine's per language (or language pair) and over all rows."""
        from indexer.evaluate import encode_pairs, sts_by_group
        from indexer.evaluate import sts as sts_scores

        data = read_pairs(
            file, text_names=text_names, label=label, binary=False, min_rows=3,
            group_column=lang_column, groups=langs,
        )  # fmt: skip
        started = time.perf_counter()
        encoder = self._encoder(model, truncate_dim)
        vectors = encode_pairs(encoder, data.first, data.second)
        metrics: StsMetrics = (
            sts_by_group(*vectors, data.scores, data.groups)
            if data.groups is not None
            else sts_scores(*vectors, data.scores)
        )
        return self._stored("sts", encoder, data.table, metrics, started, data.groups)

    def retrieval(
        self,
        file: Path,
        *,
        model: str | None = None,
        text_names: Sequence[str] | None = None,
        label: str | None = None,
        lang_column: str | None = None,
        langs: Sequence[str] | None = None,
        truncate_dim: int | None = None,
    ) -> EvalReport[RetrievalMetrics]:
        """Duplicate retrieval: every second text in one pool, each first text's partner found
        in it; with `lang_column`, one pool per language, and the average."""
        from indexer.evaluate import retrieval as retrieval_scores
        from indexer.evaluate import retrieval_by_group

        table, groups, (first, second) = _retrieval_columns(
            file, text_names, label, lang_column, langs
        )
        started = time.perf_counter()
        encoder = self._encoder(model, truncate_dim)
        queries, partners = texts(table, first), texts(table, second)
        metrics: RetrievalMetrics = (
            retrieval_by_group(encoder, queries, partners, groups)
            if groups is not None
            else retrieval_scores(encoder, queries, partners)
        )
        return self._stored("retrieval", encoder, table, metrics, started, groups)

    def clusters(
        self,
        file: Path,
        *,
        model: str | None = None,
        text_names: Sequence[str] | None = None,
        label: str | None = None,
        min_cluster_size: int | None = None,
        seed: int = DEFAULT_SEED,
    ) -> EvalReport[ClusterScores]:
        """Topic clustering (a text and a label), the same stage as a clustering run, in
        memory: V-measure, adjusted Rand index, noise share."""
        from clustering.evaluate import evaluate_clustering
        from clustering.params import ClusterParams

        table = read_table(file)
        require_rows(table, 3)
        label_name = _cluster_label(table, label)
        (text,) = text_columns(table, text_names, 1, label_name)
        params = ClusterParams(min_cluster_size=min_cluster_size, random_state=seed, make_map=False)
        started = time.perf_counter()
        encoder = self._encoder(model)
        vectors = encoder.encode(texts(table, text), show_progress=len(table.frame) > 1000)
        truth = table.frame[label_name].astype(str).tolist()
        metrics = evaluate_clustering(vectors, truth, params)
        return self._stored("clusters", encoder, table, metrics, started)

    def _encoder(self, model: str | None, truncate_dim: int | None = None) -> Encoder:
        from indexer.encoder import Encoder

        settings = self.service.settings
        return Encoder.for_new_corpus(
            model or settings.model, truncate_dim=truncate_dim, device=settings.device,
            batch_size=settings.batch_size,
        )  # fmt: skip

    def _stored(
        self,
        kind: EvalKind,
        encoder: Encoder,
        table: EvalTable,
        metrics: M,
        started: float,
        groups: Sequence[str] | None = None,
    ) -> EvalReport[M]:
        from db.models import EvalResult
        from indexer.evaluate import as_record

        seconds = time.perf_counter() - started
        plain: dict[str, Any] = as_record(metrics)
        with self.service.sessions.begin() as session:
            row = EvalResult(
                kind=kind, model=encoder.spec.model, data_path=str(table.path.resolve()),
                data_sha256=table.sha256, rows=len(table.frame), metrics=plain, seconds=seconds,
            )  # fmt: skip
            session.add(row)
            session.flush()
            result_id = row.id
        return EvalReport(
            result_id, kind, encoder.spec.model, table.path, table.sha256, len(table.frame),
            seconds, metrics, plain, dict(Counter(groups)) if groups is not None else None,
        )  # fmt: skip


def _retrieval_columns(
    file: Path,
    text_names: Sequence[str] | None,
    label: str | None,
    lang_column: str | None,
    langs: Sequence[str] | None,
) -> tuple[EvalTable, list[str] | None, tuple[str, str]]:
    """The rows that are queries (the duplicates, when there is a label), each row's language,
    and the query and partner columns."""
    table = read_table(file)
    columns = list(table.frame.columns)
    label_name = (
        label_column(table, label)
        if label or any(guess in columns for guess in ("label", "is_duplicate", "duplicate"))
        else ""
    )
    if label_name:
        duplicates = table.frame[numbers(table, label_name) == 1].reset_index(drop=True)
        table = EvalTable(table.path, duplicates, table.sha256)
    table, groups = select_groups(table, lang_column, langs)
    require_rows(table)
    skip = [label_name, *([lang_column] if lang_column else [])]
    first, second = text_columns(table, text_names, 2, skip)
    return table, groups, (first, second)


def _cluster_label(table: EvalTable, label: str | None) -> str:
    columns = list(table.frame.columns)
    name = label or next((c for c in _CLUSTER_LABEL_GUESSES if c in columns), None)
    if name is None or name not in columns:
        raise EvalDataError(
            f"{table.path}: no label column (looked for {', '.join(_CLUSTER_LABEL_GUESSES)}); "
            f"name it with --label. Columns: {', '.join(columns)}"
        )
    return name
