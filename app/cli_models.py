"""`qclust distill` and `qclust train`: new models from a corpus's model (a fast static
student, or a copy fine-tuned on labelled pairs)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from app.cli_common import JsonOption, app, comma_list, emit_json, err, fail, out
from db.errors import QclustError
from db.settings import get_settings

# Anything but letters, digits, `-`, `_` and `.` in a corpus or model name becomes `-`.
_UNSAFE_IN_FOLDER_NAME = re.compile(r"[^\w.-]+")
_MAX_FOLDER_NAME = 100


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
    from db.session import open_database
    from indexer.corpus_index import locate_corpus
    from indexer.distill import distill_static

    settings = get_settings()
    if model and corpus:
        fail("give --model or --corpus, not both")
    teacher = model or settings.model
    if corpus:
        sessions = open_database(settings.resolved_database_url)
        teacher = locate_corpus(sessions, settings, corpus).spec.model
    err.print(f"distilling {teacher} into {output} ({dims} dimensions)...")
    distill_static(teacher, output, dims=dims, device=settings.device)
    out.print(f"static model saved in {output}; use it with --model {output}")


@app.command()
def train(
    corpus: Annotated[
        str | None, typer.Argument(help="Corpus whose model is fine-tuned (or give --model).")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Fine-tune this model folder or name instead.")
    ] = None,
    pairs: Annotated[
        Path | None,
        typer.Option(help="A pairs file to train on too: 0/1 labels, or scores with cosine."),
    ] = None,
    labels: Annotated[bool, typer.Option(help="Train on the analysts' labels.")] = True,
    loss: Annotated[
        str,
        typer.Option(
            help="online-contrastive, contrastive, mnrl (positives only), or cosine (scores)."
        ),
    ] = "online-contrastive",
    matryoshka: Annotated[
        str | None, typer.Option(help="Wrap in MatryoshkaLoss at these dims, e.g. 384,128,64.")
    ] = None,
    epochs: Annotated[int, typer.Option(min=1, max=100)] = 1,
    batch_size: Annotated[int, typer.Option(min=2, max=4096)] = 32,
    held_out: Annotated[
        float, typer.Option(min=0.0, max=0.9, help="Share of questions kept out to score on.")
    ] = 0.2,
    sample: Annotated[
        int | None, typer.Option(min=8, help="Train on a random sample of this many pairs.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="Folder for the new model (default: a new version).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Fine-tune CORPUS's model (or --model) on labelled or scored pairs.

    Held-out pairs are scored before and after: AP and F1 on 0/1 pairs, Spearman on scores
    (STS scores from 0 to 5 are read as 0 to 1).
    """
    from dataclasses import asdict

    from app.progress import StageProgress
    from db.labels import labelled_texts
    from db.models import Encoder
    from db.session import open_database
    from indexer.corpus_index import locate_corpus
    from indexer.encoder import Encoder as ModelEncoder
    from indexer.eval_data import read_pairs
    from indexer.evaluate import Correlation, PairScores
    from indexer.finetune import LOSSES, Pair, finetune

    if loss not in LOSSES:
        fail(f"--loss must be one of {', '.join(LOSSES)}, not '{loss}'")
    if corpus is None and model is None:
        fail("name a CORPUS whose model to fine-tune, or give --model")
    if corpus is not None and model is not None:
        fail("name a CORPUS or give --model, not both")
    settings = get_settings()
    sessions = open_database(settings.resolved_database_url)
    found: list[Pair] = []
    if pairs is not None:  # read and checked before any model loads
        data = read_pairs(pairs, binary=loss != "cosine")
        scores = data.scores / 5.0 if loss == "cosine" and data.scores.max() > 1 else data.scores
        rows = zip(data.first, data.second, scores.tolist(), strict=True)
        found += [Pair(a, b, y) for a, b, y in rows]
    if corpus is not None:
        location = locate_corpus(sessions, settings, corpus)
        base = location.spec
        if labels and loss != "cosine":
            with sessions() as session:
                found += [Pair(a, b, y) for a, b, y in labelled_texts(session, location.corpus_id)]
    if not found:
        fail("nothing to train on: label pairs on the Labelling page or give --pairs FILE")
    if model is not None:
        base = ModelEncoder.for_new_corpus(model, device="cpu").spec
    name = corpus or Path(base.model).name
    target = output or default_output(settings.data_dir / "models", name)
    dims = [int(d) for d in comma_list(matryoshka) or []]
    with StageProgress(err, enabled=not as_json) as progress:
        report = finetune(
            base, found, target, loss=loss,
            matryoshka_dims=dims, epochs=epochs, batch_size=batch_size, held_out=held_out,
            max_pairs=sample, device=settings.device,
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
        emit_json(asdict(report))
        return
    out.print(
        f"trained on {report.train_pairs:,} pairs in {report.seconds:.0f} s; "
        f"saved in {report.output}"
    )
    before, after = report.before, report.after
    if isinstance(before, PairScores) and isinstance(after, PairScores):
        out.print(
            f"held-out {report.held_out_pairs:,} pairs, cosine: "
            f"AP {before.average_precision:.4f} -> {after.average_precision:.4f}, "
            f"F1 {before.f1:.4f} -> {after.f1:.4f}"
        )
    elif isinstance(before, Correlation) and isinstance(after, Correlation):
        out.print(
            f"held-out {report.held_out_pairs:,} pairs, cosine Spearman "
            f"{before.spearman:.4f} -> {after.spearman:.4f}"
        )


def folder_name(name: str) -> str:
    """A corpus or model name as one safe folder name: no separators, no `..`, no hidden file."""
    safe = _UNSAFE_IN_FOLDER_NAME.sub("-", name).strip(".-")[:_MAX_FOLDER_NAME].rstrip(".-")
    return safe or "model"


def default_output(folder: Path, name: str) -> Path:
    """The next free `NAME-vN` folder in `folder`; refused if it would resolve outside it (a
    link inside pointing elsewhere), since a default must stay in the data folder."""
    target = _next_version(folder, folder_name(name))
    if not target.resolve().is_relative_to(folder.resolve()):
        raise QclustError(
            f"the default folder for the new model, {target}, leads outside {folder}; "
            "choose one with --output"
        )
    return target


def _next_version(folder: Path, name: str) -> Path:
    version = 1
    while (folder / f"{name}-v{version}").exists():
        version += 1
    return folder / f"{name}-v{version}"


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
            on_wait=lambda message: err.print(message, markup=False),
        )  # fmt: skip
    resumed = " (resumed)" if report.resumed else ""
    out.print(
        f"{corpus}: {report.old_model} -> {report.new_model}{resumed}; encoded "
        f"{report.encoded:,}, index {report.index_kind} holds {report.index_size:,} vectors "
        f"({report.seconds:.1f} s)"
    )
