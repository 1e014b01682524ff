"""Training the sentiment classifier and its bag-of-words baseline on the same split.

A bag-of-words logistic regression is trained beside the classifier: it scores well on
this data but is blind to word order, which the evaluation shows by shuffling the words
of each test sentence. Only the train split is fitted, the validation split selects
epochs, and the test split is only scored.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from musicgen.data.splits import SPLIT_NAMES
from musicgen.demos.sentiment.checkpoint import save_checkpoint
from musicgen.demos.sentiment.classifier import SentimentClassifier
from musicgen.demos.sentiment.config import DEFAULT_TRAIN_DIR, FineTuneConfig, SentimentConfig
from musicgen.demos.sentiment.data import Example, data_fingerprint, load_examples, split_examples
from musicgen.demos.sentiment.evaluation import score_models
from musicgen.demos.sentiment.finetuning import train_fine_tuned
from musicgen.demos.sentiment.model import build_baseline, build_models
from musicgen.demos.sentiment.pretrained import PretrainedEncoder
from musicgen.demos.sentiment.progress import progress_bar
from musicgen.demos.sentiment.words import build_vocabulary
from musicgen.errors import ConfigError, DataError
from musicgen.paths import SENTIMENT_DATA_DIR
from musicgen.runtime import set_seed


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
    bar = progress_bar(epochs, description, progress, unit="epoch")

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


def _train_scratch(splits: dict[str, list[Example]], config: SentimentConfig, vocabulary: list[str], epochs: int,
                   progress: bool, suffix: str = "") -> tuple[keras.Model, dict[str, list[float]]]:
    """The recurrent classifier trained from scratch (seeded by the config)."""
    set_seed(config.seed)
    model, training_model = build_models(vocabulary, config)
    return model, _fit(training_model, splits, config, epochs, config.learning_rate, f"{config.cell} classifier{suffix}",
                       progress)


def _train_baseline(splits: dict[str, list[Example]], config: SentimentConfig, vocabulary: list[str], epochs: int,
                    progress: bool, suffix: str = "") -> tuple[keras.Model, dict[str, list[float]]]:
    """The bag-of-words baseline (seeded by the config)."""
    set_seed(config.seed)
    baseline = build_baseline(vocabulary, config)
    return baseline, _fit(baseline, splits, config, epochs, config.baseline_learning_rate,
                          f"bag-of-words baseline{suffix}", progress)


def _best_epoch(history: dict[str, list[float]]) -> int:
    """The epoch (from 1) whose weights early stopping kept: the first best validation accuracy."""
    return 1 + int(np.argmax(history["val_accuracy"]))


def train_sentiment(
    data_dir: str | os.PathLike = SENTIMENT_DATA_DIR,
    out_dir: str | os.PathLike = DEFAULT_TRAIN_DIR,
    config: SentimentConfig | None = None,
    progress: bool = False,
    pretrained: str | os.PathLike | PretrainedEncoder | None = None,
    fine_tune: FineTuneConfig | None = None,
    score_test: bool = True,
) -> TrainResult:
    """Train the recurrent classifier and the bag-of-words baseline; save both to ``out_dir``.

    The classifier is trained from scratch (``config``), or, given a ``pretrained``
    encoder directory, fine-tuned from it (``fine_tune``; see
    :mod:`~musicgen.demos.sentiment.finetuning`). Epochs are chosen on the validation
    split; with ``refit`` the models are then retrained afresh on train + validation for
    those epoch counts. The test split is scored only if ``score_test``, after
    everything is chosen. ``progress`` shows a bar per model on stderr. The same data,
    configs and seed give the same weights.
    """
    config = config or SentimentConfig()
    config.validate()
    encoder = None
    if pretrained is not None:
        fine_tune = fine_tune or FineTuneConfig()
        fine_tune.validate()
        encoder = pretrained if isinstance(pretrained, PretrainedEncoder) else PretrainedEncoder.load(pretrained)
        if (tuple(encoder.config.fractions), encoder.config.salt) != (tuple(config.fractions), config.salt):
            raise ConfigError(f"{encoder.directory}: its vocabulary counts the training split of fractions "
                              f"{tuple(encoder.config.fractions)} and salt {encoder.config.salt!r}; train with the same")
    started = time.perf_counter()
    examples = load_examples(data_dir)
    splits = split_examples(examples, config.fractions, config.salt)
    split_sizes = {name: len(splits[name]) for name in SPLIT_NAMES}
    labels = {example.label for example in splits["train"]}
    if labels != {0, 1}:
        raise DataError(f"{data_dir}: the training split needs both labels, found only {sorted(labels)}")
    refit = fine_tune.refit if encoder is not None else config.refit

    def train_both(splits: dict[str, list[Example]], epochs: int, baseline_epochs: int, suffix: str = ""):
        vocabulary = build_vocabulary([example.text for example in splits["train"]], config.max_tokens,
                                      config.min_count)
        if not vocabulary:
            raise DataError(f"no word occurs {config.min_count} times in the training split")
        if encoder is None:
            model, model_history = _train_scratch(splits, config, vocabulary, epochs, progress, suffix)
            best = _best_epoch(model_history) if splits["validation"] else epochs
        else:
            model, model_history, best = train_fine_tuned(encoder, splits, fine_tune, epochs, config.seed, progress,
                                                          f"fine-tuned classifier{suffix}")
        baseline, baseline_history = _train_baseline(splits, config, vocabulary, baseline_epochs, progress, suffix)
        chosen = (best, _best_epoch(baseline_history) if splits["validation"] else baseline_epochs)
        return model, baseline, {"model": model_history, "baseline": baseline_history}, vocabulary, chosen

    epochs = fine_tune.epochs if encoder is not None else config.epochs
    model, baseline, history, vocabulary, chosen = train_both(splits, epochs, config.baseline_epochs)
    metrics = {}
    if splits["validation"]:
        metrics["validation"] = score_models(model, baseline, splits["validation"], "validation", config.seed)
    if refit and splits["validation"]:
        splits = {"train": splits["train"] + splits["validation"], "validation": [], "test": splits["test"]}
        model, baseline, refit_history, vocabulary, _ = train_both(splits, *chosen, " (refit)")
        history.update({f"refit_{name}": values for name, values in refit_history.items()})
    seconds = time.perf_counter() - started
    if score_test and splits["test"]:
        metrics["test"] = score_models(model, baseline, splits["test"], "test", config.seed)
    record: dict[str, Any] = {"vocabulary_size": len(vocabulary) + 2, "split_sizes": split_sizes,
                              "data": data_fingerprint(data_dir)}
    if encoder is not None:  # the classifier reads the encoder's vocabulary, the baseline its own
        record.update(vocabulary_size=encoder.vocabulary_size, baseline_vocabulary_size=len(vocabulary) + 2,
                      fine_tune=fine_tune.to_dict(), encoder=encoder_summary(encoder))
    save_checkpoint(out_dir, model, baseline, config, history, {**metrics, "train_seconds": round(seconds, 1)}, record)
    classifier = SentimentClassifier(model, config, baseline, Path(out_dir), fine_tune, record.get("encoder"))
    return TrainResult(classifier, Path(out_dir), metrics, history, seconds)


def encoder_summary(encoder: PretrainedEncoder) -> dict[str, Any]:
    """What a fine-tuned checkpoint records of its encoder: where from, its config and held-out scores."""
    keys = ("validation_perplexity", "best_epoch", "epochs_run", "corpus", "train_seconds", "train_cpu_seconds")
    return {"directory": str(encoder.directory), "config": encoder.config.to_dict(),
            "vocabulary_size": encoder.vocabulary_size, **{key: encoder.record[key] for key in keys if key in encoder.record}}
