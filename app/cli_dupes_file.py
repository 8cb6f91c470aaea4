"""`qclust dupes --file`: every question of a file checked against a corpus, written back with
all of the file's own columns and, per row, the verdict and the best match.

Rows go to the check in batches, so a long file costs a few calls rather than one per
question (over HTTP too). A bad row is reported with its line, as ingest reports it, and left
out; only a file with no usable row at all fails.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from app.cli_common import emit_json, err, fail, plural
from app.question_files import QuestionFile, read_question_file
from db.settings import get_settings
from indexer.readers import FileFormat

if TYPE_CHECKING:
    import pandas as pd

    from app.service.results import Check

Checker = Callable[[Sequence[str]], "list[Check]"]
OutputKind = Literal["csv", "parquet", "jsonl", "json"]
OUTPUT_SUFFIXES: dict[str, OutputKind] = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
}
# What each row gains, and the type its column keeps in CSV and Parquet (an id with gaps must
# not turn into a float, '17.0').
RESULT_COLUMNS: dict[str, str] = {
    "verdict": "object",
    "score": "float64",
    "threshold": "float64",
    "probability": "float64",
    "match_id": "Int64",
    "match_external_id": "object",
    "match_text": "object",
    "match_cluster": "Int64",
    "match_cluster_name": "object",
    "canonical_text": "object",
}
BATCH_SIZE = 64
SCORE_DIGITS = 4  # as the UI's download: float32 cosines carry no more, '1.0000001' is noise
_SHOWN_REJECTIONS = 50


def output_kind(output: Path | None, as_json: bool) -> OutputKind:
    """What to write: one JSON document for --json, else by the output's suffix (CSV to stdout)."""
    if as_json:
        if output is not None:
            fail("--json prints one document on standard output; for a file use --output NAME.json")
        return "json"
    if output is None:
        return "csv"
    kind = OUTPUT_SUFFIXES.get(output.suffix.lower())
    if kind is None:
        fail(
            f"cannot tell the output format from the suffix '{output.suffix}' of {output}; "
            f"use one of {', '.join(OUTPUT_SUFFIXES)}"
        )
    return kind


