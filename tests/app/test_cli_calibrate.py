"""`qclust calibrate` for real: a pairs file or the analysts' labels set the corpus threshold."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from app.cli import app
from db.labels import record_label
from db.models import PairVerdict, Question, ThresholdCalibration
from db.queries import get_corpus
from db.session import open_database
from db.settings import Settings
from indexer.calibration import CalibrationError
from tests.conftest import write_csv

QUESTIONS = [
    "How do I reset my password?",
    "Where can I download my invoices?",
    "How do I cancel my subscription?",
    "Is there a dark mode?",
]
PARAPHRASES = [
    ("How do I reset my password?", "I forgot my password, how do I reset it?"),
    ("How can I change my password?", "What's the way to update my password?"),
    ("Where are my invoices?", "Where can I download my past invoices?"),
    ("How do I cancel my plan?", "How can I cancel my subscription?"),
    ("Is there a dark mode?", "Can I switch the app to a dark theme?"),
    ("Can I pay with PayPal?", "Do you accept PayPal payments?"),
    ("How do I export my data?", "Can I download all my data as a file?"),
    ("Does the app work offline?", "Can I use the app without internet?"),
    ("How do I invite a teammate?", "How can I add a colleague to my workspace?"),
    ("Why was my card declined?", "My credit card payment was refused, why?"),
    ("How do I delete my account?", "I want to remove my account permanently"),
    ("What are your support hours?", "When is customer support available?"),
]


@pytest.fixture
def cli(settings: Settings, cli_for: Callable[[Settings], CliRunner], tmp_path: Path) -> CliRunner:
    runner = cli_for(settings)
    path = write_csv(tmp_path / "q.csv", [{"question": q} for q in QUESTIONS])
    result = runner.invoke(app, ["ingest", str(path), "-c", "support", "-q"])
    assert result.exit_code == 0, result.output
    return runner


def pairs_file(tmp_path: Path) -> Path:
    positives = [{"question1": a, "question2": b, "is_duplicate": "1"} for a, b in PARAPHRASES]
    negatives = [
        {"question1": a, "question2": PARAPHRASES[(i + 5) % len(PARAPHRASES)][1],
         "is_duplicate": "0"}
        for i, (a, _) in enumerate(PARAPHRASES)
    ]  # fmt: skip
    return write_csv(tmp_path / "pairs.csv", positives + negatives)


def test_a_pairs_file_sets_the_threshold_and_the_probability(
    cli: CliRunner, tmp_path: Path, settings: Settings
) -> None:
    result = cli.invoke(
        app, ["calibrate", "support", "--pairs", str(pairs_file(tmp_path)), "--json"]
    )
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert (record["positives"], record["negatives"]) == (12, 12)
    assert 0.3 < record["threshold"] < 0.95
    assert record["cv_precision"] > 0.7
    with open_database(settings.resolved_database_url)() as session:
        corpus = get_corpus(session, "support")
        assert corpus.duplicate_threshold == pytest.approx(record["threshold"])
        stored = session.scalars(select(ThresholdCalibration)).one()
        assert stored.source == "0 analyst labels; 24 pairs from pairs.csv"

    check = cli.invoke(app, ["dupes", "How do I reset my password?", "-c", "support", "--json"])
    answer = json.loads(check.output)
    assert answer["threshold"] == pytest.approx(record["threshold"])
    assert answer["probability"] > 0.9  # the very question: cosine 1
    assert answer["threshold_source"] == "calibrated"
    text = cli.invoke(app, ["dupes", "How do I reset my password?", "-c", "support"])
    assert "P(duplicate)" in text.output
    assert "(calibrated threshold" in text.output
    shown = cli.invoke(app, ["threshold", "support"]).output
    assert f"support: {record['threshold']:.2f} (calibrated)" in shown


def test_analyst_labels_are_learnt_from_and_too_few_are_refused(
    cli: CliRunner, settings: Settings
) -> None:
    sessions = open_database(settings.resolved_database_url)
    with sessions.begin() as session:
        corpus_id = get_corpus(session, "support").id
        ids = list(session.scalars(select(Question.id).order_by(Question.id)))
        record_label(session, corpus_id, (ids[0], ids[1]), PairVerdict.DUPLICATE,
                     similarity=0.9, by="ana")  # fmt: skip
    result = cli.invoke(app, ["calibrate", "support"])
    assert isinstance(result.exception, CalibrationError)
    assert "there are 1 and 0" in str(result.exception)

    result = cli.invoke(app, ["calibrate", "support", "--no-labels"])
    assert result.exit_code == 1
    assert "nothing to learn from" in result.output
