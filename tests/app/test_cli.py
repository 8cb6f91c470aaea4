"""The CLI end to end through Typer's runner: real database, real model, real index."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from db.settings import Settings, get_settings
from tests.conftest import write_csv

QUESTIONS = [
    "How do I reset my password?",
    "I forgot my password and need a new one",
    "Where can I download my invoices?",
    "Can I pay with PayPal?",
]


@pytest.fixture
def cli(settings: Settings, cli_for: Callable[[Settings], CliRunner]) -> CliRunner:
    return cli_for(settings)


def _questions_file(settings: Settings) -> Path:
    return write_csv(
        settings.data_dir.parent / "q.csv",
        [{"question": q, "id": str(i)} for i, q in enumerate(QUESTIONS)],
    )


@pytest.fixture
def ingested(cli: CliRunner, settings: Settings) -> CliRunner:
    path = _questions_file(settings)
    result = cli.invoke(
        app, ["ingest", str(path), "--corpus", "support", "--text-column", "question", "-q"]
    )
    assert result.exit_code == 0, result.output
    assert "4 rows read, 4 new" in result.output
    assert "questions from column 'question'" in result.output  # named here; guessed, it says too
    return cli


def test_search_json(ingested: CliRunner) -> None:
    result = ingested.invoke(
        app, ["search", "password reset", "-c", "support", "-k", "2", "--json"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert [hit["text"] for hit in payload["hits"]][0] == QUESTIONS[0]
    assert len(payload["hits"]) == 2


def test_dupes_json_and_text(ingested: CliRunner) -> None:
    result = ingested.invoke(
        app, ["dupes", "How can I reset my password?", "-c", "support", "--json"]
    )
    payload = json.loads(result.output)
    assert payload["verdict"] == "duplicate"
    assert payload["matches"][0]["text"] == QUESTIONS[0]
    text = ingested.invoke(app, ["dupes", "What time is it in Tokyo?", "-c", "support"])
    assert text.output.startswith("new")


def test_threshold_per_corpus(ingested: CliRunner) -> None:
    assert "0.80 (default)" in ingested.invoke(app, ["threshold", "support"]).output
    assert "0.93 (own)" in ingested.invoke(app, ["threshold", "support", "0.93"]).output
    listing = ingested.invoke(app, ["corpora", "--json"])
    assert json.loads(listing.output)[0]["duplicate_threshold"] == 0.93
    bad = ingested.invoke(app, ["threshold", "support", "1.5"])
    assert bad.exit_code == 1
    assert "cosine in (0, 1]" in bad.output


def test_threshold_says_where_it_comes_from_and_what_labels_would_tell(
    ingested: CliRunner, settings: Settings
) -> None:
    shown = ingested.invoke(app, ["threshold", "support"]).output
    assert "support: 0.80 (default); possible duplicates from 0.70" in shown
    assert "no pair labelled yet: label 20 pairs to know your precision" in shown
    ingested.invoke(app, ["threshold", "support", "0.9"])
    answer = ingested.invoke(
        app, ["dupes", "How can I reset my password?", "-c", "support", "--json"]
    )
    assert json.loads(answer.stdout)["threshold_source"] == "own"

    from sqlalchemy import select

    from db.labels import record_label
    from db.models import PairVerdict, Question
    from db.queries import get_corpus
    from db.session import open_database

    with open_database(settings.resolved_database_url).begin() as session:
        first, second = session.scalars(select(Question.id).order_by(Question.id).limit(2))
        corpus_id = get_corpus(session, "support").id
        record_label(
            session, corpus_id, (first, second), PairVerdict.DUPLICATE, similarity=0.9, by="t"
        )
    shown = ingested.invoke(app, ["threshold", "support"]).output
    assert "support: 0.90 (own); possible duplicates from 0.80" in shown
    assert "1 labelled pair" in shown
    assert "label 20 pairs" not in shown


def test_a_one_row_file_reads_1_row_and_guesses_its_text_column(
    cli: CliRunner, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "one.csv", [{"ticket": "T1", "Title": QUESTIONS[0]}])
    result = cli.invoke(app, ["ingest", str(path), "-c", "one", "-q"])
    assert result.exit_code == 0, result.output
    assert "1 row read, 1 new" in result.output
    assert "questions from column 'Title'" in result.output
    assert "encoded 1 question; index IDMap2,Flat holds 1 vector" in result.output


def test_bad_input_gives_one_clear_line_and_exit_code(cli: CliRunner, tmp_path: Path) -> None:
    blank = tmp_path / "blank.txt"
    blank.write_text("\n \n")
    result = cli.invoke(app, ["ingest", str(blank), "--corpus", "support", "-q"])
    assert result.exit_code == 1
    assert "blank.txt:1: empty or whitespace-only question" in result.output
    assert "no usable question" in result.output


def test_unknown_format_is_refused(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(app, ["ingest", str(tmp_path / "q.csv"), "-c", "x", "--format", "xls"])
    assert result.exit_code == 1
    assert "unknown format 'xls'" in result.output


def test_truncate_dim_and_prompt_are_recorded_for_a_new_corpus(
    cli: CliRunner, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "q.csv", [{"question": q} for q in QUESTIONS])
    args = [
        "ingest",
        str(path),
        "-c",
        "short",
        "--truncate-dim",
        "128",
        "--prompt",
        "query: ",
        "-q",
    ]
    assert cli.invoke(app, args).exit_code == 0
    result = cli.invoke(app, ["search", "password reset", "-c", "short", "-k", "1", "--json"])
    assert json.loads(result.output)["hits"][0]["text"] == QUESTIONS[0]
    from sqlalchemy import select

    from db.models import Encoder as EncoderRow
    from db.session import open_database

    with open_database(get_settings().resolved_database_url)() as session:
        row = session.scalars(select(EncoderRow)).one()
    assert (row.dimension, row.truncate_dim, row.prompt) == (128, 128, "query: ")


def test_questions_stored_but_not_encoded_are_reported_not_answered_new(
    ingested: CliRunner, settings: Settings
) -> None:
    """As after an ingest killed between storing and encoding: once, every `dupes` answered
    'new' and `search` found nothing, with no warning."""
    from sqlalchemy import delete, select

    from db.models import Question, QuestionVector
    from db.session import open_database

    with open_database(settings.resolved_database_url).begin() as session:
        newest = session.scalar(select(Question.id).order_by(Question.id.desc()))
        session.execute(delete(QuestionVector).where(QuestionVector.question_id == newest))
    listing = ingested.invoke(app, ["corpora"])
    assert "1 question of corpus 'support' is not encoded yet" in listing.output
    found = ingested.invoke(app, ["search", "PayPal", "-c", "support", "--json"])
    assert json.loads(found.stdout)["not_encoded"] == 1
    verdict = ingested.invoke(app, ["dupes", "Is the app available in French?", "-c", "support"])
    assert verdict.exit_code == 1
    assert "not encoded yet" in str(verdict.exception) + verdict.output
    again = ingested.invoke(app, ["ingest", str(_questions_file(settings)), "-c", "support", "-q"])
    assert "encoded 1 question;" in again.output
    verdict = ingested.invoke(app, ["dupes", "Is the app available in French?", "-c", "support"])
    assert verdict.exit_code == 0, verdict.output
