"""Question files -> rows. CSV, TSV, JSONL, Parquet and plain text (one question a line).

Readers stream, never load a whole file, and never judge the text: they hand each row on with
its line number, and `validation` decides. Only a problem with the file as a whole (missing,
binary, no such column) raises, because then nothing from it can go in. So a row the reader
cannot make sense of (bad JSON, a quote that never closes, a number where text belongs) is
an error row, not an exception; text files are UTF-8 unless a BOM or UTF-16 NULs say otherwise.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import difflib
import json
import re
import sys
from collections import deque
from collections.abc import Generator, Iterator, Sequence
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
# A quoted CSV field may span this many lines; past it, the quote is taken to be a stray one.
MAX_QUOTED_LINES = 50
_BINARY_SHARE = 0.30  # more NUL/control bytes than this in the head: a binary file
_UTF16_NUL_SHARE = 0.10  # NULs in this share of one byte parity or more: maybe BOM-less UTF-16
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE, whose BOM begins the same way
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"\x1f\x8b", "gzip-compressed: decompress it first"),
    (b"\xfd7zXZ\x00", "xz-compressed: decompress it first"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed: decompress it first"),
    (b"PK\x03\x04", "a zip archive, or an Excel/Office file: export it as CSV"),
    (b"PAR1", "a Parquet file: give it a .parquet suffix or pass --format parquet"),
    (b"SQLite format 3\x00", "an SQLite database"),
)
_CONTROL_BYTES = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ESCAPE = "qclust.escape"

csv.field_size_limit(sys.maxsize)  # over-long questions are rejected by validation, with a reason


def _escape_undecodable(error: UnicodeError) -> tuple[str, int]:
    """surrogateescape for every codec: each undecodable byte becomes U+DC00 + byte.

    Validation then rejects that one row with a reason while the rest of the file goes in;
    surrogateescape itself gives up on bytes under 0x80, which UTF-16 errors can hold.
    """
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    return "".join(chr(0xDC00 + byte) for byte in bad), error.end


codecs.register_error(_ESCAPE, _escape_undecodable)


@dataclass(frozen=True)
class SourceRow:
    line: int
    text: str | None
    external_id: str | None = None
    meta: dict[str, Any] | None = None
    error: str | None = None  # set when the row itself could not be parsed
    error_kind: str = "unparseable"  # the short kind that reports count, when `error` is set


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
    encoding = _check_readable(path, fmt)
    if fmt == "parquet":
        rows = _parquet_rows(path, text_column, id_column)
    elif fmt == "jsonl":
        rows = _jsonl_rows(path, encoding, text_column, id_column)
    elif fmt == "txt":
        rows = _text_rows(path, encoding)
    else:
        delimiter = "\t" if fmt == "tsv" else ","
        rows = _delimited_rows(path, encoding, delimiter, text_column, id_column)
    return _without_leading_bom(rows)


def _check_readable(path: Path, fmt: FileFormat) -> str:
    """The encoding to read `path` with; refuses a missing, folder or binary file."""
    if not path.exists():
        raise InputFileError(f"{path}: no such file")
    if path.is_dir():
        raise InputFileError(f"{path}: is a folder, not a file")
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if fmt == "parquet":
        if not head.startswith(b"PAR1"):
            raise InputFileError(f"{path}: not a Parquet file (no PAR1 header)")
        return "binary"
    encoding, why_binary = _sniff_encoding(head)
    if why_binary is not None:
        raise InputFileError(f"{path}: looks like a binary file, not {fmt} text ({why_binary})")
    return encoding


def _sniff_encoding(head: bytes) -> tuple[str, str | None]:
    """The encoding of a file that starts with `head`, or why it is not text at all.

    A byte-order mark decides; then a known binary signature; then NULs in every other byte
    (UTF-16 without a BOM). Otherwise UTF-8, unless the head is mostly control bytes: a few
    NULs in a text file cost only their rows, which validation rejects.
    """
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding, None
    for magic, what in _SIGNATURES:
        if head.startswith(magic):
            return "", what
    utf16 = _utf16_without_bom(head)
    if utf16 is not None:
        return utf16, None
    control = len(head) - len(head.translate(None, _CONTROL_BYTES))
    if control > _BINARY_SHARE * len(head):
        share = f"{control / len(head):.1%}"
        return "", f"{share} of the first {len(head):,} bytes are NUL or other control bytes"
    if head.startswith(b"\x00"):
        return "", "it starts with a NUL byte"
    return "utf-8", None


def _utf16_without_bom(head: bytes) -> str | None:
    """UTF-16 LE or BE when NULs fill one byte parity and the head decodes to clean text."""
    even, odd = head[0::2].count(0), head[1::2].count(0)
    if max(even, odd) < _UTF16_NUL_SHARE * (len(head) // 2) or min(even, odd) * 10 > max(even, odd):
        return None
    encoding = "utf-16-be" if even > odd else "utf-16-le"
    try:
        text = codecs.getincrementaldecoder(encoding)().decode(head, final=False)
    except UnicodeDecodeError:
        return None
    if not text or len(_CONTROL_CHARS.findall(text)) > 0.01 * len(text):
        return None
    return encoding


def _text_lines(path: Path, encoding: str) -> Generator[str, None, None]:
    """Physical lines with their ends; a second BOM at the start (U+FEFF) is dropped."""
    # newline="" keeps line ends as they are, which csv needs for quoted fields
    with path.open(encoding=encoding, errors=_ESCAPE, newline="") as handle:
        lines = iter(handle)
        first = next(lines, None)
        if first is None:
            return
        yield first.removeprefix("\ufeff")
        yield from lines


def _without_leading_bom(rows: Iterator[SourceRow]) -> Iterator[SourceRow]:
    """A U+FEFF that starts the first question is a stray BOM (e.g. inside a JSON string)."""
    first = next(rows, None)
    if first is None:
        return
    if first.text is not None and first.text.startswith("\ufeff"):
        first = dataclasses.replace(first, text=first.text[1:])
    yield first
    yield from rows


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


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, bytes):
        return "bytes"
    return f"a {type(value).__name__} value"


def _external_id(raw: Any) -> tuple[str | None, str | None]:
    """The id as stored, or what it holds instead: a string or a whole number (a float that is
    whole counts: pandas writes an integer column with gaps as floats); other floats are not."""
    if raw is None or raw == "":
        return None, None
    if isinstance(raw, str):
        return raw, None
    if isinstance(raw, int) and not isinstance(raw, bool):
        return str(raw), None
    if isinstance(raw, float):
        if raw.is_integer():
            return str(int(raw)), None
        return None, f"a decimal number ({raw!r})"
    return None, _describe(raw)


def _source_row(
    number: int,
    record: dict[str, Any],
    text_column: str,
    id_column: str | None,
    *,
    null_text: bool = False,
) -> SourceRow:
    """One record as a row; a text that is not a string or a bad id makes it an error row.

    `null_text`: an explicit null (JSON) is a wrong type; elsewhere None is just no text.
    """
    text = record.get(text_column)
    if not isinstance(text, str) and (text is not None or (null_text and text_column in record)):
        why = f"the text column '{text_column}' holds {_describe(text)}, not a string"
        return SourceRow(number, None, error=why, error_kind="not a string")
    external_id, wrong_id = _external_id(record.get(id_column) if id_column else None)
    if wrong_id is not None:
        why = f"the id column '{id_column}' holds {wrong_id}, not a string or a whole number"
        return SourceRow(number, None, error=why, error_kind="bad id")
    meta = {
        k: v
        for k, v in record.items()
        if k is not None and k not in (text_column, id_column) and v not in (None, "")
    }
    return SourceRow(number, text, external_id, meta or None)


class _UnclosedQuote(Exception):
    """Internal: a quoted field ran past the end of the file or past MAX_QUOTED_LINES lines."""

    def __init__(self, at_eof: bool) -> None:
        how = "never closes" if at_eof else f"does not close within {MAX_QUOTED_LINES} lines"
        super().__init__(f"unterminated quote (the quoted field that starts here {how})")


class _RecordLines:
    """Physical lines for csv.reader, counted per record, so a bad quote can be rewound."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self._replay: deque[tuple[int, str]] = deque()
        self._read = 0  # physical lines taken from the file so far
        self.taken: list[tuple[int, str]] = []  # (line number, line) of the current record

    def __iter__(self) -> _RecordLines:
        return self

    def __next__(self) -> str:
        if len(self.taken) >= MAX_QUOTED_LINES:
            raise _UnclosedQuote(at_eof=False)
        if self._replay:
            number, line = self._replay.popleft()
        else:
            next_line = next(self._lines, None)
            if next_line is None:
                if self.taken:  # csv wants more lines for a record: a quote is still open
                    raise _UnclosedQuote(at_eof=True)
                raise StopIteration
            self._read += 1
            number, line = self._read, next_line
        self.taken.append((number, line))
        return line

    def rewind(self) -> int:
        """Drops the current record's first line, to re-read the rest; that line's number."""
        (first, _), *rest = self.taken
        self._replay.extendleft(reversed(rest))
        self.taken = []
        return first


