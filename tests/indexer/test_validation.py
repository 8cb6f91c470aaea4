from __future__ import annotations

from typing import Any

import pytest

from indexer.readers import SourceRow
from indexer.validation import (
    MAX_EXTERNAL_ID_CHARS,
    Problem,
    check_question,
    check_row,
    clean_text,
    text_hash,
)


def test_hash_ignores_case_whitespace_and_unicode_form() -> None:
    assert text_hash("How do I  reset\tmy password?") == text_hash(" how do i reset my PASSWORD? ")
    assert text_hash("café") == text_hash("cafe\u0301")
    assert text_hash("reset password") != text_hash("reset passwords")


def test_clean_text_collapses_whitespace() -> None:
    assert clean_text("  a\n\tb   c ") == "a b c"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (None, "missing text"),
        ("", "empty"),
        ("   \t ", "empty"),
        ("bad \udce9 byte", "not UTF-8"),
        ("nul\x00byte", "control characters"),
        ("x" * 3000, "too long"),
    ],
)
def test_problems_are_named(text: str | None, kind: str) -> None:
    problem = check_question(text, max_chars=2000)
    assert problem is not None
    assert problem.kind == kind


def test_a_normal_question_passes() -> None:
    assert check_question("How do I reset my password?", max_chars=2000) is None


def test_too_long_message_names_the_limit_and_setting() -> None:
    problem = check_question("y" * 102_400, max_chars=2000)
    assert problem is not None
    assert "102,400" in problem.message
    assert "QCLUST_MAX_QUESTION_CHARS" in problem.message


def test_nul_in_the_text_is_named() -> None:
    problem = check_question("nul\x00byte", max_chars=2000)
    assert problem is not None
    assert "NUL" in problem.message


def _row(
    text: str | None = "Fine?",
    external_id: str | None = None,
    meta: dict[str, Any] | None = None,
) -> SourceRow:
    return SourceRow(7, text, external_id, meta)


def test_check_row_passes_a_good_row() -> None:
    row = _row(external_id="x" * MAX_EXTERNAL_ID_CHARS, meta={"topic": "a", "n": 1, "t": [None]})
    assert check_row(row, max_chars=2000) is None


def test_check_row_reports_what_the_reader_could_not_parse() -> None:
    row = SourceRow(3, None, error="invalid JSON: Expecting value")
    assert check_row(row, max_chars=2000) == Problem("unparseable", "invalid JSON: Expecting value")
    typed = SourceRow(3, None, error="holds a list", error_kind="not a string")
    assert check_row(typed, max_chars=2000) == Problem("not a string", "holds a list")


def test_check_row_checks_the_text() -> None:
    problem = check_row(_row(text="   "), max_chars=2000)
    assert problem is not None
    assert problem.kind == "empty"


@pytest.mark.parametrize(
    ("row", "kind", "where"),
    [
        (_row(external_id="a\x00b"), "NUL byte", "the id"),
        (_row(meta={"topic": "a\x00b"}), "NUL byte", "column 'topic'"),
        (_row(meta={"tags": ["ok", {"deep": "x\x00"}]}), "NUL byte", "column 'tags'"),
        (_row(meta={"to\x00pic": "a"}), "NUL byte", "column 'to\\x00pic'"),
        (_row(meta={"extra": {"k\x00": 1}}), "NUL byte", "column 'extra'"),
        (_row(external_id="caf\udce9"), "not UTF-8", "the id"),
        (_row(meta={"topic": "caf\udce9"}), "not UTF-8", "column 'topic'"),
    ],
)
def test_check_row_rejects_what_the_database_cannot_store(
    row: SourceRow, kind: str, where: str
) -> None:
    problem = check_row(row, max_chars=2000)
    assert problem is not None
    assert problem.kind == kind
    assert where in problem.message


def test_check_row_rejects_an_over_long_id() -> None:
    problem = check_row(_row(external_id="x" * (MAX_EXTERNAL_ID_CHARS + 1)), max_chars=2000)
    assert problem is not None
    assert problem.kind == "id too long"
    assert "201" in problem.message
    assert "200" in problem.message
