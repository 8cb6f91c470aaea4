"""A question file as its owner sees it: every column in the file's order, which one holds the
text, and each row's own values, read through the same reader that ingest uses.

The reader hands on a row's text, id and the other non-empty values; the header (or the first
JSON object, or the Parquet schema) says which columns the file has and in what order, so that
results written next to the rows keep all of them, empty ones included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexer.readers import (
    FileFormat,
    _check_readable,
    _csv_records,
    _first_object,
    _text_lines,
    detect_format,
    read_rows,
    resolve_column,
)
from indexer.validation import Rejection, check_row

TEXT_FILE_COLUMN = "question"  # a plain text file has one unnamed column: the questions


@dataclass(frozen=True)
class FileRow:
    line: int
    text: str
    values: dict[str, Any]  # the file's own columns, as read


@dataclass
class QuestionFile:
    path: Path
    columns: list[str]  # every column of the file, in its order
    text_column: str
    id_column: str | None
    rows: list[FileRow] = field(default_factory=list)  # the usable rows
    rejections: list[Rejection] = field(default_factory=list)  # the others, with their lines


def header_columns(path: Path, file_format: FileFormat | None = None) -> list[str]:
    """The columns a readable file names, in order (JSONL: those of its first object)."""
    fmt = file_format or detect_format(path)
    if fmt == "txt":
        return [TEXT_FILE_COLUMN]
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return list(pq.ParquetFile(path).schema_arrow.names)
    encoding = _check_readable(path, fmt)
    if fmt == "jsonl":
        return list(_first_object(path, encoding) or {})
    records = _csv_records(_text_lines(path, encoding), "\t" if fmt == "tsv" else ",")
    try:
        header = next(records, None)
    finally:
        records.close()
    return list(dict.fromkeys(header[1])) if isinstance(header, tuple) else []


def text_column_of(
    path: Path, text_column: str | None, file_format: FileFormat | None = None
) -> str | None:
    """The column the reader takes the text from (None for a plain text file), guessed as the
    reader guesses it when not named."""
    fmt = file_format or detect_format(path)
    if fmt == "txt":
        return None
    return resolve_column(header_columns(path, fmt), text_column, path)


def read_question_file(
    path: Path,
    *,
    text_column: str | None,
    id_column: str | None,
    file_format: FileFormat | None,
    max_chars: int,
) -> QuestionFile:
    """Every row of `path`: usable ones with their values, bad ones as rejections (line and
    reason, as ingest reports them). Raises `InputFileError` when the file is unusable."""
    rows = read_rows(path, text_column=text_column, id_column=id_column, file_format=file_format)
    fmt = file_format or detect_format(path)
    columns = header_columns(path, fmt)
    text = TEXT_FILE_COLUMN if fmt == "txt" else resolve_column(columns, text_column, path)
    result = QuestionFile(path, columns, text, id_column)
    for row in rows:
        problem = check_row(row, max_chars=max_chars)
        if problem is not None or row.text is None:
            reason = problem.message if problem else "no text in the question column"
            result.rejections.append(Rejection(row.line, reason))
            continue
        values = {text: row.text, **({id_column: row.external_id} if id_column else {})}
        for key, value in (row.meta or {}).items():
            values[key] = value
            if key not in columns:  # a JSONL object with keys the first one lacked
                columns.append(key)
        result.rows.append(FileRow(row.line, row.text, values))
    return result
