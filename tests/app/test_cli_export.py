"""`qclust export` on the clustered demo corpus: every question, in every output format, with
the cluster names the CLI shows and the demo file's own columns."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from app.cli import app
from db.errors import CorpusNotFoundError
from db.settings import Settings
from tests.app.conftest import CLUSTERED, CLUSTERED_ROWS, UiCorpus


@pytest.fixture
def cli(clustered_env: UiCorpus, cli_for: Callable[[Settings], CliRunner]) -> CliRunner:
    return cli_for(clustered_env.settings)


def run_ok(cli: CliRunner, *args: str) -> str:
    result = cli.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_every_format_holds_every_question(cli: CliRunner, tmp_path: Path) -> None:
    shown = json.loads(run_ok(cli, "clusters", "-c", CLUSTERED, "--limit", "1000", "--json"))
    names = {view["key"]: view["name"] for view in shown["clusters"]}
    csv = pd.read_csv(io.StringIO(run_ok(cli, "export", CLUSTERED)))
    assert len(csv) == CLUSTERED_ROWS
    assert {"topic", "group", "cluster", "cluster_name", "canonical_question"} <= set(csv)
    for key, name in csv[csv["cluster"] >= 0][["cluster", "cluster_name"]].itertuples(index=False):
        assert names[key] == name

    run_ok(cli, "export", CLUSTERED, "-o", str(tmp_path / "all.parquet"))
    parquet = pd.read_parquet(tmp_path / "all.parquet")
    assert list(parquet["question_id"]) == list(csv["question_id"])
    run_ok(cli, "export", CLUSTERED, "-o", str(tmp_path / "all.jsonl"))
    lines = (tmp_path / "all.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["question_id"] for line in lines] == list(csv["question_id"])
    document = json.loads(run_ok(cli, "export", CLUSTERED, "--json"))
    assert len(document["rows"]) == CLUSTERED_ROWS


def test_a_wrong_suffix_or_corpus_is_one_line(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(app, ["export", CLUSTERED, "-o", str(tmp_path / "all.xlsx")])
    assert result.exit_code == 1
    assert "cannot tell the output format" in result.output
    result = cli.invoke(app, ["export", "nope"])
    assert isinstance(result.exception, CorpusNotFoundError)  # main() prints it as one line
