"""The Typer app and the console helpers every CLI module shares."""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TextIO

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from app.service import Service

app = typer.Typer(
    help="Semantic search, duplicate detection and clustering for piles of questions.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# Most of what is printed quotes user text (questions, corpus and cluster names, ids, paths), so
# rich markup and emoji codes are off by default, table cells included; the few styled lines opt
# in with `markup=True` and escape the user text they embed.
out = Console(soft_wrap=True, markup=False, emoji=False)
err = Console(stderr=True, soft_wrap=True, markup=False, emoji=False)

CorpusOption = Annotated[str, typer.Option("--corpus", "-c", help="Corpus name.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for programs.")]
# For commands that take a cluster key: in `qclust move demo 12 -1`, -1 (out of every cluster)
# is a value, not an unknown option.
NEGATIVE_VALUES = {"ignore_unknown_options": True}


def open_service() -> Service:
    """The command's one service; imported here, so that `--help` and the quick commands never
    pay for what only some commands need."""
    from app.service import Service
    from db.settings import get_settings

    return Service(get_settings())


def plural(count: int, word: str) -> str:
    """'1 row', '2 rows', '1,000 rows'."""
    return f"{count:,} {word if count == 1 else word + 's'}"


def cluster_label(key: int | None, name: str | None = None) -> str:
    """How messages name a cluster: by key and, when it has one, name."""
    if key is None:
        return "no cluster (not clustered yet)"
    if key == -1:
        return "the outliers (no cluster)"
    return f"cluster {key} '{name}'" if name else f"cluster {key}"


def default_analyst() -> str:
    """Who an edit is recorded as unless `--by` says: `QCLUST_ANALYST`, else the OS user."""
    named = os.environ.get("QCLUST_ANALYST", "").strip()
    if named:
        return named
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in the environment or the password database
        return "analyst"


def comma_list(option: str | None) -> list[str] | None:
    """An option such as `--langs de,ja` as a list (None when not given)."""
    return [name.strip() for name in option.split(",") if name.strip()] if option else None


def print_error(message: str) -> None:
    """A red 'error:' and the message, which often quotes user text, as text."""
    err.print(f"[bold red]error:[/] {escape(message)}", markup=True, highlight=False)


def fail(message: str, code: int = 1) -> NoReturn:
    print_error(message)
    raise typer.Exit(code)


_json_stdout: TextIO | None = None


def reserve_stdout_for_json() -> Callable[[], None]:
    """Send everything but the one JSON document of a `--json` command to standard error.

    Libraries print on standard output (the trainer's log line, progress bars, C code): the
    process's stdout file descriptor is pointed at stderr for the command's lifetime, and only
    `emit_json` writes to the real one. Returns the function that puts things back.
    """
    global _json_stdout
    sys.stdout.flush()
    saved_stream, saved_fd = sys.stdout, os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr  # Python-level writers too, wherever sys.stdout pointed
    _json_stdout = os.fdopen(os.dup(saved_fd), "w", encoding="utf-8")

    def restore() -> None:
        global _json_stdout
        sys.stdout.flush()
        if _json_stdout is not None:
            _json_stdout.close()
            _json_stdout = None
        os.dup2(saved_fd, 1)
        os.close(saved_fd)
        sys.stdout = saved_stream

    return restore


def emit_json(document: Any) -> None:
    """The result of a `--json` command: one JSON document on standard output."""
    stream = _json_stdout or sys.stdout
    stream.write(json.dumps(document, default=str) + "\n")
    stream.flush()
