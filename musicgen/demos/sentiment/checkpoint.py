"""The sentiment checkpoint directory: what is written, in which order, and how it is read back.

``model.keras`` (the classifier), ``baseline.keras`` (bag of words), ``history.json``,
``metrics.json`` and, written last so that it marks the directory complete,
``config.json``: format, version, the :class:`SentimentConfig` (split, seed, baseline and
the from-scratch network), split sizes and data hashes. A classifier fine-tuned from a
pretrained encoder adds ``fine_tune`` (its :class:`FineTuneConfig`) and ``encoder`` (the
encoder's directory, :class:`PretrainConfig` and held-out scores); the from-scratch
network fields of ``config`` then do not describe it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from musicgen import fileio
from musicgen.demos.sentiment.config import SentimentConfig
from musicgen.errors import CheckpointError

CHECKPOINT_FORMAT = "musicgen-sentiment"
CHECKPOINT_VERSION = 1
MODEL_FILE = "model.keras"
BASELINE_FILE = "baseline.keras"
CONFIG_FILE = "config.json"
HISTORY_FILE = "history.json"
METRICS_FILE = "metrics.json"


def save_checkpoint(out_dir: str | os.PathLike, model, baseline, config: SentimentConfig,
                    history: dict[str, Any], metrics: dict[str, Any], record: dict[str, Any]) -> Path:
    """Write every file of the directory atomically; ``record`` adds fields to ``config.json``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with fileio.atomic_path(out_dir / MODEL_FILE) as temporary:
        model.save(temporary)
    with fileio.atomic_path(out_dir / BASELINE_FILE) as temporary:
        baseline.save(temporary)
    fileio.atomic_write_json(out_dir / HISTORY_FILE, history)
    fileio.atomic_write_json(out_dir / METRICS_FILE, metrics)
    fileio.atomic_write_json(out_dir / CONFIG_FILE, {  # written last: marks the directory complete
        "format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "config": config.to_dict(), **record,
    })
    return out_dir


def read_config(directory: str | os.PathLike) -> tuple[SentimentConfig, dict[str, Any]]:
    """The config and the whole record of ``directory/config.json``; ``CheckpointError`` if unusable."""
    directory = Path(directory)
    if not directory.is_dir():
        raise CheckpointError(f"{directory}: no such checkpoint directory (train one with 'musicgen sentiment train')")
    try:
        meta = fileio.read_json(directory / CONFIG_FILE)
    except FileNotFoundError:
        raise CheckpointError(f"{directory}: missing {CONFIG_FILE}: not a complete sentiment checkpoint") from None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise CheckpointError(f"{directory}/{CONFIG_FILE}: corrupt: {error}") from None
    return check_record(directory, meta, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, SentimentConfig, "checkpoint"), meta


def check_record(directory: Path, meta: Any, record_format: str, version: int, config_class: Any,
                 noun: str, kind: str | None = None) -> Any:
    """The validated config of a demo directory's ``config.json`` record ``meta``, after its format
    and version; ``CheckpointError`` naming ``directory`` otherwise. ``noun`` names the directory
    in the format error ("a FORMAT checkpoint"), ``kind`` its version (default ``noun``)."""
    if not isinstance(meta, dict) or meta.get("format") != record_format:
        raise CheckpointError(f"{directory}: {CONFIG_FILE} is not a {record_format} {noun}")
    if meta.get("version") != version:
        raise CheckpointError(f"{directory}: {kind or noun} version {meta.get('version')} is not {version}")
    try:
        config = config_class.from_dict(meta["config"])
        config.validate()
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{directory}/{CONFIG_FILE}: bad config: {error}") from None
    return config
