"""`qclust corpus-rename` and `corpus-delete` on a private copy of the clustered corpora."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from app.cli import app
from db.errors import CorpusBusyError, CorpusNotFoundError, QclustError
from db.locks import corpus_write_lock
from db.models import ClusterRun, PairLabel, Question, QuestionVector
from db.queries import get_corpus
from db.session import open_database
from db.settings import Settings
from tests.app.conftest import CLUSTERED, CLUSTERED_ROWS, CORPUS, UiCorpus


@pytest.fixture
def cli(own_clustered_env: UiCorpus, cli_for: Callable[[Settings], CliRunner]) -> CliRunner:
    return cli_for(own_clustered_env.settings)


def test_rename_keeps_everything_under_the_new_name(
    cli: CliRunner, own_clustered_env: UiCorpus
) -> None:
    before = cli.invoke(app, ["search", "reset my password", "-c", CLUSTERED, "--json"]).output
    result = cli.invoke(app, ["corpus-rename", CLUSTERED, "faq"])
    assert result.exit_code == 0, result.output
    assert "corpus 'demo' is now 'faq'" in result.output
    after = cli.invoke(app, ["search", "reset my password", "-c", "faq", "--json"]).output
    assert after.replace('"faq"', '"demo"').split('"revision"')[0] == before.split('"revision"')[0]
    assert cli.invoke(app, ["clusters", "-c", "faq"]).exit_code == 0
    assert isinstance(cli.invoke(app, ["clusters", "-c", CLUSTERED]).exception, QclustError)
    clash = cli.invoke(app, ["corpus-rename", "faq", CORPUS])
    assert isinstance(clash.exception, QclustError)
    assert "exists already" in str(clash.exception)


def test_delete_asks_for_yes_then_removes_everything(
    cli: CliRunner, own_clustered_env: UiCorpus
) -> None:
    refused = cli.invoke(app, ["corpus-delete", CLUSTERED])
    assert refused.exit_code == 1
    assert f"{CLUSTERED_ROWS} questions" in refused.output
    sessions = open_database(own_clustered_env.database_url)
    with sessions() as session:
        kept = get_corpus(session, CORPUS).id
    cache = own_clustered_env.data_dir / "cache"
    caches_before = {p.name for p in cache.iterdir()}
    result = cli.invoke(app, ["corpus-delete", CLUSTERED, "--yes"])
    assert result.exit_code == 0, result.output
    assert f"deleted corpus 'demo' and its {CLUSTERED_ROWS} questions" in result.output
    with sessions() as session:
        for table in (Question, QuestionVector, ClusterRun, PairLabel):
            others = select(func.count()).select_from(table).where(table.corpus_id != kept)
            assert session.scalar(others) == 0
    assert len({p.name for p in cache.iterdir()}) == len(caches_before) - 1
    assert isinstance(
        cli.invoke(app, ["search", "x", "-c", CLUSTERED]).exception, CorpusNotFoundError
    )
    assert cli.invoke(app, ["search", "reset my password", "-c", CORPUS]).exit_code == 0


def test_a_corpus_being_written_is_neither_renamed_nor_deleted(
    cli: CliRunner, own_clustered_env: UiCorpus
) -> None:
    sessions = open_database(own_clustered_env.database_url)
    with corpus_write_lock(sessions, CLUSTERED, "ingest"):
        for argv in (["corpus-rename", CLUSTERED, "x"], ["corpus-delete", CLUSTERED, "--yes"]):
            assert isinstance(cli.invoke(app, argv).exception, CorpusBusyError)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Question)) == CLUSTERED_ROWS + 20
