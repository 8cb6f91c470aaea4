"""`qclust train` for real on a tiny model: held-out scores before and after, a registered model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from app.cli import app
from db.models import Encoder as EncoderRow
from db.session import open_database
from db.settings import Settings, get_settings
from indexer.encoder import Encoder, EncoderSpec
from indexer.finetune import Pair, TrainingError, split_by_question
from tests.conftest import write_csv

TOPICS = [
    ("reset my password", "forgot password"),
    ("change my email", "change email account"),
    ("cancel subscription", "cancel my plan"),
    ("refund payment", "refund my card payment"),
    ("download invoice", "invoice download"),
    ("export data", "export my data"),
    ("dark mode app", "app dark mode"),
    ("invite team", "invite my team"),
    ("delete account", "delete my account"),
    ("support hours", "support hours plan"),
]


def pairs_rows() -> list[dict[str, str]]:
    positives = [{"q1": a, "q2": b, "label": "1"} for a, b in TOPICS]
    # Each topic's negative is a text of its own, so the topics stay apart for the split.
    negatives = [
        {"q1": a, "q2": f"{TOPICS[(i + 3) % len(TOPICS)][1]} billing", "label": "0"}
        for i, (a, _) in enumerate(TOPICS)
    ]
    return positives + negatives


@pytest.fixture
def cli(
    sqlite_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_bert: Path
) -> Iterator[CliRunner]:
    monkeypatch.setenv("QCLUST_DATA_DIR", str(sqlite_settings.data_dir))
    monkeypatch.setenv("QCLUST_DATABASE_URL", sqlite_settings.resolved_database_url)
    monkeypatch.setenv("QCLUST_DEVICE", "cpu")
    get_settings.cache_clear()
    runner = CliRunner()
    path = write_csv(tmp_path / "q.csv", [{"question": a} for a, _ in TOPICS])
    result = runner.invoke(app, ["ingest", str(path), "-c", "support", "--model", str(tiny_bert)])
    assert result.exit_code == 0, result.output
    yield runner
    get_settings.cache_clear()


def test_training_scores_held_out_pairs_and_registers_the_model(
    cli: CliRunner, tmp_path: Path, sqlite_settings: Settings
) -> None:
    pairs = write_csv(tmp_path / "pairs.csv", pairs_rows())
    result = cli.invoke(
        app,
        ["train", "support", "--pairs", str(pairs), "--held-out", "0.3", "--epochs", "2",
         "--batch-size", "4", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    output = Path(report["output"])
    assert output == sqlite_settings.data_dir / "models" / "support-v1"
    assert (output / "modules.json").exists()
    assert report["train_pairs"] + report["held_out_pairs"] <= 20
    assert report["held_out_pairs"] > 0
    assert report["before"] is not None
    assert report["after"] is not None
    assert 0.0 <= report["after"]["average_precision"] <= 1.0
    trained = Encoder(EncoderSpec(model=str(output)), device="cpu")
    assert trained.encode(["reset my password"]).shape == (1, 32)
    with open_database(sqlite_settings.resolved_database_url)() as session:
        models = list(session.scalars(select(EncoderRow.model)))
    assert str(output) in models


def test_too_little_to_train_on_is_refused(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(app, ["train", "support"])
    assert result.exit_code == 1
    assert "nothing to train on" in result.output
    few = write_csv(tmp_path / "few.csv", pairs_rows()[:3])
    result = cli.invoke(app, ["train", "support", "--pairs", str(few)])
    assert isinstance(result.exception, TrainingError)
    assert "training needs at least" in str(result.exception)


def test_the_split_never_shares_a_question() -> None:
    pairs = [Pair(f"q{i}", f"q{i + 1}", i % 2) for i in range(0, 40, 2)]
    pairs += [Pair("q0", "q1b", 1)]  # joins q1b to q0's group
    train, test = split_by_question(pairs, 0.3, seed=1)
    train_texts = {t for p in train for t in (p.first, p.second)}
    test_texts = {t for p in test for t in (p.first, p.second)}
    assert train
    assert test
    assert not train_texts & test_texts
    assert len(train) + len(test) == len(pairs)
