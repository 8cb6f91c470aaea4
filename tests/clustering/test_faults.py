"""`qclust cluster` killed with -9 mid-way: the run is closed as abandoned by the next command,
nothing of it is shown, and the next run works; on both databases."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from clustering.params import ClusterParams
from clustering.pipeline import run_clustering
from db.cluster_queries import latest_run
from db.models import Cluster, ClusterMember, ClusterRun, RunStatus
from db.queries import get_corpus
from db.settings import Settings
from indexer.encoder import Encoder
from indexer.ingest import ingest_file
from tests.app.conftest import first_demo_rows
from tests.invariants import assert_consistent
from tests.processes import run_qclust, settings_env

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("point", ["cluster:computed", "cluster:writing"])
def test_a_killed_clustering_run_is_abandoned_and_the_next_one_works(
    point: str,
    tmp_path: Path,
    settings: Settings,
    sessions: sessionmaker[Session],
    default_encoder: Encoder,
) -> None:
    questions = first_demo_rows(tmp_path / "q.csv", 150)
    ingest_file(
        questions, "demo", settings=settings, sessions=sessions, text_column="question",
        encoder=default_encoder,
    )  # fmt: skip
    env = settings_env(settings) | {"QCLUST_FAULT_AT": point}
    child = run_qclust(
        ["cluster", "-c", "demo", "--min-cluster-size", "5"], env, tmp_path / "cluster.log"
    )
    assert child.process.exitcode == -signal.SIGKILL, child.output
    with sessions() as session:
        corpus_id = get_corpus(session, "demo").id
        assert latest_run(session, corpus_id) is None  # nothing half-written is shown
        assert session.scalar(select(func.count()).select_from(Cluster)) == 0
        assert session.scalar(select(func.count()).select_from(ClusterMember)) == 0

    run_id = run_clustering(
        "demo", settings=settings, sessions=sessions, params=ClusterParams(min_cluster_size=5)
    )
    with sessions() as session:
        runs = session.scalars(select(ClusterRun).order_by(ClusterRun.id)).all()
        assert [r.status for r in runs] == [RunStatus.ABANDONED, RunStatus.DONE]
        assert "stopped without finishing" in (runs[0].message or "")
        assert runs[1].id == run_id
    assert_consistent(settings, sessions, default_encoder, "demo")
