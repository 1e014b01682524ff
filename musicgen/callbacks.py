"""The Keras callbacks of a training run (:mod:`musicgen.training`).

``EpochProgress`` draws one tqdm bar per epoch on stderr (loss, perplexity, accuracy,
gradient norm, tokens/s); ``TimeBudget`` stops training mid-epoch once a wall-clock
deadline passes. The per-epoch log files are :mod:`musicgen.history`'s.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import keras

from musicgen.evaluation import perplexity


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
