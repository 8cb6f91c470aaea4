"""Fine-tuning a model on labelled question pairs with sentence-transformers' trainer.

Labelled pairs (0/1) train with OnlineContrastiveLoss (or ContrastiveLoss): it pulls
duplicates together and pushes the hard non-duplicates apart. Positive pairs alone train with
MultipleNegativesRankingLoss, where the rest of the batch serves as negatives. Scored pairs
(STS, 0 to 1) train with CosineSimilarityLoss, as the multilingual STS models were made. Any can be
wrapped in MatryoshkaLoss so that truncated vectors stay good. The pairs are split by question
(no question in both parts) and the held-out part is scored before and after, so the report
says what the training bought on pairs it never saw.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from db.errors import QclustError
from indexer.encoder import Device, Encoder, EncoderSpec
from indexer.evaluate import Correlation, PairScores, encode_pairs, pair_classification, sts

logger = logging.getLogger(__name__)
LossName = Literal["online-contrastive", "contrastive", "mnrl", "cosine"]
LOSSES: tuple[LossName, ...] = ("online-contrastive", "contrastive", "mnrl", "cosine")
MIN_TRAIN_PAIRS = 8


class TrainingError(QclustError):
    """Training data or settings that cannot work; the message says why."""


@dataclass(frozen=True)
class Pair:
    first: str
    second: str
    label: float  # 0/1, or a similarity from 0 to 1 for the cosine loss


@dataclass(frozen=True)
class TrainReport:
    output: Path
    dimension: int
    train_pairs: int
    held_out_pairs: int
    seconds: float
    before: PairScores | Correlation | None
    after: PairScores | Correlation | None


def split_by_question(
    pairs: Sequence[Pair], held_out: float, seed: int = 0
) -> tuple[list[Pair], list[Pair]]:
    """Held-out pairs share no question with training pairs (pairs across the cut are dropped).

    Questions are joined through the pairs they appear in, and whole groups go to one side,
    so a paraphrase seen in training cannot make the held-out score look better than it is.
    """
    parent: dict[str, str] = {}

    def root(text: str) -> str:
        parent.setdefault(text, text)
        while parent[text] != text:
            parent[text] = parent[parent[text]]
            text = parent[text]
        return text

    for pair in pairs:
        parent[root(pair.first)] = root(pair.second)
    groups = sorted({root(text) for text in parent})
    rng = np.random.default_rng(seed)
    chosen = set(rng.permutation(groups)[: round(len(groups) * held_out)].tolist())
    train = [p for p in pairs if root(p.first) not in chosen]
    test = [p for p in pairs if root(p.first) in chosen]
    return train, test


def held_out_scores(
    encoder: Encoder, pairs: Sequence[Pair], *, scored: bool = False
) -> PairScores | Correlation | None:
    """Cosine AP/F1 on 0/1 pairs, or Pearson/Spearman on scored ones; None if undefined."""
    labels = np.array([p.label for p in pairs], dtype=np.float64)
    if len(set(labels.tolist())) < 2:
        return None
    a, b = encode_pairs(encoder, [p.first for p in pairs], [p.second for p in pairs])
    if scored:
        return sts(a, b, labels)["cosine"]
    return pair_classification(a, b, labels.astype(np.int64))["cosine"]


def finetune(
    base: EncoderSpec,
    pairs: Sequence[Pair],
    output: Path,
    *,
    loss: LossName = "online-contrastive",
    matryoshka_dims: Sequence[int] = (),
    epochs: int = 1,
    batch_size: int = 32,
    learning_rate: float = 2e-5,
    held_out: float = 0.2,
    max_pairs: int | None = None,
    device: Device = "auto",
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> TrainReport:
    """Train a copy of `base` on `pairs`, save it to `output`, score it before and after.

    `max_pairs`: train on a random sample of that many (the held-out part is kept whole).
    """
    import time

    if loss not in LOSSES:
        raise TrainingError(f"loss must be one of {', '.join(LOSSES)}, not '{loss}'")
    if output.exists() and any(output.iterdir()):
        raise TrainingError(f"{output} exists and is not empty; choose a new folder")
    scored = loss == "cosine"
    if scored and not all(0.0 <= p.label <= 1.0 for p in pairs):
        raise TrainingError("the cosine loss needs similarity scores from 0 to 1")
    if not scored and not all(p.label in (0, 1) for p in pairs):
        raise TrainingError(f"{loss} needs 0/1 labels; scored pairs train with --loss cosine")
    train, test = split_by_question(pairs, held_out, seed) if held_out > 0 else (list(pairs), [])
    if loss == "mnrl":
        train = [p for p in train if p.label == 1]
    if max_pairs is not None and len(train) > max_pairs:
        chosen = np.random.default_rng(seed).choice(len(train), max_pairs, replace=False)
        train = [train[i] for i in sorted(chosen.tolist())]
    if len(train) < MIN_TRAIN_PAIRS:
        raise TrainingError(
            f"{len(train)} training pairs after the split; training needs at least "
            f"{MIN_TRAIN_PAIRS} (label more pairs, or lower --held-out)"
        )
    if loss in ("online-contrastive", "contrastive") and len({p.label for p in train}) < 2:
        raise TrainingError(f"{loss} needs duplicate and non-duplicate pairs; use --loss mnrl")

    encoder = Encoder(base, device=device, batch_size=batch_size)
    before = held_out_scores(encoder, test, scored=scored) if test else None
    started = time.perf_counter()
    _train(encoder, train, output, loss, matryoshka_dims, epochs, batch_size, learning_rate,
           seed, progress)  # fmt: skip
    seconds = time.perf_counter() - started
    encoder.model.save(str(output))
    trained = Encoder(
        EncoderSpec(model=str(output), prompt=base.prompt, truncate_dim=base.truncate_dim),
        device=device,
        batch_size=batch_size,
    )
    after = held_out_scores(trained, test, scored=scored) if test else None
    return TrainReport(output, trained.dimension, len(train), len(test), seconds, before, after)


def _train(
    encoder: Encoder,
    train: Sequence[Pair],
    output: Path,
    loss_name: LossName,
    matryoshka_dims: Sequence[int],
    epochs: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
    progress: Callable[[int, int], None] | None,
) -> None:
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer import losses
    from torch.nn import Module
    from transformers import TrainerCallback

    model = encoder.model
    prompt = encoder.spec.prompt or ""
    columns: dict[str, list[str] | list[float] | list[int]] = {
        "anchor": [prompt + p.first for p in train],
        "other": [prompt + p.second for p in train],
    }
    loss: Module
    if loss_name == "mnrl":
        loss = losses.MultipleNegativesRankingLoss(model)
    elif loss_name == "cosine":
        columns["label"] = [float(p.label) for p in train]
        loss = losses.CosineSimilarityLoss(model)
    else:
        columns["label"] = [int(p.label) for p in train]
        loss = (
            losses.OnlineContrastiveLoss(model)
            if loss_name == "online-contrastive"
            else losses.ContrastiveLoss(model)
        )
    if matryoshka_dims:
        loss = losses.MatryoshkaLoss(model, loss, matryoshka_dims=list(matryoshka_dims))

    class Progress(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
            if progress is not None:
                progress(state.global_step, state.max_steps)

    arguments = SentenceTransformerTrainingArguments(
        output_dir=str(output.parent / f".{output.name}-checkpoints"),
        num_train_epochs=epochs,
        per_device_train_batch_size=batch_size,
        learning_rate=learning_rate,
        warmup_steps=0.1,  # a float: the share of steps
        seed=seed,
        save_strategy="no",
        report_to="none",
        logging_strategy="no",
        disable_tqdm=True,
        batch_sampler="no_duplicates" if loss_name == "mnrl" else "batch_sampler",
    )
    trainer = SentenceTransformerTrainer(
        model=model,
        args=arguments,
        train_dataset=Dataset.from_dict(columns),
        loss=loss,
        callbacks=[Progress()],
    )
    trainer.train()
