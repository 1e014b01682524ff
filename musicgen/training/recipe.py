"""The training recipe: what ``musicgen train`` chooses for a data set of a given size.

A :class:`~musicgen.training.config.TrainConfig` option left at ``None`` is chosen here, so the
defaults fit 20 pieces and 20,000. The model grows with the data (:data:`SIZES`: a small
folder gets one narrow layer, strong dropout, short windows and wide transposition, so it
does not memorise); the schedule counts updates, not epochs: a budget of about 40 epochs
(at least 2,000 updates, so a small folder still gets enough of them), a validation every
epoch (at least every 50 updates, at most every 1,000), early stopping after 10 validations
without improvement (at least 300 updates; none before three epochs, at least 200 and at most
1,000 updates, so a small folder, whose validation turns up early, stops early and a large one
is not cut short), and the learning rate cut after a third of that. Fine-tuning keeps the base model's shape and starts at a quarter of the learning rate.

A window of the notes encoding starts at a bar (:mod:`musicgen.data.bar_windows`), so a bar
longer than the window would never be learnt to its end. Where the bars are long (a
band's many tracks) the window grows to a power of two that holds the header, two bars of
median length and the longest bars (:func:`musicgen.data.bar_windows.tokens_to_hold`), and the
batch shrinks so that a batch holds at most :data:`MAX_BATCH_TOKENS` tokens (a window given
by ``--seq-len`` keeps the batch of 16).
"""

from __future__ import annotations

import dataclasses
import os

from musicgen.training.config import TrainConfig

# (up to this many tokens: units, layers, embedding, dropout, window, transposition)
SIZES = (
    (100_000, 256, 1, 128, 0.3, 128, (-5, 5)),
    (1_000_000, 256, 2, 128, 0.2, 256, (-3, 3)),
    (10_000_000, 384, 2, 192, 0.15, 256, (-3, 3)),
    (float("inf"), 512, 2, 256, 0.1, 256, (-2, 2)),
)
EPOCHS_OF_UPDATES = 40
MIN_BUDGET, MAX_BUDGET = 2_000, 200_000
MIN_EVAL_EVERY, MAX_EVAL_EVERY = 50, 1_000
PATIENCE_VALIDATIONS, MIN_PATIENCE = 10, 300
MIN_UPDATES_EPOCHS, MIN_UPDATES_RANGE = 3, (200, 1_000)
LEARNING_RATE, FINE_TUNE_LEARNING_RATE = 2e-3, 5e-4
BATCH_SIZE, MAX_BATCH_TOKENS, MAX_WINDOW = 16, 8_192, 4_096


def resolve_model(config: TrainConfig, tokens: int, base: TrainConfig | None = None, hold: int = 0) -> TrainConfig:
    """``config`` with the model's size, dropout, window, batch and transposition chosen for
    ``tokens`` training tokens (or taken from the ``base`` model being fine-tuned); a window
    holds at least ``hold`` tokens (a power of two, at most :data:`MAX_WINDOW`)."""
    _, units, layers, embedding, dropout, seq_len, transpose = next(size for size in SIZES if tokens <= size[0])
    while seq_len < min(hold, MAX_WINDOW):
        seq_len *= 2
    # The batch shrinks for a window the recipe grew; a window the user gives keeps the batch.
    window = seq_len if config.seq_len is None else 0
    if base is not None:
        units, layers, embedding, cell = base.units, base.num_layers, base.embedding_dim, base.cell
        config = dataclasses.replace(config, cell=cell, one_hot=base.one_hot)
    chosen = {"units": units, "num_layers": layers, "embedding_dim": embedding, "dropout": dropout,
              "seq_len": seq_len, "transpose_range": transpose,
              "batch_size": max(1, min(BATCH_SIZE, MAX_BATCH_TOKENS // window)) if window else BATCH_SIZE,
              "learning_rate": FINE_TUNE_LEARNING_RATE if base is not None else LEARNING_RATE}
    return dataclasses.replace(config, **{name: value for name, value in chosen.items()
                                          if getattr(config, name) is None})


def resolve_schedule(config: TrainConfig, updates_per_epoch: int) -> TrainConfig:
    """``config`` with the budget, validation period and patience chosen for ``updates_per_epoch``.

    ``--epochs`` caps the budget (and alone sets it); ``--max-updates`` sets it. ``--max-minutes``
    without either makes the time the budget: the run goes on until the clock or early stopping
    ends it (a small, augmented data set keeps improving long after 40 epochs; docs/results.md,
    the polyphonic benchmark).
    """
    budget = config.max_updates or min(max(EPOCHS_OF_UPDATES * updates_per_epoch, MIN_BUDGET), MAX_BUDGET)
    if config.max_minutes and not config.max_updates and not config.epochs:
        budget = MAX_BUDGET
    if config.epochs:
        cap = config.epochs * updates_per_epoch
        budget = min(config.max_updates, cap) if config.max_updates else cap
    eval_every = config.eval_every or min(max(updates_per_epoch, MIN_EVAL_EVERY), MAX_EVAL_EVERY, budget)
    patience = config.patience_updates or max(PATIENCE_VALIDATIONS * eval_every, MIN_PATIENCE)
    lr_patience = config.lr_patience_updates or max(patience // 3, eval_every)
    low, high = MIN_UPDATES_RANGE
    min_updates = config.min_updates if config.min_updates is not None else min(
        max(MIN_UPDATES_EPOCHS * updates_per_epoch, low), high)
    return dataclasses.replace(config, max_updates=budget, eval_every=eval_every, patience_updates=patience,
                               lr_patience_updates=lr_patience, min_updates=min_updates)


def implementation(config: TrainConfig) -> str:
    """``"keras"`` (cuDNN) on a GPU and ``"custom"`` (the fused layer) on a CPU, unless one is asked for."""
    if config.implementation != "auto":
        return config.implementation
    import tensorflow as tf

    return "keras" if tf.config.list_physical_devices("GPU") else "custom"


def describe(config: TrainConfig, pieces: int, tokens: int, updates_per_epoch: int,
             base: str | os.PathLike | None = None) -> str:
    """One line saying what was chosen and for what data, e.g. ``80 pieces, 23k tokens: 1 x 256 LSTM ...``."""
    start = f"fine-tuning {base}" if base is not None else f"{config.num_layers} x {config.units} {config.cell.upper()}"
    epochs = config.max_updates / max(updates_per_epoch, 1)
    return (f"{pieces:,} pieces, {_count(tokens)} tokens: {start} (embedding {config.embedding_dim}), dropout "
            f"{config.dropout:g}, batches of {config.batch_size} windows of {config.seq_len} tokens, transposition "
            f"{config.transpose_range[0]:+d}..{config.transpose_range[1]:+d}; budget {config.max_updates:,} updates "
            f"({epochs:.0f} epochs of {updates_per_epoch:,}), validation every {config.eval_every:,}, "
            f"patience {config.patience_updates:,}, learning rate {config.learning_rate:g}")


def _count(tokens: int) -> str:
    return f"{tokens / 1e6:.1f}M" if tokens >= 1e6 else f"{tokens / 1e3:.0f}k" if tokens >= 1e3 else str(tokens)
