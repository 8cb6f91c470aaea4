from __future__ import annotations

import pytest

from indexer.validation import check_question, clean_text, text_hash


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
