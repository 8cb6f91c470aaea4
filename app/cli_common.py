"""The Typer app and the console helpers every CLI module shares."""

from __future__ import annotations

from typing import Annotated, NoReturn

import typer
from rich.console import Console

app = typer.Typer(
    help="Semantic search, duplicate detection and clustering for piles of questions.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

CorpusOption = Annotated[str, typer.Option("--corpus", "-c", help="Corpus name.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for programs.")]


def comma_list(option: str | None) -> list[str] | None:
    """An option such as `--langs de,ja` as a list (None when not given)."""
    return [name.strip() for name in option.split(",") if name.strip()] if option else None


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)