def _csv_records(
    lines: Iterator[str], delimiter: str
) -> Generator[tuple[int, list[str]] | SourceRow, None, None]:
    """(start line, fields) per record, or an error row; a bad quote costs only its own line.

    Python's csv reads everything after an unclosed quote into one field. Here a quoted field
    that reaches the end of the file, spans more than MAX_QUOTED_LINES lines, or closes in a
    way a strict parser refuses, is reported at the line where it opened, and reading goes
    on from the next line.
    """
    feed = _RecordLines(lines)
    reader = csv.reader(feed, delimiter=delimiter)
    while True:
        feed.taken = []
        kind = "unterminated quote"
        try:
            fields = next(reader)
            why = _strict_failure(feed.taken, delimiter) if len(feed.taken) > 1 else None
        except StopIteration:
            return
        except _UnclosedQuote as exc:
            why = str(exc)
        except csv.Error as exc:
            kind, why = "unparseable", f"cannot parse this record: {exc}"
        if why is None:
            yield feed.taken[0][0], fields
            continue
        yield SourceRow(feed.rewind(), None, error=why, error_kind=kind)
        reader = csv.reader(feed, delimiter=delimiter)  # the old one is stuck inside the quote


def _strict_failure(taken: list[tuple[int, str]], delimiter: str) -> str | None:
    """Why a multi-line record is a stray quote: its closing quote is not followed by , or EOL."""
    try:
        next(csv.reader([line for _, line in taken], delimiter=delimiter, strict=True))
    except csv.Error as exc:
        return (
            "unterminated quote (the quoted field that starts here runs on to line "
            f"{taken[-1][0]}, where it breaks: {exc})"
        )
    return None


