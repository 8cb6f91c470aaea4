"""`qclust dupes --file`, checked for real against the small support corpus: the file's own
columns survive in every output format, verdicts are right, bad rows are reported and skipped,
spreadsheet formulas are neutralised in CSV. And with QCLUST_SERVER set, `search` and `dupes`
ask the server instead of loading a model."""

from __future__ import annotations

import csv
import io
import json
import sys
import types
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from app import cli_dupes_file
from app.cli import app
from app.cli_dupes_file import RESULT_COLUMNS
from app.service.results import Check, Match, SearchResult
from db.settings import Settings
from tests.app.conftest import CORPUS, UiCorpus

FORMULA = '=HYPERLINK("http://evil.example","click")'
OWN_COLUMNS = ["ticket", "question", "priority", "notes"]
ROWS = [
    ["T-1", "How can I reset my password?", "high", ""],  # s01, reworded: a duplicate
    [FORMULA, "What time is it in Tokyo?", "low", "a, quoted note"],  # new
    ["T-3", "   ", "high", "blank question"],  # line 4: rejected
    ["T-4", "Where do I find my past invoices and receipts?", "-5", ""],  # s18, as stored
]


@pytest.fixture
def cli(app_env: UiCorpus, cli_for: Callable[[Settings], CliRunner]) -> CliRunner:
    return cli_for(app_env.settings)


@pytest.fixture
def questions(tmp_path: Path) -> Path:
    path = tmp_path / "check.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(OWN_COLUMNS)
        writer.writerows(ROWS)
    return path


def run_ok(cli: CliRunner, *args: str) -> tuple[str, str]:
    """(stdout, stdout and stderr together)."""
    result = cli.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout, result.output


def assert_checked(rows: list[dict[str, object]]) -> None:
    """The three usable rows, in the file's order, with the right verdicts and matches."""
    assert [row["question"] for row in rows] == [ROWS[0][1], ROWS[1][1], ROWS[3][1]]
    assert [row["verdict"] for row in rows] == ["duplicate", "new", "duplicate"]
    assert rows[0]["match_external_id"] == "s01"
    assert rows[0]["match_text"] == "How do I reset my password?"
    assert rows[2]["match_external_id"] == "s18"
    assert float(str(rows[0]["threshold"])) == pytest.approx(0.80)


def test_csv_keeps_the_files_columns_and_neutralises_formulas(
    cli: CliRunner, questions: Path
) -> None:
    stdout, output = run_ok(cli, "dupes", "--file", str(questions), "-c", CORPUS)
    assert f"{questions}:4: empty or whitespace-only question" in output
    assert "checked 3 questions" in output
    assert "2 duplicate, 0 possible, 1 new; 1 row rejected" in output
    table = list(csv.reader(io.StringIO(stdout)))
    assert table[0] == [*OWN_COLUMNS, *RESULT_COLUMNS]
    rows = [dict(zip(table[0], row, strict=True)) for row in table[1:]]
    assert_checked(rows)  # type: ignore[arg-type]
    assert [row["ticket"] for row in rows] == ["T-1", "'" + FORMULA, "T-4"]
    assert [row["priority"] for row in rows] == ["high", "low", "'-5"]
    assert [row["notes"] for row in rows] == ["", "a, quoted note", ""]
    assert float(rows[0]["score"]) > 0.8
    assert rows[2]["score"] == "1.0"  # rounded: float32 noise is not a score


def test_parquet_and_jsonl_outputs_read_back(
    cli: CliRunner, questions: Path, tmp_path: Path
) -> None:
    parquet = tmp_path / "out.parquet"
    _, output = run_ok(cli, "dupes", "-f", str(questions), "-c", CORPUS, "-o", str(parquet))
    assert f"results in {parquet}" in output
    frame = pd.read_parquet(parquet)
    assert list(frame.columns) == [*OWN_COLUMNS, *RESULT_COLUMNS]
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    assert_checked(records)  # type: ignore[arg-type]
    assert list(frame["ticket"]) == ["T-1", FORMULA, "T-4"]  # data, not a spreadsheet
    assert pd.api.types.is_integer_dtype(frame["match_id"])

    jsonl = tmp_path / "out.jsonl"
    run_ok(cli, "dupes", "-f", str(questions), "-c", CORPUS, "-o", str(jsonl))
    lines = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    assert list(lines[0]) == [*OWN_COLUMNS, *RESULT_COLUMNS]
    assert_checked(lines)
    assert lines[0]["notes"] is None  # empty in the file, null here


def test_json_is_one_document_with_the_rejections(cli: CliRunner, questions: Path) -> None:
    stdout, _ = run_ok(cli, "dupes", "--file", str(questions), "-c", CORPUS, "--json")
    document = json.loads(stdout)
    assert document["corpus"] == CORPUS
    assert document["text_column"] == "question"
    assert document["columns"] == [*OWN_COLUMNS, *RESULT_COLUMNS]
    assert document["rejected"] == [{"line": 4, "reason": "empty or whitespace-only question"}]
    assert_checked(document["rows"])
    assert document["rows"][1]["ticket"] == FORMULA


