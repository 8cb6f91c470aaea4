"""Is the process behind a lock or a run still alive? Heartbeats, and the check that reads them.

A process records its host, pid and a heartbeat it renews every few seconds. On the same host
a dead pid is known at once; from another machine, a heartbeat older than `STALE_AFTER` says
the process is gone (killed with -9, crashed, or its machine lost).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
STALE_AFTER = timedelta(seconds=30)
HOST = socket.gethostname()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def is_gone(host: str | None, pid: int | None, heartbeat_at: datetime | None) -> bool:
    """True when the process is known dead, or silent for longer than `STALE_AFTER`."""
    if host is None or pid is None or heartbeat_at is None:
        return True  # written by a version without heartbeats: nobody is renewing it
    if host == HOST and not pid_alive(pid):
        return True
    return datetime.now(UTC) - _aware(heartbeat_at) > STALE_AFTER


class Heartbeat:
    """Calls `beat(session)` in its own transaction every `HEARTBEAT_SECONDS`, in a thread.

    `beat` returns False when what it renews is gone (a lock broken by someone who thought this
    process dead): `lost` is then set, and the owner must stop writing.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        beat: Callable[[Session], bool],
        every: float = HEARTBEAT_SECONDS,
    ) -> None:
        self._sessions, self._beat, self._every = sessions, beat, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="qclust-heartbeat", daemon=True)
        self.lost = False

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self._every + 5)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                with self._sessions.begin() as session:
                    if not self._beat(session):
                        self.lost = True
                        return
            except Exception as exc:  # a missed beat is retried; only silence makes it stale
                logger.debug("heartbeat failed: %s", exc)
