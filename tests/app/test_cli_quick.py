"""`qclust --help`, `corpora` and `clusters` answer without importing a model, FAISS, UMAP or a
web stack: each runs in a fresh interpreter on a real clustered database, and `-X importtime`
lists every module it imported. Structural, not timed, so it holds on any machine."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import pytest
from sqlalchemy import delete, select
from typer.testing import CliRunner

from app.cli import app
from db.cluster_queries import latest_run
from db.models import ClusterMember
from db.queries import get_corpus
from db.session import open_database
from db.settings import Settings
from tests.app.conftest import CLUSTERED, CLUSTERED_ROWS, UiCorpus
from tests.conftest import PROJECT_ROOT

HEAVY = (
    "torch",
    "sentence_transformers",
    "transformers",
    "faiss",
    "umap",
    "numba",
    "hdbscan",
    "fast_hdbscan",
    "streamlit",
    "fastapi",
    "uvicorn",
)
QUICK_COMMANDS = {
    "--help": ["--help"],
    "corpora": ["corpora"],
    "clusters": ["clusters", "-c", CLUSTERED],
}


def imported_packages(*args: str) -> tuple[set[str], str]:
    """The top-level packages `qclust ARGS` imported, and what it printed on stdout."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "app.cli", *args],
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    modules = [
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    ]
    return {module.split(".")[0] for module in modules}, result.stdout


@pytest.mark.parametrize("name", list(QUICK_COMMANDS))
def test_quick_commands_import_nothing_heavy(name: str, own_clustered_env: UiCorpus) -> None:
    packages, stdout = imported_packages(*QUICK_COMMANDS[name])
    assert {"app", "typer", "rich"} <= packages  # the listing is real: it saw the CLI load
    assert not packages & set(HEAVY), sorted(packages & set(HEAVY))
    if name == "corpora":
        assert CLUSTERED in stdout
        assert f"{CLUSTERED_ROWS:,}" in stdout
    elif name == "clusters":
        assert "outliers ('qclust outliers')" in stdout


def test_clusters_still_places_a_question_the_run_has_not_seen(
    own_clustered_env: UiCorpus, cli_for: Callable[[Settings], CliRunner]
) -> None:
    """Only then does `clusters` load vectors and an index: as after an ingest killed between
    encoding and placing."""
    sessions = open_database(own_clustered_env.database_url)
    with sessions.begin() as session:
        run = latest_run(session, get_corpus(session, CLUSTERED).id)
        assert run is not None
        question = session.scalar(  # the most central member of a cluster: surely placed back
            select(ClusterMember.question_id)
            .where(ClusterMember.run_id == run.id, ClusterMember.cluster_key >= 0)
            .order_by(ClusterMember.centrality.desc())
            .limit(1)
        )
        session.execute(
            delete(ClusterMember).where(
                ClusterMember.run_id == run.id, ClusterMember.question_id == question
            )
        )
    cli = cli_for(own_clustered_env.settings)
    first = cli.invoke(app, ["clusters", "-c", CLUSTERED])
    assert first.exit_code == 0, first.output
    assert "placed 1 new question, 0 unassigned" in first.output
    with sessions() as session:
        assert session.get(ClusterMember, (run.id, question)) is not None
    again = cli.invoke(app, ["clusters", "-c", CLUSTERED])
    assert "placed" not in again.output
