"""`qclust export`: every question of a corpus with where the latest clustering run put it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from app.cli_common import JsonOption, app, emit_json, err, open_service, plural
from app.cli_dupes_file import output_kind, put_bytes
from app.csv_export import table_bytes


@app.command()
def export(
    corpus: Annotated[str, typer.Argument(help="Corpus name.")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="File to write (.csv, .parquet, .jsonl); else CSV."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Each question with its cluster and name, outlier status, near-duplicate group,
    canonical question and the file's own columns."""
    kind = output_kind(output, as_json)
    frame = open_service().export(corpus)
    if kind == "json":
        emit_json({"corpus": corpus, "rows": json.loads(frame.to_json(orient="records"))})
        return
    put_bytes(output, table_bytes(frame, kind))  # Parquet only ever to a file, by its suffix
    if output is not None:
        err.print(f"wrote {plural(len(frame), 'question')} of corpus '{corpus}' to {output}")
