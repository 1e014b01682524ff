"""Sentiment demo: train, evaluate and run a bidirectional many-to-one recurrent classifier.

The data, config and networks are in :mod:`musicgen.demos.sentiment_model` (re-exported
here, so ``sentiment.SentimentConfig`` and friends keep working). A bag-of-words logistic
regression on the same split is trained beside the classifier: it scores well on this
data but is blind to word order, which the evaluation shows by shuffling the words of
each test sentence.

Checkpoint directory: ``model.keras``, ``baseline.keras``, ``config.json``,
``history.json``, ``metrics.json``.
"""

from __future__ import annotations

import dataclasses
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from musicgen import fileio
from musicgen.demos import text as text_utils
from musicgen.demos.sentiment_model import (  # noqa: F401  (re-exported public API)
    CELLS,
    DATA_FILES,
    IMPLEMENTATIONS,
    LABEL_NAMES,
    POOLINGS,
    Example,
    SentimentConfig,
    _keras,
    _load_model,
    build_baseline,
    build_classifier,
    build_models,
    build_vocabulary,
    data_fingerprint,
    encoders,
    load_examples,
    recurrent_layer,
    split_examples,
    standardize_sentence,
    words_of,
)
from musicgen.errors import CheckpointError, ConfigError, DataError
from musicgen.paths import SENTIMENT_CHECKPOINT, SENTIMENT_DATA_DIR
from musicgen.splits import SPLIT_NAMES

if TYPE_CHECKING:
    import keras

CHECKPOINT_FORMAT = "musicgen-sentiment"
CHECKPOINT_VERSION = 1


# ----------------------------------------------------------------------------- training

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
    import tensorflow as tf

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
    import sys

    from tqdm import tqdm

    keras = _keras()
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
    from keras import ops

    predicted = ops.cast(ops.mean(probabilities, axis=-1) >= 0.5, "float32")
    return ops.cast(ops.equal(predicted, labels[:, 0]), "float32")


def _train_pair(
    splits: dict[str, list[Example]], config: SentimentConfig, epochs: int, baseline_epochs: int,
    progress: bool, suffix: str = "",
) -> tuple[keras.Model, keras.Model, dict[str, dict[str, list[float]]], list[str]]:
    """The classifier and the baseline, each seeded alike, on a vocabulary of the train split only."""
    from musicgen.runtime import set_seed

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
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with fileio.atomic_path(out_dir / "model.keras") as temporary:
        model.save(temporary)
    with fileio.atomic_path(out_dir / "baseline.keras") as temporary:
        baseline.save(temporary)
    fileio.atomic_write_json(out_dir / "history.json", history)
    fileio.atomic_write_json(out_dir / "metrics.json", {**metrics, "train_seconds": round(seconds, 1)})
    fileio.atomic_write_json(out_dir / "config.json", {  # written last: marks the directory complete
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "config": config.to_dict(),
        "vocabulary_size": len(vocabulary) + 2,
        "split_sizes": split_sizes,
        "data": data_fingerprint(data_dir),
    })
    classifier = SentimentClassifier(model, config, baseline, out_dir)
    return TrainResult(classifier, out_dir, metrics, history, seconds)


# ----------------------------------------------------------------------------- evaluation


def binary_metrics(labels: Sequence[int], probabilities: Sequence[float]) -> dict[str, Any]:
    """Accuracy, precision, recall and F1 of the positive class, and the confusion matrix.

    ``confusion_matrix[true][predicted]`` with 0 = negative, 1 = positive (threshold 0.5).
    An undefined precision/recall/F1 (no positive predictions or labels) is 0.
    """
    labels = np.asarray(labels, dtype=int).reshape(-1)
    predicted = (np.asarray(probabilities, dtype=float).reshape(-1) >= 0.5).astype(int)
    if labels.shape != predicted.shape or labels.size == 0:
        raise ValueError(f"need as many probabilities as labels (at least one), got {predicted.size} and {labels.size}")
    matrix = np.zeros((2, 2), dtype=int)
    np.add.at(matrix, (labels, predicted), 1)
    true_positive, false_positive, false_negative = matrix[1, 1], matrix[0, 1], matrix[1, 0]
    precision = true_positive / (true_positive + false_positive) if true_positive + false_positive else 0.0
    recall = true_positive / (true_positive + false_negative) if true_positive + false_negative else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "accuracy": float(np.trace(matrix) / labels.size),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "confusion_matrix": matrix.tolist(),
    }


