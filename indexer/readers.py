"""Question files -> rows. CSV, TSV, JSONL, Parquet and plain text (one question a line).

Readers stream, never load a whole file, and never judge the text: they hand each row on with
its line number, and `validation` decides. Only a problem with the file as a whole (missing,
binary, no such column) raises, because then nothing from it can go in.
"""

from __future__ import annotations

import csv
import difflib
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from indexer.errors import ColumnNotFoundError, InputFileError

FileFormat = Literal["csv", "tsv", "jsonl", "parquet", "txt"]
FILE_FORMATS: tuple[str, ...] = get_args(FileFormat)
_SUFFIXES: dict[str, FileFormat] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".txt": "txt",
    ".text": "txt",
}
TEXT_COLUMN_GUESSES = ("question", "text", "title", "query", "body", "sentence")
_SNIFF_BYTES = 8192

csv.field_size_limit(sys.maxsize)  # over-long questions are rejected by validation, with a reason


@dataclass(frozen=True)
class SourceRow:
    line: int
    text: str | None
    external_id: str | None = None
    meta: dict[str, Any] | None = None
    error: str | None = None  # set when the row itself could not be parsed


def detect_format(path: Path) -> FileFormat:
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise InputFileError(
            f"{path}: cannot tell the format from the suffix '{path.suffix}'; "
            f"use one of {', '.join(sorted(_SUFFIXES))} or pass --format ({'/'.join(FILE_FORMATS)})"
        )
    return fmt


def read_rows(
    path: Path,
    *,
    text_column: str | None = None,
    id_column: str | None = None,
    file_format: FileFormat | None = None,
) -> Iterator[SourceRow]:
    """Rows of `path`; raises `InputFileError` before the first row when the file is unusable."""
    fmt = file_format or detect_format(path)
    _check_readable(path, fmt)
    if fmt == "parquet":
        return _parquet_rows(path, text_column, id_column)
    if fmt == "jsonl":
        return _jsonl_rows(path, text_column, id_column)
    if fmt == "txt":
        return _text_rows(path)
    return _delimited_rows(path, "\t" if fmt == "tsv" else ",", text_column, id_column)


def _check_readable(path: Path, fmt: FileFormat) -> None:
    if not path.exists():
        raise InputFileError(f"{path}: no such file")
    if path.is_dir():
        raise InputFileError(f"{path}: is a folder, not a file")
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if fmt == "parquet":
        if not head.startswith(b"PAR1"):
            raise InputFileError(f"{path}: not a Parquet file (no PAR1 header)")
    elif b"\x00" in head:
        raise InputFileError(f"{path}: looks like a binary file, not {fmt} text (NUL bytes)")


def _open_text(path: Path) -> Any:
    # surrogateescape keeps undecodable bytes visible, so that one bad row is rejected with a
    # reason while the rest of the file still goes in.
    return path.open(encoding="utf-8-sig", errors="surrogateescape", newline="")


def resolve_column(
    columns: Sequence[str], wanted: str | None, path: Path, role: str = "text"
) -> str:
    """The column to read: `wanted` if present, else a well-known name, else a clear error."""
    if wanted is not None:
        if wanted in columns:
            return wanted
        close = difflib.get_close_matches(wanted, columns, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ColumnNotFoundError(
            f"{path}: no column '{wanted}'{hint}; columns are: {', '.join(columns) or 'none'}"
        )
    lowered = {c.lower(): c for c in columns}
    for guess in TEXT_COLUMN_GUESSES:
        if guess in lowered:
            return lowered[guess]
    if len(columns) == 1:
        return columns[0]
    raise ColumnNotFoundError(
        f"{path}: which column holds the {role}? Pass --text-column; "
        f"columns are: {', '.join(columns) or 'none'}"
    )


def _row_fields(
    record: dict[str, Any], text_column: str, id_column: str | None
) -> tuple[str | None, str | None, dict[str, Any] | None]:
    text = record.get(text_column)
    raw_id = record.get(id_column) if id_column else None
    meta = {
        k: v
        for k, v in record.items()
        if k is not None and k not in (text_column, id_column) and v not in (None, "")
    }
    return (
        None if text is None else str(text),
        None if raw_id in (None, "") else str(raw_id),
        meta or None,
    )


def _delimited_rows(
    path: Path, delimiter: str, text_column: str | None, id_column: str | None
) -> Iterator[SourceRow]:
    handle = _open_text(path)
    reader = csv.DictReader(handle, delimiter=delimiter)
    columns = [c for c in (reader.fieldnames or []) if c is not None]
    if not columns:
        handle.close()
        raise InputFileError(f"{path}: empty file (no header row)")
    column = resolve_column(columns, text_column, path)
    if id_column is not None:
        resolve_column(columns, id_column, path, role="id")

    def rows() -> Iterator[SourceRow]:
        with handle:
            for record in reader:
                text, external_id, meta = _row_fields(record, column, id_column)
                yield SourceRow(reader.line_num, text, external_id, meta)

    return rows()


def _jsonl_rows(path: Path, text_column: str | None, id_column: str | None) -> Iterator[SourceRow]:
    handle = _open_text(path)
    column = text_column
    first_object: dict[str, Any] | None = None
    for line in handle:
        try:
            parsed = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(parsed, dict):
            first_object = parsed
            break
    handle.seek(0)
    if first_object is None:
        handle.close()
        raise InputFileError(f"{path}: no JSON object found; JSONL needs one object per line")
    column = resolve_column(list(first_object), text_column, path)

    def rows() -> Iterator[SourceRow]:
        with handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    yield SourceRow(number, "")
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield SourceRow(number, None, error=f"invalid JSON: {exc.msg}")
                    continue
                if not isinstance(record, dict):
                    yield SourceRow(number, None, error="not a JSON object")
                    continue
                text, external_id, meta = _row_fields(record, column, id_column)
                yield SourceRow(number, text, external_id, meta)

    return rows()


def _text_rows(path: Path) -> Iterator[SourceRow]:
    with _open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            yield SourceRow(number, line.rstrip("\r\n"))


def _parquet_rows(
    path: Path, text_column: str | None, id_column: str | None
) -> Iterator[SourceRow]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise InputFileError(f"{path}: cannot read Parquet: {exc}") from exc
    columns = parquet.schema_arrow.names
    column = resolve_column(columns, text_column, path)
    if id_column is not None:
        resolve_column(columns, id_column, path, role="id")

    def rows() -> Iterator[SourceRow]:
        number = 0
        for batch in parquet.iter_batches(batch_size=10_000):
            for record in batch.to_pylist():
                number += 1
                text, external_id, meta = _row_fields(record, column, id_column)
                yield SourceRow(number, text, external_id, meta)

    return rows()
