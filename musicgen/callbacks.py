"""Keras callbacks and log writers used by :mod:`musicgen.training`.

``EpochProgress`` draws one tqdm bar per epoch on stderr (loss, perplexity, accuracy,
gradient norm, tokens/s); ``TimeBudget`` stops training mid-epoch once a wall-clock
deadline passes; ``HistoryLog`` keeps ``history.csv`` (rewritten atomically each epoch)
and TensorBoard scalars.
"""

from __future__ import annotations

import csv
import io
import math
import sys
import time
from pathlib import Path
from typing import Any

import keras

from musicgen import fileio

HISTORY_COLUMNS = (
    "epoch", "loss", "perplexity", "accuracy", "gradient_norm", "val_loss", "val_perplexity",
    "val_accuracy", "learning_rate", "tokens_per_second", "seconds",
)


def perplexity(loss: float) -> float:
    """``exp(loss)``, capped so a diverged loss prints as a large number, not an overflow."""
    return math.exp(min(float(loss), 700.0))


class EpochProgress(keras.callbacks.Callback):
    """A tqdm progress bar per epoch with loss, perplexity, accuracy, gradient norm, tokens/s."""

    def __init__(self, epochs: int, steps: int, tokens_per_step: int, enabled: bool = True):
        super().__init__()
        self.epochs = epochs
        self.steps = steps
        self.tokens_per_step = tokens_per_step
        self.enabled = enabled
        self.bar: Any = None
        self.started = 0.0
        self.steps_done = 0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        from tqdm.auto import tqdm

        self.started = time.perf_counter()
        self.steps_done = 0
        self.bar = tqdm(
            total=self.steps, desc=f"epoch {epoch + 1}/{self.epochs}", unit="step",
            file=sys.stderr, disable=not self.enabled, leave=False, dynamic_ncols=True,
        )

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.steps_done += 1
        if self.bar is None:
            return
        self.bar.update(1)
        if logs and (self.steps_done % 10 == 0 or self.steps_done == self.steps):
            self.bar.set_postfix_str(self.describe(logs), refresh=False)

    def describe(self, logs: dict) -> str:
        """One line of the running metrics."""
        loss = float(logs.get("loss", float("nan")))
        parts = [f"loss {loss:.3f}", f"ppl {perplexity(loss):.2f}"]
        if "accuracy" in logs:
            parts.append(f"acc {float(logs['accuracy']):.3f}")
        if "gradient_norm" in logs:
            parts.append(f"|g| {float(logs['gradient_norm']):.2f}")
        parts.append(f"{self.tokens_per_second:,.0f} tok/s")
        return " ".join(parts)

    @property
    def tokens_per_second(self) -> float:
        seconds = time.perf_counter() - self.started
        return self.steps_done * self.tokens_per_step / seconds if seconds > 0 else 0.0

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class TimeBudget(keras.callbacks.Callback):
    """Stop training after the current step once ``deadline`` (``time.monotonic()``) passes."""

    def __init__(self, deadline: float | None):
        super().__init__()
        self.deadline = deadline
        self.steps_done = 0
        self.stopped = False

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.steps_done = 0
        self.stopped = False

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.steps_done += 1
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.stopped = True
            self.model.stop_training = True


class HistoryLog:
    """``history.csv`` (one row per epoch, rewritten atomically) and TensorBoard scalars."""

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

    def append(self, row: dict[str, Any], csv_name: str = "history.csv") -> None:
        """Record one epoch: rewrite the CSV atomically and write the scalars."""
        self.rows = [r for r in self.rows if int(r["epoch"]) < int(row["epoch"])] + [row]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=HISTORY_COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        fileio.atomic_write_text(self.directory / csv_name, buffer.getvalue())
        self._write_scalars(row)

    def _write_scalars(self, row: dict[str, Any]) -> None:
        # tf.summary.scalar needs the tensorboard package; the core tf.summary.write op with
        # the scalars plugin's metadata writes the same events without it.
        import tensorflow as tf
        from tensorflow.core.framework import summary_pb2

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(str(self.directory / "tensorboard"))
        metadata = summary_pb2.SummaryMetadata()
        metadata.plugin_data.plugin_name = "scalars"
        metadata.data_class = summary_pb2.DATA_CLASS_SCALAR
        serialized = metadata.SerializeToString()
        with self._writer.as_default(step=int(row["epoch"])):
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