def shuffle_words(texts: Sequence[str], seed: int = 0) -> list[str]:
    """Each text's model words in a shuffled order (deterministic for a seed): same bag, new order."""
    generator = random.Random(seed)
    shuffled = []
    for words in words_of(texts):
        generator.shuffle(words)
        shuffled.append(" ".join(words))
    return shuffled


def _probabilities(model: keras.Model, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
    import tensorflow as tf

    outputs = [
        model(tf.constant(list(texts[start : start + batch_size]), dtype=tf.string), training=False)
        for start in range(0, len(texts), batch_size)
    ]
    return np.concatenate([np.asarray(output) for output in outputs]).reshape(-1)


def score_models(
    model: keras.Model, baseline: keras.Model, examples: Sequence[Example], split: str = "test", seed: int = 0
) -> dict[str, Any]:
    """Metrics of the classifier and the baseline on ``examples``, also with word order shuffled.

    The baseline's score does not move when the words are shuffled (a bag has no order);
    the recurrent model's does, as far as it learnt to use word order.
    """
    if not examples:
        raise DataError(f"the {split} split is empty")
    texts = [example.text for example in examples]
    labels = [example.label for example in examples]
    shuffled = shuffle_words(texts, seed)
    probabilities = _probabilities(model, texts)
    result = binary_metrics(labels, probabilities)
    baseline_result = binary_metrics(labels, _probabilities(baseline, texts))
    result.update({f"baseline_{key}": value for key, value in baseline_result.items()})
    result["shuffled_accuracy"] = binary_metrics(labels, _probabilities(model, shuffled))["accuracy"]
    result["baseline_shuffled_accuracy"] = binary_metrics(labels, _probabilities(baseline, shuffled))["accuracy"]
    by_source: dict[str, list[int]] = {}
    for example, probability in zip(examples, probabilities, strict=True):
        by_source.setdefault(example.source, []).append(int((probability >= 0.5) == example.label))
    result["accuracy_by_source"] = {source: float(np.mean(hits)) for source, hits in sorted(by_source.items())}
    result.update({"split": split, "examples": len(examples)})
    return result


def evaluate_sentiment(
    checkpoint: str | os.PathLike = SENTIMENT_CHECKPOINT,
    data_dir: str | os.PathLike = SENTIMENT_DATA_DIR,
    split: str = "test",
) -> dict[str, Any]:
    """Score a saved classifier and its baseline on a split of ``data_dir`` (the checkpoint's split rule)."""
    if split not in SPLIT_NAMES:
        raise ConfigError(f"split must be one of {', '.join(SPLIT_NAMES)}, got {split!r}")
    classifier = SentimentClassifier.load(checkpoint)
    if classifier.baseline is None:
        raise CheckpointError(f"{checkpoint}: missing baseline.keras")
    config = classifier.config
    splits = split_examples(load_examples(data_dir), config.fractions, config.salt)
    result = score_models(classifier.model, classifier.baseline, splits[split], split=split, seed=config.seed)
    result.update({"cell": config.cell, "implementation": config.implementation, "checkpoint": str(checkpoint)})
    return result


# ----------------------------------------------------------------------------- prediction

MAX_TEXT_CHARACTERS = 100_000


@dataclass
class Prediction:
    """The classifier's answer for one text, with what it could and could not read."""

    text: str
    label: str
    probability: float
    words: int
    known_words: int
    truncated: bool
    warning: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class SentimentClassifier:
    """A trained classifier (and its baseline) loaded from a checkpoint directory.

    >>> SentimentClassifier.load("checkpoints/sentiment").predict(["Great food!"])[0].label
    'positive'
    """

    def __init__(self, model: keras.Model, config: SentimentConfig, baseline: keras.Model | None = None,
                 directory: Path | None = None):
        self.model = model
        self.config = config
        self.baseline = baseline
        self.directory = directory
        self.vocabulary = frozenset(model.get_layer("vectorize").get_vocabulary()[2:])

    @classmethod
    def load(cls, directory: str | os.PathLike = SENTIMENT_CHECKPOINT) -> SentimentClassifier:
        """Load ``model.keras`` (safe mode), ``baseline.keras`` and ``config.json``; ``CheckpointError`` if unusable."""
        directory = Path(directory)
        if not directory.is_dir():
            raise CheckpointError(f"{directory}: no such checkpoint directory (train one with 'musicgen sentiment train')")
        try:
            meta = fileio.read_json(directory / "config.json")
        except FileNotFoundError:
            raise CheckpointError(f"{directory}: missing config.json: not a complete sentiment checkpoint") from None
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise CheckpointError(f"{directory}/config.json: corrupt: {error}") from None
        if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"{directory}: config.json is not a {CHECKPOINT_FORMAT} checkpoint")
        if meta.get("version") != CHECKPOINT_VERSION:
            raise CheckpointError(f"{directory}: checkpoint version {meta.get('version')} is not {CHECKPOINT_VERSION}")
        try:
            config = SentimentConfig.from_dict(meta["config"])
            config.validate()
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(f"{directory}/config.json: bad config: {error}") from None
        model = _load_model(directory / "model.keras")
        baseline = _load_model(directory / "baseline.keras") if (directory / "baseline.keras").exists() else None
        try:
            return cls(model, config, baseline, directory)
        except ValueError as error:
            raise CheckpointError(f"{directory}/model.keras: not a sentiment classifier: {error}") from None

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Raw probabilities of "positive", no input checks (for batches of known-good text)."""
        return _probabilities(self.model, list(texts))

    def predict(self, texts: Sequence[str] | str) -> list[Prediction]:
        """Classify each text; raises ``DataError`` for an empty or absurdly long one.

        Words past ``max_length`` are ignored and a text with no known word still gets the
        model's answer; both are flagged in ``Prediction.warning``.
        """
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            return []
        cleaned = []
        for number, text in enumerate(texts, start=1):
            if not isinstance(text, str):
                raise DataError(f"text {number}: expected a string, got {type(text).__name__}")
            if len(text) > MAX_TEXT_CHARACTERS:
                raise DataError(f"text {number} has {len(text)} characters; the limit is {MAX_TEXT_CHARACTERS}")
            cleaned.append(text_utils.normalize_text(text))
        all_words = words_of(cleaned)
        for number, words in enumerate(all_words, start=1):
            if not words:
                raise DataError(f"text {number} is empty: it has no words to classify")
        probabilities = self.probabilities(cleaned)
        return [self._prediction(text, words, float(p)) for text, words, p in zip(texts, all_words, probabilities, strict=True)]

    def _prediction(self, text: str, words: list[str], probability: float) -> Prediction:
        limit = self.config.max_length
        known = sum(word in self.vocabulary for word in words[:limit])
        warnings = []
        if len(words) > limit:
            warnings.append(f"only the first {limit} of {len(words)} words were read")
        if known == 0:
            warnings.append("none of its words is in the vocabulary, so this is a guess")
        return Prediction(
            text=text,
            label=LABEL_NAMES[int(probability >= 0.5)],
            probability=probability,
            words=len(words),
            known_words=known,
            truncated=len(words) > limit,
            warning="; ".join(warnings) or None,
        )


