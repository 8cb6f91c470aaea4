"""`qclust eval pairs|sts|retrieval|clusters FILE`: a model judged on the user's own data.

The service evaluates and stores each result (with the model and the file's SHA-256, so two
models can be compared on the same data later); these commands parse, call and print a table
or `--json`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.table import Table

from app.cli_common import JsonOption, app, comma_list, emit_json, open_service, out
from clustering.embedding import DEFAULT_SEED

if TYPE_CHECKING:  # the metrics types load only when an evaluation runs
    from app.service.evaluation import EvalReport, RetrievalMetrics, StsMetrics
    from clustering.evaluate import ClusterScores
    from indexer.evaluate import Correlation, PairScores

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


def _emit(report: EvalReport[Any], *, as_json: bool, render: Callable[[], None]) -> None:
    """Print the stored result: a table, or one JSON line for programs."""
    if as_json:
        emit_json(report.record())
        return
    render()
    out.print(
        f"{report.kind} on {report.file} ({report.rows:,} rows) with {report.model}: "
        f"{report.seconds:.1f} s"
    )


def _pairs_table(metrics: dict[str, PairScores]) -> None:
    """Accuracy and F1 each at the threshold that maximises it: two thresholds, each said with
    the score it belongs to."""
    table = Table(
        "similarity",
        "accuracy",
        "acc-threshold",
        "F1",
        "F1-threshold",
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


def _sts_table(report: EvalReport[StsMetrics]) -> None:
    sizes = report.group_sizes
    if sizes is None:
        grid = Table("similarity", "Pearson", "Spearman", box=None, header_style="bold")
        for name, c in cast("dict[str, Correlation]", report.metrics).items():
            grid.add_row(name, f"{c.pearson:.4f}", f"{c.spearman:.4f}")
    else:  # per language, then per similarity
        grid = Table("language", "pairs", "Pearson", "Spearman", box=None, header_style="bold")
        by_group = cast("dict[str, dict[str, Correlation]]", report.metrics)
        for group, by_similarity in by_group.items():
            cosine = by_similarity["cosine"]
            pairs = sizes.get(group, sum(sizes.values()))  # "all": every row
            grid.add_row(group, f"{pairs:,}", f"{cosine.pearson:.4f}", f"{cosine.spearman:.4f}")
    out.print(grid)


def _retrieval_table(report: EvalReport[RetrievalMetrics]) -> None:
    found, by_language = report.metrics, report.group_sizes is not None
    by_group = found if isinstance(found, dict) else {"": found}
    recall_at = next(iter(by_group.values())).recall
    grid = Table(
        *(["language"] if by_language else []),
        "queries",
        "pool",
        *(f"recall@{k}" for k in recall_at),
        "MRR@10",
        box=None,
        header_style="bold",
    )
    for group, scores in by_group.items():
        grid.add_row(
            *([group] if by_language else []),
            f"{scores.queries:,}",
            f"{scores.candidates:,}",
            *(f"{v:.4f}" for v in scores.recall.values()),
            f"{scores.mrr_at_10:.4f}",
        )
    out.print(grid)


def _clusters_table(found: ClusterScores) -> None:
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


@eval_app.command()
def pairs(
    file: FileArgument,
    model: ModelOption = None,
    text_column: TextColumnsOption = None,
    label: LabelOption = None,
    as_json: JsonOption = False,
) -> None:
    """Pair classification (two texts and a 0/1 label): accuracy, F1, precision, recall, AP."""
    report = open_service().evaluation.pairs(
        file, model=model, text_names=comma_list(text_column), label=label
    )
    _emit(report, as_json=as_json, render=lambda: _pairs_table(report.metrics))


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
    report = open_service().evaluation.sts(
        file, model=model, text_names=comma_list(text_column), label=label,
        lang_column=lang_column, langs=comma_list(langs), truncate_dim=truncate_dim,
    )  # fmt: skip
    _emit(report, as_json=as_json, render=lambda: _sts_table(report))


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
    report = open_service().evaluation.retrieval(
        file, model=model, text_names=comma_list(text_column), label=label,
        lang_column=lang_column, langs=comma_list(langs), truncate_dim=truncate_dim,
    )  # fmt: skip
    _emit(report, as_json=as_json, render=lambda: _retrieval_table(report))


@eval_app.command()
def clusters(
    file: FileArgument,
    model: ModelOption = None,
    text_column: TextColumnsOption = None,
    label: LabelOption = None,
    min_cluster_size: Annotated[int | None, typer.Option(min=2)] = None,
    seed: Annotated[int, typer.Option(help="Seed the layouts.")] = DEFAULT_SEED,
    as_json: JsonOption = False,
) -> None:
    """Topic clustering (text and label): V-measure, adjusted Rand index, noise share."""
    report = open_service().evaluation.clusters(
        file, model=model, text_names=comma_list(text_column), label=label,
        min_cluster_size=min_cluster_size, seed=seed,
    )  # fmt: skip
    _emit(report, as_json=as_json, render=lambda: _clusters_table(report.metrics))
