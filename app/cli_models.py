"""`qclust distill`: make a fast static-embedding model from the corpus's (or any) model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli_common import app, err, fail, out
from db.settings import get_settings


@app.command()
def distill(
    output: Annotated[Path, typer.Argument(help="New folder for the static model.")],
    model: Annotated[
        str | None, typer.Option(help="Teacher model folder or name (default: QCLUST_MODEL).")
    ] = None,
    corpus: Annotated[
        str | None, typer.Option("--corpus", "-c", help="Use this corpus's model as teacher.")
    ] = None,
    dims: Annotated[int, typer.Option(min=2, max=4096, help="Dimensions kept (PCA).")] = 256,
) -> None:
    """Distil a static (model2vec) model: ingest and search then run orders of magnitude faster.

    Use it like any model: `qclust ingest FILE -c NAME --model OUTPUT`.
    """
    from db.models import Encoder
    from db.queries import get_corpus
    from db.session import open_database
    from indexer.distill import distill_static

    settings = get_settings()
    if model and corpus:
        fail("give --model or --corpus, not both")
    teacher = model or settings.model
    if corpus:
        with open_database(settings.resolved_database_url)() as session:
            found = get_corpus(session, corpus)
            encoder = session.get(Encoder, found.encoder_id) if found.encoder_id else None
            if encoder is None:
                fail(f"corpus '{corpus}' has no model yet; ingest into it first")
            teacher = encoder.model
    err.print(f"distilling {teacher} into {output} ({dims} dimensions)...")
    distill_static(teacher, output, dims=dims, device=settings.device)
    out.print(f"static model saved in {output}; use it with --model {output}")
