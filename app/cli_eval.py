"""`qclust eval pairs|sts|retrieval|clusters FILE`: a model judged on the user's own data.

Each result is printed (a table, or `--json`) and stored in the database with the model and the
file's SHA-256, so two models can be compared on the same data later.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import typer
from rich.table import Table

from app.cli_common import JsonOption, app, out
from db.models import EvalResult
from db.session import open_database
from db.settings import Settings, get_settings
from indexer.eval_data import (
    EvalDataError,
    EvalTable,
    label_column,
    numbers,
    read_table,
    require_rows,
    text_columns,
    texts,
)

if TYPE_CHECKING:  # the model and the metrics load only when an evaluation runs
    from indexer.encoder import Encoder
    from indexer.evaluate import PairScores

eval_app = typer.Typer(help="Judge a model on your data: pairs, STS, retrieval, clusters.")
app.add_typer(eval_app, name="eval")

FileArgument = Annotated[Path, typer.Argument(help="CSV, TSV, JSONL or Parquet file.")]
ModelOption = Annotated[
    str | None, typer.Option(help="Model folder or hub name (default: QCLUST_MODEL).")
]
TextColumnsOption = Annotated[
    str | None, typer.Option(help="Text column(s), comma-separated (default: guessed).")
]
LabelOption = Annotated[str | None, typer.Option(help="Label or score column (default: guessed).")]


def _encoder(settings: Settings, model: str | None) -> Encoder:
    from indexer.encoder import Encoder

    return Encoder.for_new_corpus(
        model or settings.model, device=settings.device, batch_size=settings.batch_size
    )


def _names(option: str | None) -> list[str] | None:
    return [name.strip() for name in option.split(",") if name.strip()] if option else None


def _store(
    settings: Settings, kind: str, model: str, table: EvalTable, metrics: Any, seconds: float
) -> int:
    from indexer.evaluate import as_record

    sessions = open_database(settings.resolved_database_url)
    with sessions.begin() as session:
        result = EvalResult(
            kind=kind,
            model=model,
            data_path=str(table.path.resolve()),
            data_sha256=table.sha256,
            rows=len(table.frame),
            metrics=as_record(metrics),
            seconds=seconds,
        )
        session.add(result)
        session.flush()
        return result.id


def _emit(
    kind: str,
    model: str,
    table: EvalTable,
    metrics: Any,
    seconds: float,
    *,
    as_json: bool,
    settings: Settings,
    render: Any,
) -> None:
    from indexer.evaluate import as_record

    result_id = _store(settings, kind, model, table, metrics, seconds)
    if as_json:
        record = {"id": result_id, "kind": kind, "model": model, "file": str(table.path)}
        record |= {"sha256": table.sha256, "rows": len(table.frame), "seconds": seconds}
        print(json.dumps(record | {"metrics": as_record(metrics)}))
        return
    render(metrics)
    out.print(f"{kind} on {table.path} ({len(table.frame):,} rows) with {model}: {seconds:.1f} s")


def _pairs_table(metrics: dict[str, PairScores]) -> None:
    table = Table(
        "similarity",
        "accuracy",
        "threshold",
        "F1",
        "threshold",
        "precision",
        "recall",
        "AP",
        box=None,
        header_style="bold",
    )
    for name, s in metrics.items():
        table.add_row(
            name,
            f"{s.accuracy:.4f}",
            f"{s.accuracy_threshold:.4f}",
            f"{s.f1:.4f}",
            f"{s.f1_threshold:.4f}",
            f"{s.precision:.4f}",
            f"{s.recall:.4f}",
            f"{s.average_precision:.4f}",
        )
    out.print(table)


@eval_app.command()
def pairs(
    file: FileArgument,
    model: ModelOption = None,
    text_column: TextColumnsOption = None,
    label: LabelOption = None,
    as_json: JsonOption = False,
) -> None:
    """Pair classification (two texts and a 0/1 label): accuracy, F1, precision, recall, AP."""
    from indexer.evaluate import encode_pairs, pair_classification

    settings = get_settings()
    table = read_table(file)
    require_rows(table)
    label_name = label_column(table, label)
    first, second = text_columns(table, _names(text_column), 2, label_name)
    labels = numbers(table, label_name)
    if not labels.isin([0, 1]).all():
        bad = labels[~labels.isin([0, 1])].iloc[0]
        raise EvalDataError(f"{file}: labels must be 0 or 1; column '{label_name}' has {bad:g}")
    started = time.perf_counter()
    encoder = _encoder(settings, model)
    a, b = encode_pairs(encoder, texts(table, first), texts(table, second))
    metrics = pair_classification(a, b, labels.to_numpy(dtype=np.int64))
    _emit(
        "pairs",
        encoder.spec.model,
        table,
        metrics,
        time.perf_counter() - started,
        as_json=as_json,
        settings=settings,
        render=_pairs_table,
    )


@eval_app.command()
def sts(
    file: FileArgument,
    model: ModelOption = None,
    text_column: TextColumnsOption = None,
    label: LabelOption = None,
    as_json: JsonOption = False,
) -> None:
    """Semantic similarity (two texts and a score): Pearson and Spearman of each similarity."""
    from indexer.evaluate import Correlation, encode_pairs
    from indexer.evaluate import sts as sts_scores

    settings = get_settings()
    table = read_table(file)
    require_rows(table, 3)
    label_name = label_column(table, label)
    first, second = text_columns(table, _names(text_column), 2, label_name)
    gold = numbers(table, label_name)
    started = time.perf_counter()
    encoder = _encoder(settings, model)
    a, b = encode_pairs(encoder, texts(table, first), texts(table, second))
    metrics = sts_scores(a, b, gold.to_numpy(dtype=np.float64))

    def render(found: dict[str, Correlation]) -> None:
        grid = Table("similarity", "Pearson", "Spearman", box=None, header_style="bold")
        for name, c in found.items():
            grid.add_row(name, f"{c.pearson:.4f}", f"{c.spearman:.4f}")
        out.print(grid)

    _emit(
        "sts",
        encoder.spec.model,
        table,
        metrics,
        time.perf_counter() - started,
        as_json=as_json,
        settings=settings,
        render=render,
    )


@eval_app.command()
def retrieval(
    file: FileArgument,
    model: ModelOption = None,
    text_column: TextColumnsOption = None,
    label: LabelOption = None,
    as_json: JsonOption = False,
) -> None:
    """Duplicate retrieval: every second text in one pool; find each first text's partner."""
    from indexer.evaluate import RetrievalScores
    from indexer.evaluate import retrieval as retrieval_scores

    settings = get_settings()
    table = read_table(file)
    require_rows(table)
    columns = list(table.frame.columns)
    label_name = (
        label_column(table, label)
        if label or any(guess in columns for guess in ("label", "is_duplicate", "duplicate"))
        else ""
    )
    first, second = text_columns(table, _names(text_column), 2, label_name)
    if label_name:  # only the duplicate pairs are queries
        duplicates = table.frame[numbers(table, label_name) == 1].reset_index(drop=True)
        table = EvalTable(table.path, duplicates, table.sha256)
        require_rows(table)
    started = time.perf_counter()
    encoder = _encoder(settings, model)
    metrics = retrieval_scores(encoder, texts(table, first), texts(table, second))

    def render(found: RetrievalScores) -> None:
        grid = Table(
            "queries",
            "pool",
            *(f"recall@{k}" for k in found.recall),
            "MRR@10",
            box=None,
            header_style="bold",
        )
        grid.add_row(
            f"{found.queries:,}",
            f"{found.candidates:,}",
            *(f"{v:.4f}" for v in found.recall.values()),
            f"{found.mrr_at_10:.4f}",
        )
        out.print(grid)

    _emit(
        "retrieval",
        encoder.spec.model,
        table,
        metrics,
        time.perf_counter() - started,
        as_json=as_json,
        settings=settings,
        render=render,
    )


