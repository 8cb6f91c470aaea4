"""`qclust calibrate CORPUS`: fit the duplicate threshold (and P(duplicate)) from labelled pairs."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from app.cli_common import JsonOption, app, emit_json, fail, open_service, out


@app.command()
def calibrate(
    corpus: Annotated[str, typer.Argument(help="Corpus name.")],
    pairs: Annotated[
        Path | None, typer.Option(help="A pairs file (two texts, 0/1 label) to learn from too.")
    ] = None,
    labels: Annotated[
        bool, typer.Option(help="Use the analysts' labels from the Labelling page.")
    ] = True,
    precision: Annotated[
        float | None,
        typer.Option(min=0.01, max=1.0, help="Lowest threshold reaching this precision."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Fit CORPUS's duplicate threshold: F1-optimal, or the lowest that reaches --precision."""
    if not labels and pairs is None:
        fail("nothing to learn from: use the analysts' labels or give --pairs FILE")
    # A refusal (too few labels, nothing to learn from) is a QclustError: one line from main().
    result = open_service().calibrate(
        corpus, use_labels=labels, pairs_file=pairs, precision=precision
    )
    fitted, sources = result.fitted, result.source
    if as_json:
        record = asdict(fitted)
        record.pop("knots_x"), record.pop("knots_y")
        emit_json({"corpus": corpus, "source": sources, **record})
        return
    goal = f"precision >= {precision:.2f}" if precision else "best F1"
    out.print(
        f"{corpus}: duplicate threshold {fitted.threshold:.3f} ({goal}), from "
        f"{sources} ({fitted.positives} duplicates, {fitted.negatives} not)\n"
        f"cross-validated: precision {fitted.cv_precision:.3f}, recall {fitted.cv_recall:.3f}\n"
        f"P(duplicate) at the threshold: {fitted.probability(fitted.threshold):.2f}"
    )
