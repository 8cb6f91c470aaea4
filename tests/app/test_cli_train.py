"""`qclust train` for real on a tiny model: held-out scores before and after, a registered model."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from app.cli import app
from db.models import Encoder as EncoderRow
from db.session import open_database
from db.settings import Settings
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
    sqlite_settings: Settings,
    cli_for: Callable[[Settings], CliRunner],
    tmp_path: Path,
    tiny_bert: Path,
) -> CliRunner:
    runner = cli_for(sqlite_settings)
    path = write_csv(tmp_path / "q.csv", [{"question": a} for a, _ in TOPICS])
    result = runner.invoke(app, ["ingest", str(path), "-c", "support", "--model", str(tiny_bert)])
    assert result.exit_code == 0, result.output
    return runner


def test_training_scores_held_out_pairs_and_registers_the_model(
    cli: CliRunner, tmp_path: Path, sqlite_settings: Settings, tiny_bert: Path
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
    assert report["after"] != report["before"]  # scored again, on the trained weights
    trained = Encoder(EncoderSpec(model=str(output)), device="cpu").encode(["reset my password"])
    base = Encoder(EncoderSpec(model=str(tiny_bert)), device="cpu").encode(["reset my password"])
    assert trained.shape == (1, 32)
    assert not np.allclose(trained, base, atol=1e-4)  # training moved the weights
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


def test_a_model_trains_on_scored_pairs_with_the_cosine_loss(
    sqlite_settings: Settings,
    cli_for: Callable[[Settings], CliRunner],
    tmp_path: Path,
    tiny_bert: Path,
) -> None:
    """STS-style training, as the multilingual STS models were made: no corpus needed."""
    rows = [{"s1": a, "s2": b, "score": "4.5"} for a, b in TOPICS]
    rows += [{"s1": r["q1"], "s2": r["q2"], "score": "0.5"} for r in pairs_rows()[10:]]
    scored = write_csv(tmp_path / "sts.csv", rows)
    output = tmp_path / "trained"
    result = cli_for(sqlite_settings).invoke(
        app,
        ["train", "--model", str(tiny_bert), "--pairs", str(scored), "--loss", "cosine",
         "--held-out", "0.3", "--epochs", "3", "--batch-size", "4", "--output", str(output),
         "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert Path(report["output"]) == output
    assert set(report["before"]) == {"pearson", "spearman"}  # scores, so correlations
    assert report["after"] != report["before"]
    trained = Encoder(EncoderSpec(model=str(output)), device="cpu").encode(["reset my password"])
    base = Encoder(EncoderSpec(model=str(tiny_bert)), device="cpu").encode(["reset my password"])
    assert not np.allclose(trained, base, atol=1e-4)


def test_scored_pairs_need_the_cosine_loss_and_a_model_or_corpus(
    sqlite_settings: Settings, cli_for: Callable[[Settings], CliRunner], tmp_path: Path
) -> None:
    runner = cli_for(sqlite_settings)
    rows = [{"s1": a, "s2": b, "score": "4.5"} for a, b in TOPICS]
    scored = write_csv(tmp_path / "sts.csv", rows)
    result = runner.invoke(app, ["train", "--model", "x", "--pairs", str(scored)])
    assert "labels must be 0 or 1" in str(result.exception)
    result = runner.invoke(app, ["train", "--pairs", str(scored), "--loss", "cosine"])
    assert result.exit_code == 1
    assert "name a CORPUS whose model to fine-tune, or give --model" in result.output
    assert "not both" not in result.output
