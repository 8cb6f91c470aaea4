"""`qclust` commands in real child processes, started in about a second each.

A child of a forkserver that has imported qclust, torch and sentence-transformers once skips
the ten seconds of imports a fresh interpreter pays, and is still a separate process: it can
be killed with -9, hold locks, and race another child. The forkserver forked before any
torch thread pool started, so its children start clean.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from dataclasses import dataclass
from multiprocessing.context import ForkServerContext
from pathlib import Path

from db.settings import Settings

_CONTEXT: ForkServerContext | None = None
PRELOAD = ["app.cli", "indexer.ingest", "indexer.reindex", "clustering.pipeline"]


def _context() -> ForkServerContext:
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = multiprocessing.get_context("forkserver")
        _CONTEXT.set_forkserver_preload(PRELOAD)
    return _CONTEXT


def settings_env(settings: Settings) -> dict[str, str]:
    return {
        "QCLUST_DATA_DIR": str(settings.data_dir),
        "QCLUST_DATABASE_URL": settings.resolved_database_url,
        "QCLUST_DEVICE": "cpu",
        "QCLUST_NGPU": "0",
        "QCLUST_CONFIG": str(settings.data_dir / "no-such-qclust.toml"),
        "HF_HUB_OFFLINE": "1",
    }


def _child(argv: list[str], env: dict[str, str], log: str) -> None:
    # As a command started at a terminal: a suite started with SIGINT ignored (shells do that
    # for some background jobs) passes it on through the forkserver, and Ctrl-C would be lost.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for name in [n for n in os.environ if n.startswith("QCLUST_")]:
        del os.environ[name]
    os.environ.update(env)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    sys.argv = ["qclust", *argv]
    from app.cli import main
    from db.settings import get_settings

    get_settings.cache_clear()
    main()


@dataclass
class Child:
    process: multiprocessing.process.BaseProcess
    log: Path

    def wait(self, timeout: float = 300) -> int:
        self.process.join(timeout)
        if self.process.exitcode is None:
            self.process.kill()
            self.process.join()
            raise TimeoutError(f"qclust did not finish in {timeout:.0f} s:\n{self.output}")
        return int(self.process.exitcode)

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def start_qclust(argv: list[str], env: dict[str, str], log: Path) -> Child:
    process = _context().Process(target=_child, args=(argv, env, str(log)))
    process.start()
    return Child(process, log)


def run_qclust(argv: list[str], env: dict[str, str], log: Path, timeout: float = 300) -> Child:
    child = start_qclust(argv, env, log)
    child.wait(timeout)
    return child
