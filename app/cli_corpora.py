"""`qclust corpus-rename` and `qclust corpus-delete`."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli_common import app, fail, open_service, out, plural


@app.command("corpus-rename")
def corpus_rename(
    old: Annotated[str, typer.Argument(help="The corpus's name now.")],
    new: Annotated[str, typer.Argument(help="Its new name.")],
) -> None:
    """Rename a corpus (its questions, runs, labels and caches stay as they are)."""
    open_service().rename_corpus(old, new)
    out.print(f"corpus '{old}' is now '{new.strip()}'", highlight=False)


@app.command("corpus-delete")
def corpus_delete(
    name: Annotated[str, typer.Argument(help="The corpus to delete.")],
    yes: Annotated[bool, typer.Option("--yes", help="Really delete it; nothing asks.")] = False,
) -> None:
    """Delete a corpus with its questions, vectors, clustering runs, labels and edits."""
    service = open_service()
    if not yes:
        count = service.question_count(name)
        fail(
            f"this deletes corpus '{name}' and its {plural(count, 'question')}, vectors, "
            "clustering runs, labels and edits, with no undo; add --yes to do it"
        )
    count = service.delete_corpus(name)
    out.print(f"deleted corpus '{name}' and its {plural(count, 'question')}", highlight=False)