def _as_record(header: list[str], fields: list[str]) -> dict[str, Any]:
    """As csv.DictReader does it: missing fields are None, extra ones are dropped."""
    record: dict[str, Any] = dict(zip(header, fields, strict=False))
    for name in header[len(fields) :]:
        record[name] = None
    return record


def _delimited_rows(
    path: Path, encoding: str, delimiter: str, text_column: str | None, id_column: str | None
) -> Iterator[SourceRow]:
    records = _csv_records(_text_lines(path, encoding), delimiter)
    try:
        header = next(records, None)
        if isinstance(header, SourceRow):
            raise InputFileError(f"{path}: line {header.line}: {header.error}, in the header row")
        columns = header[1] if header else []
        if not columns:
            raise InputFileError(f"{path}: empty file (no header row)")
        column = resolve_column(columns, text_column, path)
        if id_column is not None:
            resolve_column(columns, id_column, path, role="id")
    except InputFileError:
        records.close()
        raise

    def rows() -> Iterator[SourceRow]:
        for record in records:
            if isinstance(record, SourceRow):
                yield record
            elif record[1]:  # csv.DictReader skips blank lines too
                yield _source_row(record[0], _as_record(columns, record[1]), column, id_column)

    return rows()


def _first_object(path: Path, encoding: str) -> dict[str, Any] | None:
    lines = _text_lines(path, encoding)
    try:
        for line in lines:
            try:
                parsed = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(parsed, dict):
                return parsed
        return None
    finally:
        lines.close()


def _jsonl_rows(
    path: Path, encoding: str, text_column: str | None, id_column: str | None
) -> Iterator[SourceRow]:
    first_object = _first_object(path, encoding)
    if first_object is None:
        raise InputFileError(f"{path}: no JSON object found; JSONL needs one object per line")
    column = resolve_column(list(first_object), text_column, path)

    def rows() -> Iterator[SourceRow]:
        for number, line in enumerate(_text_lines(path, encoding), start=1):
            yield _jsonl_row(number, line, column, id_column)

    return rows()


def _jsonl_row(number: int, line: str, column: str, id_column: str | None) -> SourceRow:
    if not line.strip():
        return SourceRow(number, "")
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return SourceRow(number, None, error=f"invalid JSON: {exc.msg}")
    if not isinstance(record, dict):
        return SourceRow(number, None, error="not a JSON object")
    return _source_row(number, record, column, id_column, null_text=True)


def _text_rows(path: Path, encoding: str) -> Iterator[SourceRow]:
    for number, line in enumerate(_text_lines(path, encoding), start=1):
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
                yield _source_row(number, record, column, id_column)

    return rows()
