"""The training schedule, counted in updates: warm-up, learning-rate cuts, early stopping.

Counting updates rather than epochs lets one set of defaults serve 20 pieces and 20,000:
an epoch of a small folder is a couple of batches, of a large one thousands.
:class:`TrainState` is what ``--resume`` needs besides the weights and the optimizer
(``state.json``); :class:`Schedule` advances it after each validation.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from musicgen import options
from musicgen.errors import CheckpointError

if TYPE_CHECKING:
    from musicgen.training.config import TrainConfig

# Early stopping waits while the best validation loss is within this share of the unigram's:
# a model on the unigram plateau has not started to learn, and more updates get it off.
PLATEAU_SHARE = 0.95


@dataclass
class TrainState:
    """Where a run stands, saved as ``state.json`` after every validation."""

    updates: int = 0  # optimizer steps taken
    updates_per_epoch: int = 0  # batches in one pass over the training windows
    best_val_loss: float | None = None
    best_updates: int | None = None
    last_cut: int = 0  # updates at the best validation or the last learning-rate cut
    learning_rate: float = 0.0  # the rate after warm-up (cut on plateaus)
    unigram_loss: float | None = None  # validation NLL of the training unigram: the plateau
    seed: int = 0
    wall_seconds: float = 0.0  # training time of this run's updates (resumes included)
    total_wall_seconds: float = 0.0  # the weights' whole training time: the base model's, then this run's
    base_wall_seconds: float = 0.0  # the base model's own total (0 from scratch)
    resumed: int = 0
    parameters: int = 0
    base: str | None = None  # the checkpoint fine-tuned from
    last_sha256: str | None = None  # of last.keras, to notice a crash between two writes
    data_order: str = ("update u trains batch u % E of WindowPlan(seed=seed).dataset(epoch=u // E), "
                       "E = updates_per_epoch")
    history: dict[str, Any] = field(default_factory=dict)

    @property
    def epoch(self) -> float:
        """Passes over the training windows so far."""
        return self.updates / self.updates_per_epoch if self.updates_per_epoch else 0.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainState:
        if "epoch" in values and "updates" not in values:
            raise CheckpointError(
                "this checkpoint was trained by an older musicgen that counted epochs, and cannot be resumed; "
                "fine-tune from it with --from instead"
            )
        return options.from_dict(cls, values, "training state", legacy=("format", "format_version"))


@dataclass
class Schedule:
    """Warm-up, learning-rate cuts on a plateau and early stopping, all in updates."""

    warmup: int
    patience: int
    lr_patience: int
    lr_factor: float
    min_learning_rate: float
    min_updates: int

    @classmethod
    def of(cls, config: TrainConfig) -> Schedule:
        return cls(config.warmup_updates, config.patience_updates, config.lr_patience_updates, config.lr_factor,
                   config.min_learning_rate, config.min_updates or 0)

    def learning_rate(self, state: TrainState, update: int) -> float:
        """The rate for optimizer step ``update`` (0-based): a linear rise over the warm-up."""
        if self.warmup and update < self.warmup:
            return state.learning_rate * (update + 1) / self.warmup
        return state.learning_rate

    def update(self, state: TrainState, val_loss: float) -> bool:
        """Record a validation at ``state.updates``; True when it is the best so far. May cut the rate."""
        improved = math.isfinite(val_loss) and (state.best_val_loss is None or val_loss < state.best_val_loss)
        if improved:
            state.best_val_loss, state.best_updates, state.last_cut = val_loss, state.updates, state.updates
        elif state.updates - state.last_cut >= self.lr_patience and state.learning_rate > self.min_learning_rate:
            state.learning_rate = max(state.learning_rate * self.lr_factor, self.min_learning_rate)
            state.last_cut = state.updates
        return improved

    def on_plateau(self, state: TrainState) -> bool:
        """Whether the best validation loss is still near the unigram's (the model has not started)."""
        if state.unigram_loss is None or state.best_val_loss is None:
            return False
        return state.best_val_loss > PLATEAU_SHARE * state.unigram_loss

    def should_stop(self, state: TrainState) -> bool:
        """Early stopping: ``patience`` updates without improvement, past the minimum and off the plateau."""
        if state.best_updates is None or state.updates < self.min_updates or self.on_plateau(state):
            return False
        return state.updates - state.best_updates >= self.patience

    def why_stopped(self, state: TrainState) -> str:
        """Early stopping in words: how long validation has not improved, and the patience."""
        return (f"no better validation loss in {state.updates - (state.best_updates or 0):,} updates since update "
                f"{state.best_updates or 0:,} (patience {self.patience:,})")


def unigram_loss(train_streams: list, val_streams: list, vocab_size: int, pad_id: int = 0) -> float:
    """The validation NLL (nats/token) of the training split's token frequencies, add-one smoothed."""
    import numpy as np

    counts = np.ones(vocab_size, np.float64)
    for stream in train_streams:
        counts += np.bincount(np.asarray(stream[1:]), minlength=vocab_size)[:vocab_size]
    log_probs = np.log(counts / counts.sum())
    targets = np.concatenate([np.asarray(s[1:]) for s in val_streams]) if val_streams else np.zeros(0, int)
    targets = targets[targets != pad_id]
    return float(-log_probs[targets].mean()) if targets.size else float("nan")
