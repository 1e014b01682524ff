"""Spanish-to-English translation demo: an attention encoder-decoder on musicgen's cells.

A notebook user calls the same functions as ``musicgen translate``::

    from musicgen.demos.translation import Translator, TranslatorConfig, evaluate_translator, train_translator

    train_translator("data/translation", "checkpoints/mine", TranslatorConfig(epochs=2))
    translator = Translator.load("checkpoints/translate")
    translator.translate(["Hace mucho frío aquí."], beam_size=4)
    evaluate_translator("checkpoints/translate", limit=500)

Modules: ``config`` (settings, no TensorFlow), ``data`` (pairs, tokens, batches),
``attention`` (the attention layer), ``model`` (the network), ``decoding`` (greedy and
beam search), ``translator`` (loading and translating), ``training``, ``evaluation``
(BLEU, chrF) and ``plot`` (attention heat-maps). The names below are imported on first
use, so importing the package (and ``musicgen translate --help``) does not start TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "CELLS": "config",
    "IMPLEMENTATIONS": "config",
    "TranslatorConfig": "config",
    "CONFIG_FILE": "training",
    "HISTORY_FILE": "training",
    "TrainResult": "training",
    "train_translator": "training",
    "save_model": "training",
    "INPUT_LENGTH_FACTOR": "translator",
    "MODEL_FILE": "translator",
    "Translation": "translator",
    "Translator": "translator",
    "evaluate_translator": "evaluation",
    "plot_attention": "plot",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
