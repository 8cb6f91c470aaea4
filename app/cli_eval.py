"""`qclust eval pairs|sts|retrieval|clusters FILE`: a model judged on the user's own data.

Each result is printed (a table, or `--json`) and stored in the database with the model and the
file's SHA-256, so two models can be compared on the same data later.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from app.cli_common import JsonOption, app, comma_list, emit_json, out
from db.models import EvalResult
from db.session import open_database
from db.settings import Settings, get_settings
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
TruncateOption = Annotated[
    int | None, typer.Option(min=1, help="Matryoshka: keep this many dimensions.")
]
LangColumnOption = Annotated[
    str | None, typer.Option(help="Column naming each row's language: scores per language.")
]
LangsOption = Annotated[
    str | None, typer.Option(help="Only these languages, comma-separated (with --lang-column).")
]


def _encoder(settings: Settings, model: str | None, truncate_dim: int | None = None) -> Encoder:
    from indexer.encoder import Encoder

    return Encoder.for_new_corpus(
        model or settings.model,
        truncate_dim=truncate_dim,
        device=settings.device,
        batch_size=settings.batch_size,
    )


def _store(
    settings: Settings,
    kind: str,
    model: str,
    table: EvalTable,
    metrics: dict[str, Any],
    seconds: float,
) -> int:
    sessions = open_database(settings.resolved_database_url)
    with sessions.begin() as session:
        result = EvalResult(
            kind=kind,
            model=model,
            data_path=str(table.path.resolve()),
            data_sha256=table.sha256,
            rows=len(table.frame),
            metrics=metrics,
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
    render: Callable[[Any], None],
) -> None:
    """Store the result, then print it: a table, or one JSON line for programs."""
    from indexer.evaluate import as_record

    plain = as_record(metrics)
    result_id = _store(settings, kind, model, table, plain, seconds)
    if as_json:
        record = {"id": result_id, "kind": kind, "model": model, "file": str(table.path)}
        record |= {"sha256": table.sha256, "rows": len(table.frame), "seconds": seconds}
        emit_json(record | {"metrics": plain})
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
    data = read_pairs(file, text_names=comma_list(text_column), label=label)
    started = time.perf_counter()
    encoder = _encoder(settings, model)
    metrics = pair_classification(*encode_pairs(encoder, data.first, data.second), data.labels)
    _emit(
        "pairs",
        encoder.spec.model,
        data.table,
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
    lang_column: LangColumnOption = None,
    langs: LangsOption = None,
    truncate_dim: TruncateOption = None,
    as_json: JsonOption = False,
) -> None:
    """Semantic similarity (two texts and a score): Pearson and Spearman of each similarity.

    With --lang-column, cosine Pearson and Spearman per language (or language pair, as
    `qclust data cross-lingual` writes them) and over all rows.
    """
    from indexer.evaluate import Correlation, encode_pairs, sts_by_group
    from indexer.evaluate import sts as sts_scores

    settings = get_settings()
    data = read_pairs(
        file,
        text_names=comma_list(text_column),
        label=label,
        binary=False,
        min_rows=3,
        group_column=lang_column,
        groups=comma_list(langs),
    )
    started = time.perf_counter()
    encoder = _encoder(settings, model, truncate_dim)
    vectors = encode_pairs(encoder, data.first, data.second)
    metrics: dict[str, Any] = (
        sts_by_group(*vectors, data.scores, data.groups)
        if data.groups is not None
        else sts_scores(*vectors, data.scores)
    )

    def render(found: dict[str, Any]) -> None:
        if data.groups is None:
            grid = Table("similarity", "Pearson", "Spearman", box=None, header_style="bold")
            for name, c in found.items():
                grid.add_row(name, f"{c.pearson:.4f}", f"{c.spearman:.4f}")
        else:
            grid = Table("language", "pairs", "Pearson", "Spearman", box=None, header_style="bold")
            counts = Counter(data.groups)
            for group, by_similarity in found.items():
                cosine: Correlation = by_similarity["cosine"]
                pairs = counts[group] if group in counts else len(data.groups)
                grid.add_row(group, f"{pairs:,}", f"{cosine.pearson:.4f}", f"{cosine.spearman:.4f}")
        out.print(grid)

    _emit(
        "sts",
        encoder.spec.model,
        data.table,
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
    lang_column: LangColumnOption = None,
    langs: LangsOption = None,
    truncate_dim: TruncateOption = None,
    as_json: JsonOption = False,
) -> None:
    """Duplicate retrieval: every second text in one pool; find each first text's partner.

    With --lang-column, one pool per language: cross-lingual retrieval on translation pairs
    (each sentence against the English translations of its language), with the average.
    """
    from indexer.evaluate import RetrievalScores, retrieval_by_group
    from indexer.evaluate import retrieval as retrieval_scores

    settings = get_settings()
    table = read_table(file)
    columns = list(table.frame.columns)
    label_name = (
        label_column(table, label)
        if label or any(guess in columns for guess in ("label", "is_duplicate", "duplicate"))
        else ""
    )
    if label_name:  # only the duplicate pairs are queries
        duplicates = table.frame[numbers(table, label_name) == 1].reset_index(drop=True)
        table = EvalTable(table.path, duplicates, table.sha256)
    table, groups = select_groups(table, lang_column, comma_list(langs))
    require_rows(table)
    skip = [label_name, *([lang_column] if lang_column else [])]
    first, second = text_columns(table, comma_list(text_column), 2, skip)
    started = time.perf_counter()
    encoder = _encoder(settings, model, truncate_dim)
    queries, partners = texts(table, first), texts(table, second)
    metrics: RetrievalScores | dict[str, RetrievalScores] = (
        retrieval_by_group(encoder, queries, partners, groups)
        if groups is not None
        else retrieval_scores(encoder, queries, partners)
    )

    def render(found: RetrievalScores | dict[str, RetrievalScores]) -> None:
        by_group = found if isinstance(found, dict) else {"": found}
        recall_at = next(iter(by_group.values())).recall
        grid = Table(
            *(["language"] if groups is not None else []),
            "queries",
            "pool",
            *(f"recall@{k}" for k in recall_at),
            "MRR@10",
            box=None,
            header_style="bold",
        )
        for group, scores in by_group.items():
            grid.add_row(
                *([group] if groups is not None else []),
                f"{scores.queries:,}",
                f"{scores.candidates:,}",
                *(f"{v:.4f}" for v in scores.recall.values()),
                f"{scores.mrr_at_10:.4f}",
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
    (text,) = text_columns(table, comma_list(text_column), 1, label_name)
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
