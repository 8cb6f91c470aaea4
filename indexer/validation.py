"""What makes a row a question, and the normalised hash that finds exact duplicates."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

_WHITESPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_UNDECODABLE = re.compile(r"[\udc80-\udcff]")  # bytes that were not UTF-8 (surrogateescape)


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
    if _CONTROL.search(text):
        return Problem("control characters", "contains control characters (binary data?)")
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
