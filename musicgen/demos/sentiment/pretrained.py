"""The pretrained-encoder directory: it describes itself, and loads in Keras's safe mode.

- ``config.json``: format and version, the :class:`PretrainConfig`, the corpus sizes, the
  data's SHA-256, the held-out losses and the training history and time. Written last,
  so it marks the directory complete.
- ``vocabulary.json``: the word list; word ``i`` has id ``i + 2`` (0 is padding, 1 unknown).
- ``language_model.keras``: both language models (ids in, logits out), without optimiser
  state, loading with ``keras.saving.load_model(path, safe_mode=True)``: every custom
  object is a registered ``musicgen>`` layer, no ``Lambda``, no pickle.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras

import musicgen.demos.sentiment.layers  # noqa: F401  (registers the encoder's layers)
import musicgen.models.cells  # noqa: F401  (registers the cells for deserialisation)
import musicgen.models.recurrent  # noqa: F401  (registers musicgen>Recurrent)
from musicgen import fileio
from musicgen.demos.sentiment.checkpoint import check_record
from musicgen.demos.sentiment.config import PretrainConfig
from musicgen.demos.sentiment.encoder import EMBEDDING, SENTENCE_MARKERS
from musicgen.errors import CheckpointError

ENCODER_FORMAT = "musicgen-sentiment-encoder"
ENCODER_VERSION = 1
CONFIG_FILE = "config.json"
VOCABULARY_FILE = "vocabulary.json"
MODEL_FILE = "language_model.keras"


@dataclass
class PretrainedEncoder:
    """Both language models, their vocabulary and how they were made."""

    model: keras.Model
    vocabulary: list[str]
    config: PretrainConfig
    record: dict[str, Any] = field(default_factory=dict)
    directory: Path | None = None

    @property
    def vocabulary_size(self) -> int:
        """Rows of the embedding: the vocabulary, padding and the unknown word."""
        return len(self.vocabulary) + 2

    def save(self, directory: str | os.PathLike) -> Path:
        """Write the directory atomically (the model without optimiser state, ``config.json`` last)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        bare = keras.Model.from_config(self.model.get_config())
        bare.set_weights(self.model.get_weights())
        with fileio.atomic_path(directory / MODEL_FILE) as temporary:
            bare.save(temporary)
        fileio.atomic_write_json(directory / VOCABULARY_FILE, self.vocabulary)
        return self.write_config(directory)

    def write_config(self, directory: str | os.PathLike) -> Path:
        """(Re)write ``config.json`` alone: the config and :attr:`record`."""
        directory = Path(directory)
        fileio.atomic_write_json(directory / CONFIG_FILE, {
            "format": ENCODER_FORMAT, "version": ENCODER_VERSION, "config": self.config.to_dict(),
            "vocabulary_size": self.vocabulary_size, **self.record,
        })
        self.directory = directory
        return directory

    @classmethod
    def load(cls, directory: str | os.PathLike) -> PretrainedEncoder:
        """Read a directory written by :meth:`save`; ``CheckpointError`` names what is wrong."""
        directory = Path(directory)
        if not directory.is_dir():
            raise CheckpointError(f"{directory}: no such pretrained encoder (make one with 'musicgen sentiment pretrain')")
        meta = _read_json(directory / CONFIG_FILE)
        config = check_record(directory, meta, ENCODER_FORMAT, ENCODER_VERSION, PretrainConfig, "directory", "encoder")
        vocabulary = _read_json(directory / VOCABULARY_FILE)
        if not isinstance(vocabulary, list) or tuple(vocabulary[:2]) != SENTENCE_MARKERS:
            raise CheckpointError(f"{directory}/{VOCABULARY_FILE}: not a word list starting with {SENTENCE_MARKERS}")
        path = directory / MODEL_FILE
        if not path.is_file():
            raise CheckpointError(f"{path}: missing")
        try:
            model = keras.saving.load_model(path, safe_mode=True, compile=False)
        except Exception as error:  # Keras raises many types for a damaged archive
            raise CheckpointError(f"{path}: cannot load: {type(error).__name__}: {error}") from None
        rows = model.get_layer(EMBEDDING).input_dim if EMBEDDING in {layer.name for layer in model.layers} else None
        if rows != len(vocabulary) + 2:
            raise CheckpointError(f"{path}: embedding has {rows} rows, the vocabulary needs {len(vocabulary) + 2}")
        record = {key: value for key, value in meta.items()
                  if key not in ("format", "version", "config", "vocabulary_size")}
        return cls(model, vocabulary, config, record, directory)


def _read_json(path: Path) -> Any:
    try:
        return fileio.read_json(path)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing: not a complete pretrained encoder") from None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise CheckpointError(f"{path}: corrupt: {error}") from None
