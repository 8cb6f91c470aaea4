"""Which bytes a text file is read as: BOMs, UTF-16 without one, stray NULs, real binaries."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from indexer.errors import InputFileError
from indexer.readers import read_rows
from indexer.validation import check_row

CSV = "id,question\n1,How do I reset my password?\n2,Où est ma commande ?\n3,日本語の質問?\n"
EXPECTED = [
    ("1", "How do I reset my password?"),
    ("2", "Où est ma commande ?"),
    ("3", "日本語の質問?"),
]


def _read(path: Path) -> list[tuple[str | None, str | None]]:
    return [(r.external_id, r.text) for r in read_rows(path, id_column="id")]


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("utf-8", b"\xef\xbb\xbf"),
        ("utf-16-le", b"\xff\xfe"),
        ("utf-16-be", b"\xfe\xff"),
        ("utf-32-le", b"\xff\xfe\x00\x00"),
        ("utf-32-be", b"\x00\x00\xfe\xff"),
    ],
)
def test_csv_with_a_byte_order_mark(tmp_path: Path, encoding: str, bom: bytes) -> None:
    path = tmp_path / "q.csv"
    path.write_bytes(bom + CSV.encode(encoding))
    assert _read(path) == EXPECTED


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_bom_is_recognised(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "q.csv"
    path.write_bytes(CSV.encode(encoding))
    assert _read(path) == EXPECTED


def test_utf16_jsonl_and_txt(tmp_path: Path) -> None:
    jsonl = tmp_path / "q.jsonl"
    jsonl.write_text(
        json.dumps({"text": "Où?"}) + "\n" + json.dumps({"text": "Why?"}) + "\n", encoding="utf-16"
    )
    assert [r.text for r in read_rows(jsonl)] == ["Où?", "Why?"]
    txt = tmp_path / "q.txt"
    txt.write_bytes("First?\r\nSecond?\r\n".encode("utf-16-le"))
    assert [(r.line, r.text) for r in read_rows(txt)] == [(1, "First?"), (2, "Second?")]


def test_a_few_nul_bytes_cost_only_their_rows(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    good = [f"{n},Question number {n}?" for n in range(1, 7)]
    path.write_bytes(
        ("id,question\n" + "\n".join(good[:3]) + "\n").encode()
        + b"7,Broken\x00question?\n"
        + ("\n".join(good[3:]) + "\n").encode()
    )
    rows = list(read_rows(path, id_column="id"))
    problems = {r.line: check_row(r, max_chars=2000) for r in rows}
    assert [line for line, problem in problems.items() if problem is None] == [2, 3, 4, 6, 7, 8]
    bad = problems[5]
    assert bad is not None
    assert "NUL" in bad.message


def test_nul_in_a_metadata_column_of_a_csv(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_bytes(b"question,topic\nFine?,a\nAlso fine?,b\x00c\n")
    problems = [check_row(r, max_chars=2000) for r in read_rows(path)]
    assert problems[0] is None
    assert problems[1] is not None
    assert problems[1].kind == "NUL byte"
    assert "'topic'" in problems[1].message


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "PNG"),
        # mtime=0: the header's timestamp would make the test id differ between the workers
        # that collect it a second apart, and pytest-xdist then refuses the whole run.
        (gzip.compress(b"question\nHow?\n" * 100, mtime=0), "gzip"),
        (b"PK\x03\x04\x00\x00binary", "zip"),
        (bytes(range(32)) * 64, "control bytes"),
        (b"\x00\x01\x02binary", "binary"),
        (b"\x00\x01\x02\x03 not text", "binary"),
    ],
    ids=["png", "gzip", "zip", "control-bytes", "binary", "binary-text"],
)
def test_binary_files_are_still_refused(tmp_path: Path, content: bytes, what: str) -> None:
    path = tmp_path / "q.csv"
    path.write_bytes(content)
    with pytest.raises(InputFileError, match="looks like a binary file") as caught:
        read_rows(path)
    assert what in str(caught.value)


def test_leading_feff_is_stripped_from_the_first_question(tmp_path: Path) -> None:
    doubled = tmp_path / "q.csv"
    doubled.write_bytes(b"\xef\xbb\xbf" + "\ufeffquestion\nHow?\n".encode())
    assert [r.text for r in read_rows(doubled)] == ["How?"]
    jsonl = tmp_path / "q.jsonl"
    jsonl.write_text('{"text": "\\ufeffFirst?"}\n{"text": "\\ufeffSecond?"}\n', encoding="utf-8")
    assert next(read_rows(jsonl)).text == "First?"
    txt = tmp_path / "q.txt"
    txt.write_bytes(b"\xff\xfe" + "\ufeffFirst?\nSecond?\n".encode("utf-16-le"))
    assert [r.text for r in read_rows(txt)] == ["First?", "Second?"]


def test_undecodable_utf16_costs_only_its_row(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    lone_surrogate = b"\x00\xd8"  # half of a UTF-16 pair, then an ordinary character
    path.write_bytes(
        b"\xff\xfe"
        + "question\nFirst?\nBad ".encode("utf-16-le")
        + lone_surrogate
        + "x?\nLast?\n".encode("utf-16-le")
    )
    problems = [check_row(r, max_chars=2000) for r in read_rows(path)]
    assert problems[0] is None
    assert problems[2] is None
    assert problems[1] is not None
    assert problems[1].kind == "not UTF-8"
