"""One writer per corpus, across processes and machines: a lock row in the database.

A local file lock cannot see a second machine on the same PostgreSQL database; a row can. The
row is keyed by the corpus name, so the ingest that creates a corpus holds its lock before the
corpus exists. The holder renews a heartbeat; a holder that died (kill -9) is found by
`db.liveness.is_gone` and its lock broken by the next writer. Writes made under the lock call
`check` in their own transaction, so a writer whose lock was broken cannot write on.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from db.errors import CorpusBusyError
from db.faults import fault_point
from db.liveness import HOST, Heartbeat, is_gone
from db.models import CorpusLock, utcnow

WAIT_POLL_SECONDS = 1.0


@dataclass(frozen=True)
class Holder:
    purpose: str
    host: str
    pid: int
    since: str

    def describe(self) -> str:
        article = "an" if self.purpose[:1] in ("a", "e", "i", "o", "u") else "a"
        return f"{article} {self.purpose} by process {self.pid} on {self.host}, since {self.since}"


@dataclass
class WriteLock:
    name: str
    token: str
    heartbeat: Heartbeat | None = None

    def check(self, session: Session) -> None:
        """Raise unless this process still holds the lock (call it inside the write's
        transaction)."""
        held = session.scalar(select(CorpusLock.token).where(CorpusLock.name == self.name))
        if held != self.token:
            raise CorpusBusyError(
                f"lost the write lock on corpus '{self.name}' (another process took it over, "
                "believing this one dead); nothing more was written: run the command again"
            )


def _try_insert(sessions: sessionmaker[Session], name: str, token: str, purpose: str) -> bool:
    try:
        with sessions.begin() as session:
            now = utcnow()
            session.add(
                CorpusLock(
                    name=name, token=token, purpose=purpose, host=HOST, pid=os.getpid(),
                    acquired_at=now, heartbeat_at=now,
                )
            )  # fmt: skip
        return True
    except IntegrityError:
        return False


def _holder(sessions: sessionmaker[Session], name: str) -> tuple[CorpusLock | None, bool]:
    with sessions() as session:
        row = session.scalar(select(CorpusLock).where(CorpusLock.name == name))
        if row is None:
            return None, False
        return row, is_gone(row.host, row.pid, row.heartbeat_at)


def _break(sessions: sessionmaker[Session], name: str, token: str) -> None:
    """Remove a dead holder's row; only the row with that token, so two breakers agree."""
    with sessions.begin() as session:
        session.execute(
            delete(CorpusLock).where(CorpusLock.name == name, CorpusLock.token == token)
        )


def remove_dead_locks(session: Session) -> int:
    """Locks whose holder is gone (the next writer would break them anyway); returns how many."""
    dead = [
        row.name
        for row in session.scalars(select(CorpusLock))
        if is_gone(row.host, row.pid, row.heartbeat_at)
    ]
    if dead:
        session.execute(delete(CorpusLock).where(CorpusLock.name.in_(dead)))
    return len(dead)


@contextmanager
def corpus_write_lock(
    sessions: sessionmaker[Session],
    name: str,
    purpose: str,
    *,
    wait: bool = True,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[WriteLock]:
    """Hold corpus `name`'s write lock for the block; waits for (or refuses) a live holder."""
    token = uuid.uuid4().hex
    told = False
    while not _try_insert(sessions, name, token, purpose):
        row, gone = _holder(sessions, name)
        if row is None:
            continue  # released between our insert and our look
        if gone:
            _break(sessions, name, row.token)
            continue
        holder = Holder(row.purpose, row.host, row.pid, f"{row.acquired_at:%H:%M:%S}")
        if not wait:
            raise CorpusBusyError(f"corpus '{name}' is busy: {holder.describe()}; try again later")
        if on_wait is not None and not told:
            on_wait(f"waiting for {holder.describe()} to finish with corpus '{name}'")
            told = True
        time.sleep(WAIT_POLL_SECONDS)
    lock = WriteLock(name, token)
    fault_point("lock:acquired")

    def beat(session: Session) -> bool:
        renewed = session.execute(
            update(CorpusLock)
            .where(CorpusLock.name == name, CorpusLock.token == token)
            .values(heartbeat_at=utcnow())
        )
        return bool(renewed.rowcount)  # type: ignore[attr-defined]

    try:
        with Heartbeat(sessions, beat) as heartbeat:
            lock.heartbeat = heartbeat
            yield lock
    finally:
        with sessions.begin() as session:
            session.execute(
                delete(CorpusLock).where(CorpusLock.name == name, CorpusLock.token == token)
            )
