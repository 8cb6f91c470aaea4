"""Runs (ingest, cluster) that record who runs them, renew a heartbeat, and are closed as
abandoned by the next command when their process died."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.liveness import HOST, Heartbeat, is_gone
from db.models import ClusterRun, IngestRun, RunStatus, utcnow

RunModel = type[IngestRun] | type[ClusterRun]
_RUN_MODELS: tuple[RunModel, ...] = (IngestRun, ClusterRun)


def owner_fields() -> dict[str, object]:
    """Columns a new run sets, so that others can tell whether its process is alive."""
    return {"host": HOST, "pid": os.getpid(), "heartbeat_at": utcnow()}


@contextmanager
def run_heartbeat(
    sessions: sessionmaker[Session], model: RunModel, run_id: int
) -> Iterator[Heartbeat]:
    def beat(session: Session) -> bool:
        run: IngestRun | ClusterRun | None = session.get(model, run_id)  # type: ignore[assignment]
        if run is None or run.status is not RunStatus.RUNNING:
            return False
        run.heartbeat_at = utcnow()
        return True

    with Heartbeat(sessions, beat) as heartbeat:
        yield heartbeat


def close_abandoned_runs(session: Session, corpus_id: int | None = None) -> int:
    """Mark running runs whose process is gone as abandoned, and drop their dead processes'
    write locks; returns how many runs were closed."""
    from db.locks import remove_dead_locks

    remove_dead_locks(session)
    closed = 0
    for model in _RUN_MODELS:
        query = select(model).where(model.status == RunStatus.RUNNING)
        if corpus_id is not None:
            query = query.where(model.corpus_id == corpus_id)
        runs: list[IngestRun | ClusterRun] = list(session.scalars(query))
        for run in runs:
            if is_gone(run.host, run.pid, run.heartbeat_at):
                run.status = RunStatus.ABANDONED
                where = f"process {run.pid} on {run.host}" if run.pid else "its process"
                run.message = f"abandoned: {where} stopped without finishing (killed or crashed)"
                run.finished_at = utcnow()
                closed += 1
    return closed
