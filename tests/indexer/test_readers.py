from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from indexer.errors import ColumnNotFoundError, InputFileError
from indexer.readers import detect_format, read_rows


def test_csv_rows_carry_lines_ids_and_metadata(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text('id,question,topic\n1,How?,a\n2,"Multi\nline",b\n', encoding="utf-8")
    rows = list(read_rows(path, text_column="question", id_column="id"))
    assert [(r.line, r.text, r.external_id, r.meta) for r in rows] == [
        (2, "How?", "1", {"topic": "a"}),
        (3, "Multi\nline", "2", {"topic": "b"}),  # the line where the record starts
    ]


def test_tsv_and_guessed_text_column(tmp_path: Path) -> None:
    path = tmp_path / "q.tsv"
    path.write_text("label\ttext\nx\tWhere is my order?\n", encoding="utf-8")
    assert [r.text for r in read_rows(path)] == ["Where is my order?"]


def test_jsonl_rejects_bad_lines_but_keeps_good_ones(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    lines = [
        json.dumps({"question": "One?"}),
        "{not json",
        "[1, 2]",
        json.dumps({"question": "Two?"}),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = list(read_rows(path, text_column="question"))
    assert [r.text for r in rows] == ["One?", None, None, "Two?"]
    assert rows[1].error is not None
    assert rows[1].error.startswith("invalid JSON")
    assert rows[2].error == "not a JSON object"


def test_parquet(tmp_path: Path) -> None:
    path = tmp_path / "q.parquet"
    pq.write_table(pa.table({"question": ["A?", "B?"], "n": [1, 2]}), path)
    rows = list(read_rows(path))
    assert [(r.line, r.text, r.meta) for r in rows] == [(1, "A?", {"n": 1}), (2, "B?", {"n": 2})]


def test_plain_text_one_question_a_line(tmp_path: Path) -> None:
    path = tmp_path / "q.txt"
    path.write_text("First?\n\nSecond?\r\n", encoding="utf-8")
    assert [(r.line, r.text) for r in read_rows(path)] == [(1, "First?"), (2, ""), (3, "Second?")]


def test_misnamed_column_suggests_the_right_one(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text("id,question\n1,How?\n", encoding="utf-8")
    with pytest.raises(ColumnNotFoundError, match="did you mean 'question'") as caught:
        read_rows(path, text_column="questoin")
    assert "columns are: id, question" in str(caught.value)


def test_ambiguous_columns_ask_for_text_column(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(ColumnNotFoundError, match="--text-column"):
        read_rows(path)


def test_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(InputFileError, match="binary"):
        read_rows(path)


def test_non_utf8_bytes_reach_validation_as_undecodable(tmp_path: Path) -> None:
    path = tmp_path / "q.txt"
    path.write_bytes(b"Good question?\n" + "Caf\xe9 question?\n".encode("latin-1"))
    rows = list(read_rows(path))
    assert rows[0].text == "Good question?"
    assert rows[1].text is not None
    assert "\udce9" in rows[1].text  # validation rejects this row with a reason


def test_missing_file_unknown_suffix_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="no such file"):
        read_rows(tmp_path / "nope.csv")
    with pytest.raises(InputFileError, match="suffix"):
        detect_format(tmp_path / "q.xlsx")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputFileError, match="empty file"):
        read_rows(empty)


def test_not_parquet(tmp_path: Path) -> None:
    path = tmp_path / "q.parquet"
    path.write_text("question\nA?\n")
    with pytest.raises(InputFileError, match="not a Parquet file"):
        read_rows(path)


def test_csv_row_line_is_where_a_multiline_record_starts(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_bytes(b'id,question\r\n1,"First\r\nsecond\r\nthird"\r\n2,Next?\r\n')
    rows = list(read_rows(path, id_column="id"))
    assert [(r.line, r.text, r.external_id) for r in rows] == [
        (2, "First\r\nsecond\r\nthird", "1"),
        (5, "Next?", "2"),
    ]


def _csv_with_bad_quote(tmp_path: Path, rows_after: int) -> Path:
    lines = ["id,question,topic"]
    lines += [f"{n},Question {n}?,t" for n in range(1, 11)]  # lines 2-11
    lines.append('11,"Broken question, never closed,t')  # line 12
    lines += [f"{n},Question {n}?,t" for n in range(12, 12 + rows_after)]
    path = tmp_path / "q.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_csv_unterminated_quote_costs_only_its_own_line(tmp_path: Path) -> None:
    rows = list(read_rows(_csv_with_bad_quote(tmp_path, 1000), id_column="id"))
    errors = [r for r in rows if r.error is not None]
    assert [(r.line, r.error_kind) for r in errors] == [(12, "unterminated quote")]
    assert errors[0].error is not None
    assert errors[0].error.startswith("unterminated quote (the quoted field that starts here")
    good = [r for r in rows if r.error is None]
    assert len(good) == 1010
    assert all(r.text == f"Question {r.external_id}?" for r in good)
    assert [r.line for r in good] == [*range(2, 12), *range(13, 1013)]


def test_csv_unterminated_quote_near_the_end_of_the_file(tmp_path: Path) -> None:
    rows = list(read_rows(_csv_with_bad_quote(tmp_path, 5), id_column="id"))
    assert [(r.line, r.error is None) for r in rows][9:] == [
        (11, True),
        (12, False),
        *[(line, True) for line in range(13, 18)],
    ]
    assert rows[10].error is not None
    assert "never closes" in rows[10].error


def test_csv_stray_quote_closed_by_a_later_row_is_caught(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text(
        'question,topic\n"Broken,a\nFine?,b\n"Quoted, with comma",c\nLast?,d\n', encoding="utf-8"
    )
    rows = list(read_rows(path))
    assert [(r.line, r.text, r.error_kind if r.error else None) for r in rows] == [
        (2, None, "unterminated quote"),
        (3, "Fine?", None),
        (4, "Quoted, with comma", None),
        (5, "Last?", None),
    ]


def test_csv_sloppy_quote_inside_one_line_is_still_read(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text('question,topic\nHe said "hi",a\n"Quoted" then text,b\n', encoding="utf-8")
    assert [r.text for r in read_rows(path)] == ['He said "hi"', "Quoted then text"]


def test_csv_blank_lines_are_skipped_and_short_rows_have_no_text(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text("topic,question\n\na,One?\nb\nc,Two?,extra\n", encoding="utf-8")
    rows = list(read_rows(path, text_column="question"))
    assert [(r.line, r.text, r.meta) for r in rows] == [
        (3, "One?", {"topic": "a"}),
        (4, None, {"topic": "b"}),
        (5, "Two?", {"topic": "c"}),
    ]


@pytest.mark.parametrize(
    ("value", "holds"),
    [
        (12345, "a number"),
        (1.5, "a number"),
        (True, "a boolean"),
        (None, "null"),
        (["a", "b"], "a list"),
        ({"a": 1}, "an object"),
    ],
)
def test_jsonl_text_that_is_not_a_string_is_rejected_per_row(
    tmp_path: Path, value: object, holds: str
) -> None:
    path = tmp_path / "q.jsonl"
    lines = [{"text": "First?"}, {"text": value}, {"text": "Third?"}]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    rows = list(read_rows(path))
    assert [r.text for r in rows] == ["First?", None, "Third?"]
    assert rows[1].error == f"the text column 'text' holds {holds}, not a string"
    assert rows[1].error_kind == "not a string"


def test_jsonl_ids_numbers_become_strings_other_types_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    ids: list[object] = [7, "a-7", None, "", 8.0, 7.5, [1], {"k": 1}, True]
    path.write_text(
        "".join(json.dumps({"id": i, "text": f"Q{n}?"}) + "\n" for n, i in enumerate(ids)),
        encoding="utf-8",
    )
    rows = list(read_rows(path, id_column="id"))
    assert [r.external_id for r in rows[:5]] == ["7", "a-7", None, None, "8"]
    assert all(r.error is None for r in rows[:5])
    assert [r.error for r in rows[5:]] == [
        f"the id column 'id' holds {holds}, not a string or a whole number"
        for holds in ("a decimal number (7.5)", "a list", "an object", "a boolean")
    ]
    assert {r.error_kind for r in rows[5:]} == {"bad id"}


def test_parquet_non_string_text_is_rejected_per_row_and_int_ids_are_kept(
    tmp_path: Path,
) -> None:
    path = tmp_path / "q.parquet"
    pq.write_table(pa.table({"question": [1, 2], "id": [10, 11]}), path)
    rows = list(read_rows(path, text_column="question", id_column="id"))
    assert [(r.line, r.text, r.error) for r in rows] == [
        (n, None, "the text column 'question' holds a number, not a string") for n in (1, 2)
    ]
    good = tmp_path / "good.parquet"
    pq.write_table(pa.table({"question": ["A?", None], "id": [10, 11]}), good)
    rows = list(read_rows(good, id_column="id"))
    assert [(r.text, r.external_id, r.error) for r in rows] == [
        ("A?", "10", None),
        (None, "11", None),
    ]


def test_csv_unterminated_quote_in_the_header_refuses_the_file(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text('id,"question\n1,How?\n', encoding="utf-8")
    with pytest.raises(InputFileError, match="line 1: unterminated quote .* in the header row"):
        read_rows(path)