def test_a_parquet_file_keeps_whole_numbers_and_a_clashing_column(
    cli: CliRunner, tmp_path: Path
) -> None:
    """An integer column with a gap stays '3', not '3.0'; a column the file already calls
    'score' keeps its values, and the result's gets a prefix."""
    source = tmp_path / "in.parquet"
    pd.DataFrame(
        {
            "text": ["How do I reset my password?", "Is there a dark mode?"],
            "votes": pd.Series([3, None], dtype="Int64"),
            "score": ["mine", "mine too"],
        }
    ).to_parquet(source)
    stdout, _ = run_ok(cli, "dupes", "-f", str(source), "-c", CORPUS)
    assert stdout.startswith("text,votes,score,verdict,")  # the summary went to stderr
    table = list(csv.DictReader(io.StringIO(stdout)))
    assert [row["votes"] for row in table] == ["3", ""]
    assert [row["score"] for row in table] == ["mine", "mine too"]
    assert float(table[0]["qclust_score"]) == pytest.approx(1.0)


def test_question_or_file_and_the_output_format_are_checked(
    cli: CliRunner, questions: Path
) -> None:
    for args, message in [
        (["dupes", "x", "--file", str(questions)], "not both"),
        (["dupes"], "give a QUESTION to check, or --file FILE"),
        (["dupes", "x", "-o", "out.csv"], "go with --file"),
        (["dupes", "-f", str(questions), "-o", "out.xlsx"], "cannot tell the output format"),
        (["dupes", "-f", str(questions), "--json", "-o", "a.json"], "--output NAME.json"),
        (["dupes", "-f", str(questions), "--text-column", "body"], "no column 'body'"),
    ]:
        result = cli.invoke(app, [*args, "-c", CORPUS])
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output + str(result.exception), (args, result.output)
    single = cli.invoke(app, ["dupes", "How can I reset my password?", "-c", CORPUS])
    assert single.stdout.startswith("duplicate (default threshold 0.80")


# --- QCLUST_SERVER: the server answers ------------------------------------------------------


class FakeServer:
    """What `app.remote` would get back from a server, and what it was asked."""

    url = "http://qclust.example:8600"

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def module(self) -> types.ModuleType:
        module = types.ModuleType("app.remote")
        module.server_url = lambda: self.url  # type: ignore[attr-defined]
        module.remote_search = self.search  # type: ignore[attr-defined]
        module.remote_check = self.check  # type: ignore[attr-defined]
        return module

    def search(self, corpus: str, query: str, k: int) -> SearchResult:
        hit = Match(7, "From the server", 0.9, "srv-7", cluster=2, cluster_name="server side")
        return SearchResult(corpus, query, [hit], not_encoded=0, revision=41)

    def check(
        self, corpus: str, questions: Sequence[str], *, k: int, threshold: float | None
    ) -> list[Check]:
        self.batches.append(list(questions))
        best = Match(7, "From the server", 0.95, "srv-7", canonical_id=7, canonical_text="Canon")
        return [
            Check(q, "duplicate", 0.8, 0.7, "own", None, matches=[best], nearest=[best])
            for q in questions
        ]


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> FakeServer:
    fake = FakeServer()
    monkeypatch.setitem(sys.modules, "app.remote", fake.module())

    def no_local_service() -> None:
        raise AssertionError("with QCLUST_SERVER set, nothing is answered here")

    monkeypatch.setattr("app.cli_answers.open_service", no_local_service)
    return fake


def test_search_and_dupes_ask_the_server(
    cli: CliRunner, server: FakeServer, questions: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    said = f"asking the qclust server at {server.url} (QCLUST_SERVER)"
    stdout, output = run_ok(cli, "search", "anything", "-c", CORPUS, "--json")
    assert output.count(said) == 1
    assert json.loads(stdout)["hits"][0]["cluster_name"] == "server side"
    assert json.loads(stdout)["revision"] == 41

    _, output = run_ok(cli, "dupes", "anything", "-c", CORPUS)
    assert output.count(said) == 1
    assert "duplicate (own threshold 0.80" in output
    assert "canonical: Canon" not in output  # the match is its own group's canonical

    monkeypatch.setattr(cli_dupes_file, "BATCH_SIZE", 2)
    stdout, output = run_ok(cli, "dupes", "-f", str(questions), "-c", CORPUS)
    assert output.count(said) == 1
    assert server.batches[-2:] == [[ROWS[0][1], ROWS[1][1]], [ROWS[3][1]]]
    table = list(csv.DictReader(io.StringIO(stdout)))
    assert [row["canonical_text"] for row in table] == ["Canon"] * 3
