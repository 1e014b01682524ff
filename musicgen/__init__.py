"""musicgen: music and sequence generation with recurrent networks in Keras 3.

The top-level names are imported lazily, so ``import musicgen`` stays fast and
does not start TensorFlow until a model is needed.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from musicgen.errors import CheckpointError, ConfigError, DataError, MidiError, MusicgenError
from musicgen.runtime import quiet_tensorflow

# As quiet as the command line: no TensorFlow start-up chatter unless asked for.
quiet_tensorflow(verbose=bool(os.environ.get("MUSICGEN_VERBOSE")))

__version__ = "0.1.0"

_LAZY = {
    "Tokenizer": "musicgen.tokens",
    "TokenizerConfig": "musicgen.tokens",
    "build_language_model": "musicgen.models.language",
    "TrainConfig": "musicgen.training.config",
    "GenerationOptions": "musicgen.generation.options",
    "train": "musicgen.training.loop",
    "load_checkpoint": "musicgen.training.checkpoint",
    "generate": "musicgen.generation.session",
    "Session": "musicgen.generation.session",
    "NGramModel": "musicgen.models.ngram",
}

__all__ = [
    "CheckpointError",
    "ConfigError",
    "DataError",
    "MidiError",
    "MusicgenError",
    "__version__",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'musicgen' has no attribute {name!r}")