@eval_app.command()
def clusters(
    file: FileArgument,
    model: ModelOption = None,
    text_column: TextColumnsOption = None,
    label: LabelOption = None,
    min_cluster_size: Annotated[int | None, typer.Option(min=2)] = None,
    seed: Annotated[int | None, typer.Option(help="Fix UMAP's randomness.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Topic clustering (text and label): V-measure, adjusted Rand index, noise share."""
    from clustering.evaluate import ClusterScores, evaluate_clustering
    from clustering.params import ClusterParams

    settings = get_settings()
    table = read_table(file)
    require_rows(table, 3)
    columns = list(table.frame.columns)
    label_name = label or next(
        (c for c in ("label", "intent", "topic", "category", "class") if c in columns), None
    )
    if label_name is None or label_name not in columns:
        raise EvalDataError(
            f"{file}: no label column (looked for label, intent, topic, category, class); "
            f"name it with --label. Columns: {', '.join(columns)}"
        )
    (text,) = text_columns(table, _names(text_column), 1, label_name)
    params = ClusterParams(min_cluster_size=min_cluster_size, random_state=seed, make_map=False)
    started = time.perf_counter()
    encoder = _encoder(settings, model)
    vectors = encoder.encode(texts(table, text), show_progress=len(table.frame) > 1000)
    truth = table.frame[label_name].astype(str).tolist()
    metrics = evaluate_clustering(vectors, truth, params)

    def render(found: ClusterScores) -> None:
        grid = Table(
            "questions",
            "labels",
            "clusters",
            "noise",
            "V-measure",
            "ARI",
            box=None,
            header_style="bold",
        )
        grid.add_row(
            f"{found.questions:,}",
            f"{found.true_labels:,}",
            f"{found.clusters:,}",
            f"{found.noise_share:.1%}",
            f"{found.v_measure:.4f}",
            f"{found.adjusted_rand:.4f}",
        )
        out.print(grid)

    _emit(
        "clusters",
        encoder.spec.model,
        table,
        metrics,
        time.perf_counter() - started,
        as_json=as_json,
        settings=settings,
        render=render,
    )
