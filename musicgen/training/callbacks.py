"""The Keras callbacks of a training run (:mod:`musicgen.training.loop`).

A run calls ``fit`` once per stretch of updates between two validations (a round).
``RoundProgress`` draws one tqdm bar per round on stderr (loss, perplexity, accuracy,
gradient norm, tokens/s); ``TimeBudget`` stops training mid-round once a wall-clock
deadline passes; ``StepLearningRate`` sets the learning rate of every update (the
warm-up). The log files are :mod:`musicgen.training.history`'s.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import keras

from musicgen.models.likelihood import perplexity


class RoundProgress(keras.callbacks.Callback):
    """A tqdm progress bar per round with loss, perplexity, accuracy, gradient norm, tokens/s."""

    def __init__(self, budget: int, tokens_per_step: int, enabled: bool = True):
        super().__init__()
        self.budget = budget
        self.first_update = 0
        self.steps = 0
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
            total=self.steps, desc=f"updates {self.first_update:,}+ of {self.budget:,}", unit="step",
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


class StepLearningRate(keras.callbacks.Callback):
    """Set the optimizer's learning rate before each update to ``rate(update)``.

    ``first_update`` is the global count of the round's first batch, so the rule sees
    the run's update count, not the round's.
    """

    def __init__(self, rate: Any, first_update: int = 0):
        super().__init__()
        self.rate = rate
        self.first_update = first_update
        self.current: float | None = None

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        value = float(self.rate(self.first_update + batch))
        if value != self.current:
            self.model.optimizer.learning_rate.assign(value)
            self.current = value
