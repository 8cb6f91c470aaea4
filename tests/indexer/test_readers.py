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
        (4, "Multi\nline", "2", {"topic": "b"}),
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
