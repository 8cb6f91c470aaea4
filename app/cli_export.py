"""`qclust export`: every question of a corpus with where the latest clustering run put it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from app.cli_common import JsonOption, app, emit_json, err, open_service, plural
from app.cli_dupes_file import output_kind, put_bytes, write_parquet


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
    if kind == "jsonl":
        put_bytes(output, frame.to_json(orient="records", lines=True).encode("utf-8"))
    elif kind == "parquet" and output is not None:
        write_parquet(frame, output)
    else:
        from app.csv_export import safe_csv

        put_bytes(output, safe_csv(frame))
    if output is not None:
        err.print(f"wrote {plural(len(frame), 'question')} of corpus '{corpus}' to {output}")
