"""Sentiment demo: a bidirectional recurrent classifier of sentences, beside a bag of words.

A notebook user calls the same functions as ``musicgen sentiment``::

    from musicgen.demos.sentiment import SentimentClassifier, SentimentConfig, train_sentiment

    train_sentiment("data/sentiment", "runs/sentiment", SentimentConfig(cell="gru"))
    SentimentClassifier.load("checkpoints/sentiment").predict(["Great food!"])

Modules: ``config`` (settings, no TensorFlow), ``data`` (the labelled sentences),
``layers`` (the Keras objects saved in the models), ``words`` (tokens, vocabulary),
``model`` (the networks), ``checkpoint`` (the directory format), ``classifier``
(loading, predicting), ``training`` and ``evaluation``. The names below are imported on
first use, so importing the package (and ``musicgen sentiment --help``) does not start
TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "CELLS": "config",
    "IMPLEMENTATIONS": "config",
    "LABEL_NAMES": "config",
    "POOLINGS": "config",
    "SentimentConfig": "config",
    "DATA_FILES": "data",
    "Example": "data",
    "data_fingerprint": "data",
    "load_examples": "data",
    "split_examples": "data",
    "MaskedGlobalMaxPooling1D": "layers",
    "standardize_sentence": "layers",
    "build_vocabulary": "words",
    "words_of": "words",
    "build_baseline": "model",
    "build_classifier": "model",
    "build_models": "model",
    "encoders": "model",
    "load_model": "model",
    "predict_probabilities": "model",
    "recurrent_layer": "model",
    "CHECKPOINT_FORMAT": "checkpoint",
    "CHECKPOINT_VERSION": "checkpoint",
    "MAX_TEXT_CHARACTERS": "classifier",
    "Prediction": "classifier",
    "SentimentClassifier": "classifier",
    "TrainResult": "training",
    "train_sentiment": "training",
    "binary_metrics": "evaluation",
    "evaluate_sentiment": "evaluation",
    "score_models": "evaluation",
    "shuffle_words": "evaluation",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
