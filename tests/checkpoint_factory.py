"""Checkpoint directories for tests, written with the library's own pieces."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from musicgen.training import checkpoint
from musicgen.training.config import TrainConfig


def write_checkpoint(
    directory: Path,
    model: Any,
    tokenizer: Any,
    train_config: TrainConfig | None = None,
    state: dict | None = None,
    split: dict | None = None,
    last_model: Any = None,
) -> Path:
    """A complete checkpoint directory: metadata, ``model.keras`` (and ``last.keras``), state last."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    # An empty record reads as a complete one (every option at its recorded default).
    checkpoint.write_metadata(directory, tokenizer, train_config or TrainConfig.from_dict({}), split)
    checkpoint.save_model_file(model, directory / checkpoint.MODEL_FILE)
    if last_model is not None:
        checkpoint.save_model_file(last_model, directory / checkpoint.LAST_FILE)
    checkpoint.write_state(directory, dict(state or {}))
    return directory
