"""What makes a row a question, and the normalised hash that finds exact duplicates."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from indexer.readers import SourceRow

MAX_EXTERNAL_ID_CHARS = 200  # the width of question.external_id in the database

_WHITESPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Undecodable bytes come through as lone surrogates (the readers' error handler); a JSON "\ud800"
# escape makes one too. Neither can be encoded as UTF-8, so the database would refuse the batch.
_UNDECODABLE = re.compile(r"[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """The text as stored: whitespace runs collapsed to one space, ends stripped."""
    return _WHITESPACE.sub(" ", text).strip()


def text_hash(text: str) -> str:
    """Equal for texts that differ only in case, Unicode form or whitespace."""
    key = clean_text(unicodedata.normalize("NFKC", text)).casefold()
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Rejection:
    """Why one row was left out, and where it was."""

    line: int
    reason: str


@dataclass(frozen=True)
class Problem:
    """Why a row is not a usable question: a short kind for counting, a message for people."""

    kind: str
    message: str


def check_question(text: str | None, *, max_chars: int) -> Problem | None:
    """What makes `text` unusable as a question, or None when it is fine."""
    if text is None:
        return Problem("missing text", "no text in the question column")
    if _UNDECODABLE.search(text):
        return Problem("not UTF-8", "not valid UTF-8 (convert the file, e.g. with iconv)")
    control = _CONTROL.search(text)
    if control:
        return Problem("control characters", _control_message(control.group()))
    cleaned = clean_text(text)
    if not cleaned:
        return Problem("empty", "empty or whitespace-only question")
    if len(cleaned) > max_chars:
        return Problem(
            "too long",
            f"question is {len(cleaned):,} characters long; the limit is {max_chars:,} "
            "(QCLUST_MAX_QUESTION_CHARS)",
        )
    return None


def _control_message(char: str) -> str:
    if char == "\x00":
        return (
            "contains a NUL byte (binary data, or a file in an encoding that was not recognised?)"
        )
    return f"contains the control character U+{ord(char):04X} (binary data?)"


def check_row(row: SourceRow, *, max_chars: int) -> Problem | None:
    """Why `row` cannot go in, or None: all of it, since one bad value aborts the whole insert."""
    if row.error is not None:
        return Problem(row.error_kind, row.error)
    problem = check_question(row.text, max_chars=max_chars)
    if problem is not None:
        return problem
    if row.external_id is not None:
        problem = _check_stored_string(row.external_id, "the id")
        if problem is None and len(row.external_id) > MAX_EXTERNAL_ID_CHARS:
            problem = Problem(
                "id too long",
                f"the id is {len(row.external_id):,} characters long; "
                f"the limit is {MAX_EXTERNAL_ID_CHARS}",
            )
        if problem is not None:
            return problem
    for key, value in (row.meta or {}).items():
        where = f"column {key!r}"
        for string in (key, *_strings_in(value)):
            problem = _check_stored_string(string, where)
            if problem is not None:
                return problem
    return None


def _check_stored_string(value: str, where: str) -> Problem | None:
    """PostgreSQL refuses NUL in text and JSON, and a lone surrogate cannot be sent at all."""
    if "\x00" in value:
        return Problem("NUL byte", f"contains a NUL byte in {where}")
    if _UNDECODABLE.search(value):
        return Problem(
            "not UTF-8", f"not valid UTF-8 in {where} (convert the file, e.g. with iconv)"
        )
    return None


def _strings_in(value: Any) -> Iterator[str]:
    """Every string in a JSON-like value, keys included, however deeply nested."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                yield key
            yield from _strings_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings_in(item)
