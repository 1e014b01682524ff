"""Pretraining the encoder: both language models on the English sentences, kept at the best held-out loss.

Adam on the summed per-word loss of both directions, in batches of sentences of similar
length; the learning rate halves after each epoch that does not lower the held-out loss.
After each improving epoch the directory is rewritten (see
:mod:`~musicgen.demos.sentiment.pretrained`), so a run stopped by ``max_minutes`` or by
hand leaves its best encoder behind.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musicgen import fileio
from musicgen.demos.sentiment.config import PretrainConfig
from musicgen.demos.sentiment.corpus import build_encoder_vocabulary, load_corpus
from musicgen.demos.sentiment.data import data_fingerprint
from musicgen.demos.sentiment.encoder import DIRECTIONS
from musicgen.demos.sentiment.language_model import (
    LanguageModelTrainer,
    build_language_model,
    length_batches,
    perplexity,
    vectorize,
)
from musicgen.demos.sentiment.pretrained import PretrainedEncoder
from musicgen.demos.sentiment.progress import progress_bar, report
from musicgen.errors import DataError
from musicgen.paths import SENTIMENT_DATA_DIR, TRANSLATION_DATA_DIR
from musicgen.runtime import set_seed


@dataclass
class PretrainResult:
    """What :func:`pretrain_encoder` produced: the best encoder, where it lies, how it went."""

    encoder: PretrainedEncoder
    out_dir: Path
    history: dict[str, list[float]]
    best_epoch: int
    seconds: float


def pretrain_encoder(
    translation_dir: str | os.PathLike = TRANSLATION_DATA_DIR,
    sentiment_dir: str | os.PathLike = SENTIMENT_DATA_DIR,
    out_dir: str | os.PathLike = "runs/sentiment-encoder",
    config: PretrainConfig | None = None,
    progress: bool = False,
) -> PretrainResult:
    """Train the forward and backward language models; keep the best epoch in ``out_dir``.

    ``progress`` shows a bar per epoch and a line per finished epoch on stderr. Training
    stops after ``config.epochs`` or once ``config.max_minutes`` have passed.
    """
    config = config or PretrainConfig()
    config.validate()
    started, cpu_started = time.monotonic(), time.process_time()
    deadline = started + 60.0 * config.max_minutes if config.max_minutes else None
    corpus = load_corpus(translation_dir, sentiment_dir, config)
    vocabulary = build_encoder_vocabulary(corpus, config.min_count, config.max_words)
    train_ids = vectorize(corpus.train, vocabulary, config.max_length)
    validation_batches = length_batches(vectorize(corpus.validation, vocabulary, config.max_length), config.batch_size)
    set_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model = build_language_model(len(vocabulary) + 2, config)
    trainer = LanguageModelTrainer(model, config.learning_rate, config.clipnorm)
    record = {
        "corpus": {**corpus.record(), "train_words": sum(map(len, train_ids))},
        "data": {"spa.txt": fileio.sha256_file(Path(translation_dir) / "spa.txt"), **data_fingerprint(sentiment_dir)},
    }
    history: dict[str, list[float]] = {}
    best_loss, best_epoch = float("inf"), 0
    for epoch in range(1, config.epochs + 1):
        batches = length_batches(train_ids, config.batch_size, rng)
        with progress_bar(len(batches), f"language models, epoch {epoch}", progress, leave=False) as bar:
            losses, finished = trainer.train_epoch(batches, deadline, bar)
        validation = trainer.evaluate(validation_batches)
        for direction in DIRECTIONS:
            history.setdefault(f"loss_{direction}", []).append(losses[direction])
            history.setdefault(f"val_loss_{direction}", []).append(validation[direction])
        history.setdefault("learning_rate", []).append(trainer.learning_rate)
        history.setdefault("seconds", []).append(round(time.monotonic() - started, 1))
        improved = sum(validation.values()) < best_loss
        if improved:
            best_loss, best_epoch = sum(validation.values()), epoch
            PretrainedEncoder(model, vocabulary, config, {
                **record, "best_epoch": best_epoch, "epochs_run": epoch, "history": history,
                "validation_loss": validation,
                "validation_perplexity": {key: round(perplexity(value), 2) for key, value in validation.items()},
                "train_seconds": round(time.monotonic() - started, 1),
                "train_cpu_seconds": round(time.process_time() - cpu_started, 1),
            }).save(out_dir)
        else:
            trainer.learning_rate = trainer.learning_rate / 2
        shown = ", ".join(f"{key} {perplexity(value):.1f}" for key, value in validation.items())
        report(f"epoch {epoch}: held-out perplexity {shown}{' (best, saved)' if improved else ''}; "
               f"{(time.monotonic() - started) / 60:.1f} min", progress)
        if not finished:
            break
    if best_epoch == 0:
        raise DataError("pretraining stopped before the first epoch was scored; raise --max-minutes")
    encoder = PretrainedEncoder.load(out_dir)
    seconds = time.monotonic() - started
    encoder.record.update(epochs_run=len(history["seconds"]), history=history, train_seconds=round(seconds, 1),
                          train_cpu_seconds=round(time.process_time() - cpu_started, 1))
    encoder.write_config(out_dir)
    return PretrainResult(encoder, Path(out_dir), history, best_epoch, seconds)
