"""`qclust calibrate CORPUS`: fit the duplicate threshold (and P(duplicate)) from labelled pairs."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from app.cli_common import JsonOption, app, emit_json, fail, out
from db.settings import get_settings


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
    from db.calibrations import labelled_scores, save_calibration
    from db.queries import get_corpus
    from db.session import open_database
    from indexer.calibration import calibrate as fit
    from indexer.corpus_index import locate_corpus
    from indexer.encoder import Encoder
    from indexer.eval_data import read_pairs
    from indexer.evaluate import encode_pairs, similarities

    settings = get_settings()
    sessions = open_database(settings.resolved_database_url)
    scores: list[float] = []
    truth: list[int] = []
    sources = []
    if labels:
        with sessions() as session:
            label_scores, label_truth = labelled_scores(session, get_corpus(session, corpus).id)
        scores += label_scores
        truth += label_truth
        sources.append(f"{len(label_scores)} analyst labels")
    if pairs is not None:
        data = read_pairs(pairs)
        # The corpus's own encoder (model, prompt, truncation): its cosines are the ones judged.
        spec = locate_corpus(sessions, settings, corpus).spec
        encoder = Encoder(spec, device=settings.device, batch_size=settings.batch_size)
        scores += similarities(*encode_pairs(encoder, data.first, data.second))["cosine"].tolist()
        truth += data.labels.tolist()
        sources.append(f"{len(data.first)} pairs from {pairs.name}")
    if not sources:
        fail("nothing to learn from: use the analysts' labels or give --pairs FILE")
    fitted = fit(np.array(scores), np.array(truth), target_precision=precision)
    with sessions.begin() as session:
        save_calibration(session, get_corpus(session, corpus), fitted, source="; ".join(sources))
    if as_json:
        record = asdict(fitted)
        record.pop("knots_x"), record.pop("knots_y")
        emit_json({"corpus": corpus, "source": "; ".join(sources), **record})
        return
    goal = f"precision >= {precision:.2f}" if precision else "best F1"
    out.print(
        f"{corpus}: duplicate threshold {fitted.threshold:.3f} ({goal}), from "
        f"{'; '.join(sources)} ({fitted.positives} duplicates, {fitted.negatives} not)\n"
        f"cross-validated: precision {fitted.cv_precision:.3f}, recall {fitted.cv_recall:.3f}\n"
        f"P(duplicate) at the threshold: {fitted.probability(fitted.threshold):.2f}"
    )
