"""Scoring sentiment models: accuracy, F1, confusion matrix, and accuracy with the words shuffled.

Shuffling each sentence's words keeps its bag of words and destroys its order, so the
drop in accuracy it causes measures how much a model uses word order (a bag of words
loses nothing).
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from musicgen.data.splits import SPLIT_NAMES
from musicgen.demos.sentiment.classifier import SentimentClassifier
from musicgen.demos.sentiment.data import Example, load_examples, split_examples
from musicgen.demos.sentiment.model import predict_probabilities
from musicgen.demos.sentiment.words import words_of
from musicgen.errors import CheckpointError, ConfigError, DataError
from musicgen.paths import SENTIMENT_CHECKPOINT, SENTIMENT_DATA_DIR

if TYPE_CHECKING:
    import keras


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
    probabilities = predict_probabilities(model, texts)
    result = binary_metrics(labels, probabilities)
    baseline_result = binary_metrics(labels, predict_probabilities(baseline, texts))
    result.update({f"baseline_{key}": value for key, value in baseline_result.items()})
    result["shuffled_accuracy"] = binary_metrics(labels, predict_probabilities(model, shuffled))["accuracy"]
    result["baseline_shuffled_accuracy"] = binary_metrics(labels, predict_probabilities(baseline, shuffled))["accuracy"]
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
    result.update({**classifier.describe(), "checkpoint": str(checkpoint)})
    return result
