"""Training the sentiment classifier and its bag-of-words baseline on the same split.

A bag-of-words logistic regression is trained beside the classifier: it scores well on
this data but is blind to word order, which the evaluation shows by shuffling the words
of each test sentence. Only the train split is fitted, the validation split selects
epochs, and the test split is only scored.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops
from tqdm import tqdm

from musicgen.demos.sentiment.checkpoint import save_checkpoint
from musicgen.demos.sentiment.classifier import SentimentClassifier
from musicgen.demos.sentiment.config import SentimentConfig
from musicgen.demos.sentiment.data import Example, data_fingerprint, load_examples, split_examples
from musicgen.demos.sentiment.evaluation import score_models
from musicgen.demos.sentiment.model import build_baseline, build_models
from musicgen.demos.sentiment.words import build_vocabulary
from musicgen.errors import DataError
from musicgen.paths import SENTIMENT_DATA_DIR
from musicgen.runtime import set_seed
from musicgen.splits import SPLIT_NAMES


@dataclass
class TrainResult:
    """What :func:`train_sentiment` produced: the trained classifier, where it was saved, its scores."""

    classifier: SentimentClassifier
    out_dir: Path
    metrics: dict[str, Any]
    history: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    seconds: float = 0.0


def _dataset(examples: Sequence[Example], batch_size: int, shuffle_seed: int | None = None, outputs: int = 1):
    """``(text, labels)`` batches; the label is repeated once per model output (ensemble member)."""
    texts = tf.constant([example.text for example in examples], dtype=tf.string)
    labels = tf.constant([[float(example.label)] * outputs for example in examples], dtype=tf.float32)
    dataset = tf.data.Dataset.from_tensor_slices((texts, labels))
    if shuffle_seed is not None:
        dataset = dataset.shuffle(len(examples), seed=shuffle_seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size)


def _fit(
    model: keras.Model,
    splits: dict[str, list[Example]],
    config: SentimentConfig,
    epochs: int,
    learning_rate: float,
    description: str,
    progress: bool,
) -> dict[str, list[float]]:
    """Adam on binary cross-entropy; early stopping on validation accuracy restores the best weights.

    A model with several outputs (ensemble members) fits each to the labels; its accuracy
    is that of their mean probability, the classifier's answer. Only the train split is
    fitted and only the validation split selects; test is never seen.
    """
    outputs = int(model.outputs[0].shape[-1])
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="binary_crossentropy",
        metrics=[keras.metrics.MeanMetricWrapper(_mean_accuracy, name="accuracy")],
    )
    callbacks: list[keras.callbacks.Callback] = []
    if splits["validation"]:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_accuracy", mode="max", patience=config.patience, restore_best_weights=True
            )
        )
    bar = tqdm(total=epochs, desc=description, unit="epoch", file=sys.stderr, disable=not progress)

    def on_epoch_end(epoch: int, logs: dict | None = None) -> None:
        shown = ("loss", "accuracy", "val_accuracy")
        bar.set_postfix({key: f"{value:.3f}" for key, value in (logs or {}).items() if key in shown})
        bar.update(1)

    callbacks.append(keras.callbacks.LambdaCallback(on_epoch_end=on_epoch_end))
    history = model.fit(
        _dataset(splits["train"], config.batch_size, shuffle_seed=config.seed, outputs=outputs),
        validation_data=_dataset(splits["validation"], config.batch_size, outputs=outputs)
        if splits["validation"] else None,
        epochs=epochs,
        shuffle=False,  # the dataset is shuffled with the config's seed
        callbacks=callbacks,
        verbose=0,
    )
    bar.close()
    return {key: [float(value) for value in values] for key, values in history.history.items()}


def _mean_accuracy(labels, probabilities):
    """Per example: 1 where the mean of the outputs' probabilities is on the label's side of 0.5."""
    predicted = ops.cast(ops.mean(probabilities, axis=-1) >= 0.5, "float32")
    return ops.cast(ops.equal(predicted, labels[:, 0]), "float32")


def _train_pair(
    splits: dict[str, list[Example]], config: SentimentConfig, epochs: int, baseline_epochs: int,
    progress: bool, suffix: str = "",
) -> tuple[keras.Model, keras.Model, dict[str, dict[str, list[float]]], list[str]]:
    """The classifier and the baseline, each seeded alike, on a vocabulary of the train split only."""
    vocabulary = build_vocabulary([example.text for example in splits["train"]], config.max_tokens, config.min_count)
    if not vocabulary:
        raise DataError(f"no word occurs {config.min_count} times in the training split")
    set_seed(config.seed)
    model, training_model = build_models(vocabulary, config)
    history = {"model": _fit(training_model, splits, config, epochs, config.learning_rate,
                             f"{config.cell} classifier{suffix}", progress)}
    set_seed(config.seed)
    baseline = build_baseline(vocabulary, config)
    history["baseline"] = _fit(baseline, splits, config, baseline_epochs, config.baseline_learning_rate,
                               f"bag-of-words baseline{suffix}", progress)
    return model, baseline, history, vocabulary


def train_sentiment(
    data_dir: str | os.PathLike = SENTIMENT_DATA_DIR,
    out_dir: str | os.PathLike = "runs/sentiment",
    config: SentimentConfig | None = None,
    progress: bool = False,
) -> TrainResult:
    """Train the recurrent classifier and the bag-of-words baseline; save both to ``out_dir``.

    Epochs are chosen by early stopping on the validation split; with ``config.refit``
    both models are then retrained from scratch on train + validation for those epoch
    counts. The test split is only scored. ``progress`` shows a bar per model on stderr.
    The same data, config and seed give the same weights.
    """
    config = config or SentimentConfig()
    config.validate()
    started = time.perf_counter()
    examples = load_examples(data_dir)
    splits = split_examples(examples, config.fractions, config.salt)
    split_sizes = {name: len(splits[name]) for name in SPLIT_NAMES}
    labels = {example.label for example in splits["train"]}
    if labels != {0, 1}:
        raise DataError(f"{data_dir}: the training split needs both labels, found only {sorted(labels)}")
    model, baseline, history, vocabulary = _train_pair(splits, config, config.epochs, config.baseline_epochs, progress)
    metrics = {}
    if splits["validation"]:
        metrics["validation"] = score_models(model, baseline, splits["validation"], "validation", config.seed)
    if config.refit and splits["validation"]:
        # Refit from scratch on train + validation for the epoch counts validation chose.
        epochs = [1 + int(np.argmax(history[name]["val_accuracy"])) for name in ("model", "baseline")]
        splits = {"train": splits["train"] + splits["validation"], "validation": [], "test": splits["test"]}
        model, baseline, refit_history, vocabulary = _train_pair(splits, config, *epochs, progress, " (refit)")
        history.update({f"refit_{name}": values for name, values in refit_history.items()})
    seconds = time.perf_counter() - started
    if splits["test"]:
        metrics["test"] = score_models(model, baseline, splits["test"], "test", config.seed)
    save_checkpoint(out_dir, model, baseline, config, history, {**metrics, "train_seconds": round(seconds, 1)}, {
        "vocabulary_size": len(vocabulary) + 2, "split_sizes": split_sizes, "data": data_fingerprint(data_dir),
    })
    classifier = SentimentClassifier(model, config, baseline, Path(out_dir))
    return TrainResult(classifier, Path(out_dir), metrics, history, seconds)
