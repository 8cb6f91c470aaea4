"""`qclust distill`, `qclust train` and `qclust reindex`: new models from a corpus's model (a
fast static student, or a copy fine-tuned on labelled pairs), and a corpus switched to one.
The work is the service's (`Service.training`); these parse, call and print.
`qclust models quantize`: an int8 ONNX copy of a model for fast CPU encoding."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from app.cli_common import JsonOption, app, comma_list, emit_json, err, fail, open_service, out
from app.cli_multilingual import models_app
from app.service.training import TrainRequestError

# Where they lived before the service held training; still importable from here.
from app.service.training import _next_version as _next_version
from app.service.training import default_output as default_output
from app.service.training import folder_name as folder_name

if TYPE_CHECKING:
    from app.service.core import ProgressFn


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
    if model and corpus:
        fail("give --model or --corpus, not both")
    open_service().training.distill(
        output, model=model, corpus=corpus, dims=dims,
        on_start=lambda teacher: err.print(
            f"distilling {teacher} into {output} ({dims} dimensions)..."
        ),
    )  # fmt: skip
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

    from indexer.evaluate import Correlation, PairScores
    from indexer.finetune import LOSSES

    if loss not in LOSSES:
        fail(f"--loss must be one of {', '.join(LOSSES)}, not '{loss}'")
    if corpus is None and model is None:
        fail("name a CORPUS whose model to fine-tune, or give --model")
    if corpus is not None and model is not None:
        fail("name a CORPUS or give --model, not both")
    dims = [int(d) for d in comma_list(matryoshka) or []]
    service = open_service()
    try:
        with _drawn_once_training_starts(enabled=not as_json) as progress:
            report = service.training.train(
                corpus=corpus, model=model, pairs_file=pairs, use_labels=labels, loss=loss,
                matryoshka_dims=dims, epochs=epochs, batch_size=batch_size, held_out=held_out,
                sample=sample, output=output, progress=progress,
            )  # fmt: skip
    except TrainRequestError as exc:
        fail(str(exc))
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


@contextmanager
def _drawn_once_training_starts(*, enabled: bool) -> Iterator[ProgressFn]:
    """Progress bars from the first report on, so that a request refused while its data is
    read prints its error alone."""
    from app.progress import StageProgress

    with ExitStack() as stack:
        display = StageProgress(err, enabled=enabled)
        started = False

        def progress(stage: str, done: int, total: int | None) -> None:
            nonlocal started
            if not started:
                stack.enter_context(display)
                started = True
            display(stage, done, total)

        yield progress


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

    service = open_service()
    with StageProgress(err, enabled=not quiet) as progress:
        report = service.training.reindex(
            corpus, model, truncate_dim=truncate_dim, prompt=prompt, progress=progress,
            on_wait=lambda message: err.print(message, markup=False),
        )  # fmt: skip
    resumed = " (resumed)" if report.resumed else ""
    out.print(
        f"{corpus}: {report.old_model} -> {report.new_model}{resumed}; encoded "
        f"{report.encoded:,}, index {report.index_kind} holds {report.index_size:,} vectors "
        f"({report.seconds:.1f} s)"
    )


@models_app.command("quantize")
def quantize_command(
    output: Annotated[Path, typer.Argument(help="New (or empty) folder for the int8 model.")],
    model: Annotated[
        str | None, typer.Option(help="Model folder or name to quantise (default: QCLUST_MODEL).")
    ] = None,
) -> None:
    """Write an int8 ONNX copy of a model: encodes about 3x faster on the CPU (onnxruntime).

    Its vectors differ slightly from the source's, so it is a model of its own: use it with
    `qclust ingest FILE -c NAME --model OUTPUT`, or `qclust reindex CORPUS --model OUTPUT`.
    Needs the `onnx` extra: pip install 'qclust[onnx]'.
    """
    from db.settings import get_settings
    from indexer.onnx_encoder import quantize

    source = model or get_settings().model
    err.print(f"quantising {source} into {output}...")
    quantize(source, output)
    out.print(f"int8 model saved in {output}; use it with --model {output}")
