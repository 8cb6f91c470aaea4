"""New models and model switches: fine-tune on labelled or scored pairs, distil a static
student, re-encode a corpus with another model.

Written once here so that every front end trains into the same folders (a sanitised name,
inside the data folder) and registers what it made the same way. The model libraries load
only when one of these runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from db.errors import QclustError

if TYPE_CHECKING:
    from app.service.core import ProgressFn, Service
    from indexer.encoder import EncoderSpec
    from indexer.finetune import Pair, TrainReport
    from indexer.reindex import ReindexReport

# Anything but letters, digits, `-`, `_` and `.` in a corpus or model name becomes `-`.
_UNSAFE_IN_FOLDER_NAME = re.compile(r"[^\w.-]+")
_MAX_FOLDER_NAME = 100


class TrainRequestError(QclustError):
    """A request that cannot start: no model to start from, two of them, or no data."""


@dataclass(frozen=True)
class Distilled:
    teacher: str
    output: Path
    dims: int


def _no_progress(stage: str, done: int, total: int | None) -> None:
    pass


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


class Training:
    """The model use cases of one `Service` (its settings, database and loaded models)."""

    def __init__(self, service: Service) -> None:
        self.service = service

    def train(
        self,
        *,
        corpus: str | None = None,
        model: str | None = None,
        pairs_file: Path | None = None,
        use_labels: bool = True,
        loss: str = "online-contrastive",
        matryoshka_dims: Sequence[int] = (),
        epochs: int = 1,
        batch_size: int = 32,
        held_out: float = 0.2,
        sample: int | None = None,
        output: Path | None = None,
        progress: ProgressFn = _no_progress,
    ) -> TrainReport:
        """Fine-tune `corpus`'s model (or `model`) on the corpus's labels and/or a pairs file.

        The pairs file holds 0/1 labels, or scores for the cosine loss (STS scores from 0 to 5
        are read as 0 to 1). The model is saved in `output` (default: the next `NAME-vN` under
        the data folder's `models`) and registered, so an ingest can name it.
        """
        from indexer.finetune import LOSSES, finetune

        if loss not in LOSSES:
            raise TrainRequestError(f"loss must be one of {', '.join(LOSSES)}, not '{loss}'")
        if (corpus is None) == (model is None):
            raise TrainRequestError("fine-tune a corpus's model or a named model: give one")
        settings = self.service.settings
        # The file is read and checked before any model loads.
        found: list[Pair] = [] if pairs_file is None else _file_pairs(pairs_file, loss)
        base, labelled = self._corpus_base(corpus, use_labels and loss != "cosine")
        found += labelled
        if not found:
            raise TrainRequestError(
                "nothing to train on: label pairs on the Labelling page or give --pairs FILE"
            )
        base = base or _spec_of(cast(str, model))
        target = output or default_output(
            settings.data_dir / "models", corpus or Path(base.model).name
        )
        report = finetune(
            base, found, target, loss=loss,
            matryoshka_dims=list(matryoshka_dims), epochs=epochs, batch_size=batch_size,
            held_out=held_out, max_pairs=sample, device=settings.device,
            progress=lambda done, total: progress("training", done, total),
        )  # fmt: skip
        self._register(report, base)
        return report

    def _corpus_base(
        self, corpus: str | None, labels: bool
    ) -> tuple[EncoderSpec | None, list[Pair]]:
        """The corpus's encoder, and its analysts' labelled pairs when `labels`."""
        from db.labels import labelled_texts
        from indexer.corpus_index import locate_corpus
        from indexer.finetune import Pair

        if corpus is None:
            return None, []
        location = locate_corpus(self.service.sessions, self.service.settings, corpus)
        if not labels:
            return location.spec, []
        with self.service.sessions() as session:
            rows = labelled_texts(session, location.corpus_id)
        return location.spec, [Pair(a, b, y) for a, b, y in rows]

    def _register(self, report: TrainReport, base: EncoderSpec) -> None:
        """Recorded as an encoder, so that `ingest --model` (and the UI) can offer it."""
        from db.models import Encoder as EncoderRow

        with self.service.sessions.begin() as session:
            session.add(
                EncoderRow(
                    model=str(report.output.resolve()),
                    dimension=report.dimension,
                    normalize=base.normalize,
                    prompt=base.prompt,
                    truncate_dim=base.truncate_dim,
                )  # fmt: skip
            )

    def reindex(
        self,
        corpus: str,
        model: str,
        *,
        truncate_dim: int | None = None,
        prompt: str | None = None,
        progress: ProgressFn = _no_progress,
        on_wait: Callable[[str], None] | None = None,
    ) -> ReindexReport:
        """Re-encode `corpus` with `model` and switch to it at once; called again, it resumes.

        The model stays loaded in this service, so the corpus's next answers need no load.
        """
        from indexer.encoder import Encoder
        from indexer.reindex import reindex

        settings = self.service.settings
        encoder = Encoder.for_new_corpus(
            model, truncate_dim=truncate_dim, prompt=prompt, device=settings.device,
            batch_size=settings.batch_size,
        )  # fmt: skip
        report = reindex(
            corpus, model, settings=settings, sessions=self.service.sessions,
            truncate_dim=truncate_dim, prompt=prompt, encoder=encoder, progress=progress,
            on_wait=on_wait,
        )  # fmt: skip
        self.service.searchers.adopt(encoder)
        return report

    def distill(
        self,
        output: Path,
        *,
        model: str | None = None,
        corpus: str | None = None,
        dims: int = 256,
        on_start: Callable[[str], None] | None = None,
    ) -> Distilled:
        """Distil a static (model2vec) student of `model` or of `corpus`'s model (default: the
        configured model) into `output`; `on_start` hears the teacher before the long part."""
        from indexer.corpus_index import locate_corpus
        from indexer.distill import distill_static

        if model and corpus:
            raise TrainRequestError("distil a named model or a corpus's model, not both")
        settings = self.service.settings
        teacher = model or settings.model
        if corpus:
            teacher = locate_corpus(self.service.sessions, settings, corpus).spec.model
        if on_start is not None:
            on_start(teacher)
        distill_static(teacher, output, dims=dims, device=settings.device)
        return Distilled(teacher, output, dims)


def _file_pairs(path: Path, loss: str) -> list[Pair]:
    from indexer.eval_data import read_pairs
    from indexer.finetune import Pair

    data = read_pairs(path, binary=loss != "cosine")
    scores = data.scores / 5.0 if loss == "cosine" and data.scores.max() > 1 else data.scores
    rows = zip(data.first, data.second, scores.tolist(), strict=True)
    return [Pair(a, b, y) for a, b, y in rows]


def _spec_of(model: str) -> EncoderSpec:
    """The spec a new corpus of `model` would record (its default prompt included)."""
    from indexer.encoder import Encoder

    return Encoder.for_new_corpus(model, device="cpu").spec
