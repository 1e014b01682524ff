"""The training recipe: what musicgen train chooses for a small folder and a large one."""

from __future__ import annotations

import dataclasses

import numpy as np

from musicgen.training import recipe
from musicgen.training.config import TrainConfig


def test_a_small_folder_gets_a_narrow_regularised_model_and_a_large_one_a_wide_one() -> None:
    small = recipe.resolve_model(TrainConfig(), tokens=23_000)
    assert (small.units, small.num_layers, small.dropout, small.seq_len, small.transpose_range) == (
        256, 1, 0.3, 128, (-5, 5))
    large = recipe.resolve_model(TrainConfig(), tokens=5_000_000)
    assert (large.units, large.num_layers, large.embedding_dim, large.dropout) == (384, 2, 192, 0.15)
    assert small.learning_rate == large.learning_rate == recipe.LEARNING_RATE


def test_what_the_user_gives_wins_over_the_recipe() -> None:
    given = dataclasses.replace(TrainConfig(), units=64, dropout=0.0, seq_len=512, learning_rate=0.01)
    chosen = recipe.resolve_model(given, tokens=23_000)
    assert (chosen.units, chosen.num_layers, chosen.dropout, chosen.seq_len, chosen.learning_rate) == (
        64, 1, 0.0, 512, 0.01)


def test_fine_tuning_keeps_the_base_shape_and_lowers_the_learning_rate() -> None:
    base = dataclasses.replace(TrainConfig(), cell="gru", units=384, num_layers=2, embedding_dim=192, dropout=0.1)
    chosen = recipe.resolve_model(TrainConfig(), tokens=23_000, base=base)
    assert (chosen.cell, chosen.units, chosen.num_layers, chosen.embedding_dim) == ("gru", 384, 2, 192)
    assert chosen.learning_rate == recipe.FINE_TUNE_LEARNING_RATE
    assert chosen.dropout == 0.3  # regularisation still follows the folder's size


def test_the_schedule_counts_updates_for_any_size() -> None:
    tiny = recipe.resolve_schedule(TrainConfig(), updates_per_epoch=2)
    # 40 epochs of 2 updates would be 80 updates: too few to learn anything.
    assert (tiny.max_updates, tiny.eval_every, tiny.patience_updates, tiny.lr_patience_updates, tiny.min_updates) == (
        2_000, 50, 500, 166, 200)  # a small folder, whose validation turns up early, may stop early
    big = recipe.resolve_schedule(TrainConfig(), updates_per_epoch=5_000)
    assert (big.max_updates, big.eval_every, big.patience_updates, big.min_updates) == (200_000, 1_000, 10_000, 1_000)
    middle = recipe.resolve_schedule(TrainConfig(), updates_per_epoch=300)
    assert (middle.max_updates, middle.eval_every, middle.patience_updates, middle.min_updates) == (
        12_000, 300, 3_000, 900)
    given = recipe.resolve_schedule(dataclasses.replace(TrainConfig(), patience_updates=70, min_updates=0), 2)
    assert (given.patience_updates, given.min_updates) == (70, 0)  # --patience and --min-updates override


def test_epochs_cap_the_budget_and_max_updates_sets_it() -> None:
    assert recipe.resolve_schedule(dataclasses.replace(TrainConfig(), epochs=3), 10).max_updates == 30
    capped = recipe.resolve_schedule(dataclasses.replace(TrainConfig(), epochs=3, max_updates=20), 10)
    assert (capped.max_updates, capped.eval_every) == (20, 20)  # at least 50 apart, but inside the budget
    assert recipe.resolve_schedule(dataclasses.replace(TrainConfig(), max_updates=500), 10).max_updates == 500


def test_the_run_says_what_it_chose_and_why() -> None:
    config = recipe.resolve_schedule(recipe.resolve_model(TrainConfig(), tokens=23_000), updates_per_epoch=2)
    line = recipe.describe(config, pieces=80, tokens=23_000, updates_per_epoch=2)
    assert line.startswith("80 pieces, 23k tokens: 1 x 256 LSTM (embedding 128), dropout 0.3, batches of 16 windows of 128 tokens")
    assert "budget 2,000 updates (1000 epochs of 2)" in line


def test_long_bars_get_windows_that_hold_them_and_smaller_batches() -> None:
    """A band's bars of hundreds of tokens: a window of the table's 256 would never reach a bar's end."""
    band = recipe.resolve_model(TrainConfig(), tokens=446_000, hold=643)
    assert (band.seq_len, band.batch_size) == (1024, 8)  # a power of two; at most 8,192 tokens a batch
    short = recipe.resolve_model(TrainConfig(), tokens=446_000, hold=130)
    assert (short.seq_len, short.batch_size) == (256, 16)
    assert recipe.resolve_model(TrainConfig(), tokens=446_000, hold=10**6).seq_len == recipe.MAX_WINDOW
    given = recipe.resolve_model(dataclasses.replace(TrainConfig(), seq_len=2048), tokens=446_000, hold=643)
    assert (given.seq_len, given.batch_size) == (2048, 16)  # the user's window keeps the batch
    both = recipe.resolve_model(dataclasses.replace(TrainConfig(), batch_size=32), tokens=446_000, hold=643)
    assert (both.seq_len, both.batch_size) == (1024, 32)


def test_the_window_to_hold_is_the_header_two_median_bars_or_the_longest() -> None:
    from musicgen.data.bar_windows import tokens_to_hold
    from musicgen.tokens import Kind, Tokenizer, TokenizerConfig

    tokenizer = Tokenizer(TokenizerConfig())
    bar, note = tokenizer.id_of(Kind.BAR), tokenizer.id_of(Kind.PITCH, 60)

    def piece(header: int, bars: list[int]) -> np.ndarray:
        return np.array([tokenizer.bos_id] * header + [token for length in bars for token in [bar] + [note] * (length - 1)])

    assert tokens_to_hold([piece(3, [10, 10, 12]), piece(5, [10, 10, 10])], tokenizer) == 5 + 20
    assert tokens_to_hold([piece(3, [10] * 90 + [400] * 10)], tokenizer) == 3 + 400  # the longest bars count too
    assert tokens_to_hold([np.array([tokenizer.bos_id, note])], tokenizer) == 0  # no bar: nothing to hold
