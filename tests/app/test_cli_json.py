"""Every `--json` command writes exactly one JSON document to stdout, and everything else to
stderr: run through `main()` as the installed `qclust` runs, with file descriptors captured, so
a library printing on stdout (the trainer's log line, C code) would show up here."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from app.cli import main
from db.settings import get_settings
from tests.app.conftest import CLUSTERED, UiCorpus
from tests.app.test_cli_calibrate import PARAPHRASES
from tests.app.test_cli_calibrate import pairs_file as calibration_pairs
from tests.app.test_cli_eval import PAIRS
from tests.conftest import write_csv

Command = Callable[[Path, Path], list[str]]


def _pairs(folder: Path) -> Path:
    rows = [{"question1": a, "question2": b, "is_duplicate": y} for a, b, y in PAIRS]
    return write_csv(folder / "pairs.csv", rows)


def _scored(folder: Path) -> Path:
    """Enough scored pairs to train on: the paraphrases, and each first half with a stranger."""
    rows = [{"sentence1": a, "sentence2": b, "score": "4.5"} for a, b in PARAPHRASES]
    rows += [{"sentence1": a, "sentence2": PARAPHRASES[(i + 5) % len(PARAPHRASES)][1],
              "score": "0.5"} for i, (a, _) in enumerate(PARAPHRASES)]  # fmt: skip
    return write_csv(folder / "sts.csv", rows)


def _topics(folder: Path) -> Path:
    topics = {
        "password": ["reset my password", "forgot password", "password reset link"],
        "billing": ["refund my payment", "download an invoice", "card charged twice"],
    }
    rows = [{"text": f"{text} ({n})", "label": label}
            for n in range(4) for label, texts in topics.items() for text in texts]  # fmt: skip
    return write_csv(folder / "topics.csv", rows)


COMMANDS: dict[str, Command] = {
    "corpora": lambda tmp, model: ["corpora"],
    "search": lambda tmp, model: ["search", "how do I reset my password", "-c", CLUSTERED],
    "dupes": lambda tmp, model: ["dupes", "I forgot my password", "-c", CLUSTERED],
    "clusters": lambda tmp, model: ["clusters", "-c", CLUSTERED],
    "cluster-show": lambda tmp, model: ["cluster-show", "0", "-c", CLUSTERED],
    "calibrate": lambda tmp, model: [
        "calibrate", CLUSTERED, "--pairs", str(calibration_pairs(tmp))
    ],
    "eval pairs": lambda tmp, model: ["eval", "pairs", str(_pairs(tmp))],
    "eval sts": lambda tmp, model: ["eval", "sts", str(_scored(tmp))],
    "eval retrieval": lambda tmp, model: ["eval", "retrieval", str(_pairs(tmp))],
    "eval clusters": lambda tmp, model: [
        "eval", "clusters", str(_topics(tmp)), "--min-cluster-size", "3", "--seed", "0"
    ],
    "train": lambda tmp, model: [
        "train", "--model", str(model), "--pairs", str(_scored(tmp)), "--loss", "cosine",
        "--held-out", "0.3", "--batch-size", "4", "--output", str(tmp / "trained"),
    ],
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("name", list(COMMANDS))
def test_json_commands_print_one_document_and_nothing_else(
    name: str,
    own_clustered_env: UiCorpus,
    tiny_bert: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    args = [*COMMANDS[name](tmp_path, tiny_bert), "--json"]
    monkeypatch.setattr(sys, "argv", ["qclust", *args])
    get_settings.cache_clear()
    with pytest.raises(SystemExit) as exited:
        main()
    captured = capfd.readouterr()
    assert exited.value.code in (0, None), captured.err
    lines = captured.out.splitlines()
    assert len(lines) == 1, f"stdout is not one JSON line:\n{captured.out}"
    document = json.loads(lines[0])
    assert isinstance(document, dict | list)
    # Whatever else was said went to stderr, and stdout is back where it was for the next one.
    print("after")
    assert capfd.readouterr().out == "after\n"