def check_file(
    path: Path,
    corpus: str,
    check: Checker,
    *,
    text_column: str | None,
    id_column: str | None,
    file_format: FileFormat | None,
    output: Path | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Check every usable row of `path` with `check` and write the results."""
    from app.progress import StageProgress

    kind = output_kind(output, as_json)
    questions = read_question_file(
        path, text_column=text_column, id_column=id_column, file_format=file_format,
        max_chars=get_settings().max_question_chars,
    )  # fmt: skip
    _report_rejections(questions)
    if not questions.rows:
        fail(f"no usable question in {path}; nothing was checked")
    texts = [row.text for row in questions.rows]
    checks: list[Check] = []
    with StageProgress(err, enabled=not quiet and len(texts) > BATCH_SIZE) as progress:
        for start in range(0, len(texts), BATCH_SIZE):
            checks += check(texts[start : start + BATCH_SIZE])
            progress("checking", len(checks), len(texts))
    columns, records = result_records(questions, checks)
    if kind == "json":
        emit_json(_document(corpus, questions, columns, records))
    else:
        _write(kind, output, questions.columns, columns, records)
    counts = Counter(check.verdict for check in checks)
    err.print(
        f"checked {plural(len(checks), 'question')} of {path} against corpus '{corpus}': "
        + ", ".join(f"{counts[v]:,} {v}" for v in ("duplicate", "possible", "new"))
        + (f"; {plural(len(questions.rejections), 'row')} rejected" if questions.rejections else "")
        + (f"; results in {output}" if output else ""),
        highlight=False,
    )


def result_fields(check: Check) -> dict[str, Any]:
    """The verdict and the best match, whatever its score (the verdict says how close it is);
    the canonical question only for a duplicate or a possible one, where it is the answer."""
    best = check.best
    return {
        "verdict": check.verdict,
        "score": round(best.score, SCORE_DIGITS) if best else None,
        "threshold": check.threshold,
        "probability": None
        if check.probability is None
        else round(check.probability, SCORE_DIGITS),
        "match_id": best.question_id if best else None,
        "match_external_id": best.external_id if best else None,
        "match_text": best.text if best else None,
        "match_cluster": best.cluster if best else None,
        "match_cluster_name": best.cluster_name if best else None,
        "canonical_text": best.canonical_text if best and check.verdict != "new" else None,
    }


def result_names(own: Sequence[str]) -> dict[str, str]:
    """Result column -> its name in the output: prefixed `qclust_` where the file has one so
    named, so that none of the file's own values is overwritten."""
    return {name: f"qclust_{name}" if name in own else name for name in RESULT_COLUMNS}


def result_records(
    questions: QuestionFile, checks: Sequence[Check]
) -> tuple[list[str], list[dict[str, Any]]]:
    """The output's columns (the file's, then the results') and one record per usable row."""
    names = result_names(questions.columns)
    records = [
        {
            **{column: row.values.get(column) for column in questions.columns},
            **{names[key]: value for key, value in result_fields(check).items()},
        }
        for row, check in zip(questions.rows, checks, strict=True)
    ]
    return [*questions.columns, *names.values()], records


def results_frame(
    own: Sequence[str],
    columns: Sequence[str],
    records: Sequence[dict[str, Any]],
    *,
    own_as_text: bool = False,
) -> pd.DataFrame:
    """The records as a table; the file's columns keep their values as read (objects), or as
    text for CSV, where a whole number with a gap beside it would otherwise come out '3.0'."""
    import pandas as pd

    dtypes = {result_names(own)[name]: dtype for name, dtype in RESULT_COLUMNS.items()}
    own_columns = set(own)

    def values(column: str) -> list[Any]:
        cells = [record[column] for record in records]
        if own_as_text and column in own_columns:
            return [v if v is None or isinstance(v, str) else str(v) for v in cells]
        return cells

    return pd.DataFrame(
        {
            column: pd.Series(values(column), dtype=dtypes.get(column, "object"))
            for column in columns
        }
    )


def _document(
    corpus: str, questions: QuestionFile, columns: list[str], records: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "corpus": corpus,
        "file": str(questions.path),
        "text_column": questions.text_column,
        "columns": columns,
        "rows": records,
        "rejected": [{"line": r.line, "reason": r.reason} for r in questions.rejections],
    }


def _write(
    kind: OutputKind,
    output: Path | None,
    own: list[str],
    columns: list[str],
    records: list[dict[str, Any]],
) -> None:
    if kind == "jsonl":
        lines = (json.dumps(r, default=str, ensure_ascii=False) + "\n" for r in records)
        put_bytes(output, "".join(lines).encode("utf-8"))
        return
    frame = results_frame(own, columns, records, own_as_text=kind == "csv")
    if kind == "csv":
        from app.csv_export import safe_csv

        put_bytes(output, safe_csv(frame))
    elif output is not None:  # Parquet: only ever chosen by an output file's suffix
        write_parquet(frame, output)


def write_parquet(frame: pd.DataFrame, output: Path) -> None:
    from app.csv_export import parquet_bytes

    output.write_bytes(parquet_bytes(frame))


def put_bytes(output: Path | None, data: bytes) -> None:
    if output is None:
        sys.stdout.write(data.decode("utf-8"))
        sys.stdout.flush()
    else:
        output.write_bytes(data)


def _report_rejections(questions: QuestionFile) -> None:
    for rejection in questions.rejections[:_SHOWN_REJECTIONS]:
        err.print(f"{questions.path}:{rejection.line}: {rejection.reason}", highlight=False)
    if len(questions.rejections) > _SHOWN_REJECTIONS:
        more = len(questions.rejections) - _SHOWN_REJECTIONS
        err.print(f"... and {plural(more, 'more rejected row')}")
