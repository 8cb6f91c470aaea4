"""`qclust distill` and `qclust train`: new models from a corpus's model (a fast static
student, or a copy fine-tuned on labelled pairs)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli_common import JsonOption, app, err, fail, out
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


@app.command()
def train(
    corpus: Annotated[str, typer.Argument(help="Corpus whose model is fine-tuned.")],
    pairs: Annotated[
        Path | None, typer.Option(help="A pairs file (two texts, 0/1 label) to train on too.")
    ] = None,
    labels: Annotated[bool, typer.Option(help="Train on the analysts' labels.")] = True,
    loss: Annotated[
        str, typer.Option(help="online-contrastive, contrastive, or mnrl (positives only).")
    ] = "online-contrastive",
    matryoshka: Annotated[
        str | None, typer.Option(help="Wrap in MatryoshkaLoss at these dims, e.g. 384,128,64.")
    ] = None,
    epochs: Annotated[int, typer.Option(min=1, max=100)] = 1,
    batch_size: Annotated[int, typer.Option(min=2, max=4096)] = 32,
    held_out: Annotated[
        float, typer.Option(min=0.0, max=0.9, help="Share of questions kept out to score on.")
    ] = 0.2,
    output: Annotated[
        Path | None, typer.Option(help="Folder for the new model (default: a new version).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Fine-tune CORPUS's model on labelled pairs; scores held-out pairs before and after."""
    import json
    from dataclasses import asdict

    from app.progress import StageProgress
    from db.labels import labelled_texts
    from db.models import Encoder
    from db.queries import get_corpus
    from db.session import open_database
    from indexer.encoder import EncoderSpec
    from indexer.eval_data import label_column, numbers, read_table, text_columns, texts
    from indexer.finetune import LOSSES, Pair, finetune

    if loss not in LOSSES:
        fail(f"--loss must be one of {', '.join(LOSSES)}, not '{loss}'")
    settings = get_settings()
    sessions = open_database(settings.resolved_database_url)
    found: list[Pair] = []
    with sessions() as session:
        record = get_corpus(session, corpus)
        encoder = session.get(Encoder, record.encoder_id) if record.encoder_id else None
        if encoder is None:
            fail(f"corpus '{corpus}' has no model yet; ingest into it first")
        base = EncoderSpec(encoder.model, encoder.normalize, encoder.prompt, encoder.truncate_dim)
        if labels:
            found += [Pair(a, b, y) for a, b, y in labelled_texts(session, record.id)]
    if pairs is not None:
        table = read_table(pairs)
        label_name = label_column(table, None)
        first, second = text_columns(table, None, 2, label_name)
        values = numbers(table, label_name)
        if not values.isin([0, 1]).all():
            fail(f"{pairs}: labels must be 0 or 1 in column '{label_name}'")
        found += [
            Pair(a, b, int(y))
            for a, b, y in zip(texts(table, first), texts(table, second), values, strict=True)
        ]
    if not found:
        fail("nothing to train on: label pairs on the Labelling page or give --pairs FILE")
    target = output or _next_version(settings.data_dir / "models", corpus)
    dims = [int(d) for d in matryoshka.split(",")] if matryoshka else []
    with StageProgress(err, enabled=not as_json) as progress:
        report = finetune(
            base, found, target, loss=loss,
            matryoshka_dims=dims, epochs=epochs, batch_size=batch_size, held_out=held_out,
            device=settings.device,
            progress=lambda done, total: progress("training", done, total),
        )  # fmt: skip
    with sessions.begin() as session:  # registered: `qclust ingest --model` can use it
        session.add(
            Encoder(
                model=str(report.output.resolve()),
                dimension=report.dimension,
                normalize=base.normalize,
                prompt=base.prompt,
                truncate_dim=base.truncate_dim,
            )  # fmt: skip
        )
    if as_json:
        print(json.dumps(asdict(report), default=str))
        return
    out.print(
        f"trained on {report.train_pairs:,} pairs in {report.seconds:.0f} s; "
        f"saved in {report.output}"
    )
    if report.before and report.after:
        out.print(
            f"held-out {report.held_out_pairs:,} pairs, cosine: "
            f"AP {report.before.average_precision:.4f} -> {report.after.average_precision:.4f}, "
            f"F1 {report.before.f1:.4f} -> {report.after.f1:.4f}"
        )


def _next_version(folder: Path, corpus: str) -> Path:
    version = 1
    while (folder / f"{corpus}-v{version}").exists():
        version += 1
    return folder / f"{corpus}-v{version}"


@app.command()
def reindex(
    corpus: Annotated[str, typer.Argument(help="Corpus to re-encode.")],
    model: Annotated[str, typer.Option(help="The new model: folder or name.")],
    truncate_dim: Annotated[
        int | None, typer.Option(min=1, help="Matryoshka: keep this many dimensions.")
    ] = None,
    prompt: Annotated[str | None, typer.Option(help="Prompt before every text.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Re-encode CORPUS with --model and switch to it at once; re-run to resume."""
    from app.progress import StageProgress
    from db.session import open_database
    from indexer.reindex import reindex as reindex_corpus

    settings = get_settings()
    with StageProgress(err, enabled=not quiet) as progress:
        report = reindex_corpus(
            corpus, model, settings=settings,
            sessions=open_database(settings.resolved_database_url),
            truncate_dim=truncate_dim, prompt=prompt, progress=progress,
        )  # fmt: skip
    resumed = " (resumed)" if report.resumed else ""
    out.print(
        f"{corpus}: {report.old_model} -> {report.new_model}{resumed}; encoded "
        f"{report.encoded:,}, index {report.index_kind} holds {report.index_size:,} vectors "
        f"({report.seconds:.1f} s)"
    )
