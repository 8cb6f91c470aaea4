"""`qclust cluster`, `clusters`, `cluster-show`, `outliers`, and placement after `ingest`."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from db.settings import Settings
from tests.conftest import DEMO_QUESTIONS, write_csv

pytestmark = pytest.mark.slow


@pytest.fixture
def cli(
    sqlite_settings: Settings, cli_for: Callable[[Settings], CliRunner], tmp_path: Path
) -> CliRunner:
    runner = cli_for(sqlite_settings)
    lines = DEMO_QUESTIONS.read_text(encoding="utf-8").splitlines(keepends=True)
    subset = tmp_path / "demo.csv"
    subset.write_text("".join(lines[:401]), encoding="utf-8")
    result = runner.invoke(app, ["ingest", str(subset), "-c", "demo", "--id-column", "id", "-q"])
    assert result.exit_code == 0, result.output
    return runner


def test_cluster_then_browse_from_the_cli(cli: CliRunner, tmp_path: Path) -> None:
    missing = cli.invoke(app, ["clusters", "-c", "demo"])
    assert missing.exit_code == 1
    assert "no clustering yet" in missing.output

    result = cli.invoke(app, ["cluster", "-c", "demo", "--seed", "0", "-q"])
    assert result.exit_code == 0, result.output
    assert "run 1:" in result.output
    assert "near-duplicate groups" in result.output

    listing = json.loads(cli.invoke(app, ["clusters", "-c", "demo", "--json"]).output)
    clusters = listing["clusters"]
    assert len(clusters) >= 5
    assert all(c["keywords"] and c["representative"] for c in clusters)
    biggest = clusters[0]

    shown = json.loads(
        cli.invoke(app, ["cluster-show", str(biggest["key"]), "-c", "demo", "--json"]).output
    )
    assert (shown["name"], shown["size"]) == (biggest["name"], biggest["size"])
    centralities = [m["centrality"] for m in shown["members"]]
    assert centralities == sorted(centralities, reverse=True)
    text = cli.invoke(app, ["cluster-show", str(biggest["key"]), "-c", "demo"]).output
    path, heading = text.splitlines()[:2]
    parent = shown["path"][0]  # the coarse topic above it, coarsest first
    assert path.startswith(f"path: {parent['key']} {parent['name']} > ")
    assert path.endswith(f" > {biggest['key']} {biggest['name']}")
    assert heading.startswith(f"cluster {biggest['key']} · {biggest['name']} · ")
    coarse = cli.invoke(app, ["cluster-show", str(parent["key"]), "-c", "demo"]).output
    assert f"level {parent['level']}" in coarse
    assert f"{biggest['key']}" in coarse  # its topics are listed
    assert "centrality: cosine to the cluster's mean direction" in text
    assert cli.invoke(app, ["cluster-show", "9999", "-c", "demo"]).exit_code == 1

    outliers = cli.invoke(app, ["outliers", "-c", "demo", "--limit", "5"])
    assert "outliers of 400 questions, closest to a cluster first" in outliers.output
    # Rows start with the similarity; a long question wraps onto lines of its own.
    firsts = [line.split()[0] for line in outliers.output.splitlines()[2:] if line.strip()]
    similarities = [float(f) for f in firsts if re.fullmatch(r"[01]\.\d{3}", f)]
    assert similarities == sorted(similarities, reverse=True)
    assert similarities, outliers.output

    new = write_csv(
        tmp_path / "new.csv", [{"question": "How can I get my money back for an order?"}]
    )
    placed = cli.invoke(app, ["ingest", str(new), "-c", "demo", "-q"])
    assert "1 row read" in placed.output
    assert "into existing clusters" in placed.output  # placed or unassigned


def test_bad_parameters_are_one_line(cli: CliRunner) -> None:
    result = cli.invoke(app, ["cluster", "-c", "demo", "--selection", "best", "-q"])
    assert result.exit_code != 0
    assert "selection must be one of eom, leaf" in str(result.exception or result.output)
