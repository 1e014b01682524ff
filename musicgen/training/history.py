"""The per-validation record of a training run: ``history.csv`` and TensorBoard scalars.

``history.csv`` holds one row per validation (:data:`HISTORY_COLUMNS`; ``updates`` is the
optimizer steps so far, ``epoch`` the passes over the training windows), rewritten atomically
after each; the same figures go to TensorBoard event files in ``tensorboard/``. Both
names are :mod:`musicgen.training.checkpoint`'s.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from musicgen import fileio
from musicgen.training.checkpoint import HISTORY_FILE, TENSORBOARD_DIR

HISTORY_COLUMNS = (
    "updates", "epoch", "loss", "perplexity", "accuracy", "gradient_norm", "val_loss", "val_perplexity",
    "val_accuracy", "learning_rate", "tokens_per_second", "seconds",
)


class HistoryLog:
    """``history.csv`` (one row per validation, rewritten atomically) and TensorBoard scalars."""

    def __init__(self, directory: str | Path, rows: list[dict] | None = None):
        self.directory = Path(directory)
        self.rows: list[dict] = list(rows or [])
        self._writer: Any = None

    @classmethod
    def read_rows(cls, path: str | Path) -> list[dict]:
        """Rows of an existing ``history.csv`` (an empty list if there is none)."""
        path = Path(path)
        if not path.is_file():
            return []
        with open(path, encoding="utf-8", newline="") as handle:
            return [
                {key: _number(value) for key, value in row.items()} for row in csv.DictReader(handle)
            ]

    def append(self, row: dict[str, Any]) -> None:
        """Record one validation: rewrite the CSV atomically and write the scalars."""
        self.rows = [r for r in self.rows if int(r["updates"]) < int(row["updates"])] + [row]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=HISTORY_COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        fileio.atomic_write_text(self.directory / HISTORY_FILE, buffer.getvalue())
        self._write_scalars(row)

    def _write_scalars(self, row: dict[str, Any]) -> None:
        # tf.summary.scalar needs the tensorboard package; the core tf.summary.write op with
        # the scalars plugin's metadata writes the same events without it.
        import tensorflow as tf
        from tensorflow.core.framework import summary_pb2

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(str(self.directory / TENSORBOARD_DIR))
        metadata = summary_pb2.SummaryMetadata()
        metadata.plugin_data.plugin_name = "scalars"
        metadata.data_class = summary_pb2.DATA_CLASS_SCALAR
        serialized = metadata.SerializeToString()
        with self._writer.as_default(step=int(row["updates"])):
            for name in HISTORY_COLUMNS[1:]:
                value = row.get(name)
                if value is not None and not (isinstance(value, float) and math.isnan(value)):
                    tf.summary.write(name, tf.constant(float(value), tf.float32), metadata=serialized)
        self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _number(text: str | None) -> Any:
    if text is None or text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() and "." not in text and "e" not in text else value
