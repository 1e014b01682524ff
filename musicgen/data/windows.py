"""Teacher-forcing windows over token streams, as a ``tf.data`` pipeline.

A piece of ``L`` tokens yields ``(L - 1) // seq_len`` windows per epoch, spaced
``seq_len`` apart: inputs ``tokens[s:s + seq_len]``, targets ``tokens[s + 1:s + seq_len + 1]``,
never crossing into the next piece. When shuffling, every piece gets a random phase (its
first window starts anywhere in its spare tokens) and the windows are permuted. Each
epoch's plan (window starts, transpositions, stretch factors) is drawn from a NumPy
generator seeded by ``(seed, epoch)``, so the order is a pure function of the seed and
the epoch number and a resumed run sees the same data. Only the concatenated tokens and
one start position per window are held in memory, never the data set cut into windows.

TensorFlow is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from musicgen.errors import ConfigError, DataError

if TYPE_CHECKING:
    from musicgen.tokens import Tokenizer

_EPOCH_LIMIT = 2**62
STRETCH_STEPS = 5


def window_count(streams: Sequence[np.ndarray], seq_len: int) -> int:
    """Windows per epoch (before batching): ``sum((len(piece) - 1) // seq_len)``."""
    _check_positive("seq_len", seq_len)
    return int(sum((len(stream) - 1) // seq_len for stream in streams if len(stream) > seq_len))


def steps_per_epoch(streams: Sequence[np.ndarray], seq_len: int, batch_size: int, drop_remainder: bool = True) -> int:
    """Batches per epoch of :func:`window_dataset` with the same arguments."""
    _check_positive("batch_size", batch_size)
    count = window_count(streams, seq_len)
    return count // batch_size if drop_remainder else -(-count // batch_size)


def window_dataset(
    streams: Sequence[np.ndarray],
    seq_len: int,
    batch_size: int,
    shuffle: bool = True,
    seed: int = 0,
    augment: Any = None,
    repeat: bool = False,
    drop_remainder: bool = True,
    epoch: int = 0,
) -> Any:
    """A ``tf.data.Dataset`` of ``(inputs, targets)`` int32 batches of shape ``(batch, seq_len)``.

    ``WindowPlan(...).dataset(epoch=epoch, repeat=repeat)``; see :class:`WindowPlan`.
    """
    plan = WindowPlan(streams, seq_len, batch_size, shuffle=shuffle, seed=seed, augment=augment,
                      drop_remainder=drop_remainder)
    return plan.dataset(epoch=epoch, repeat=repeat)


class WindowPlan:
    """The windows of a set of streams, epoch by epoch, as ``tf.data`` pipelines.

    Batches never mix epochs, so every epoch is exactly :func:`steps_per_epoch` batches.
    Pieces shorter than ``seq_len + 1`` tokens are skipped; if every piece is,
    :class:`DataError` names the longest piece's length.

    ``augment`` is a :class:`musicgen.data.augment.Augmentation` (training data only):
    each window is transposed by a uniform draw from ``augment.semitones`` through a
    ``transposition_table`` gather (notes pushed out of range are removed and the window
    is refilled from the following tokens of its piece; pieces with drums are never
    transposed). Each piece is time-stretched once per epoch by a factor drawn from
    ``STRETCH_STEPS`` evenly spaced values of ``augment.stretch``; a stretched piece is
    computed once per factor and kept by the plan, since stretching re-encodes the piece.
    The window count stays the same under stretching (windows of a shortened piece overlap).

    A plan is built once per run and asked for each epoch's data set: the data of epoch
    ``e`` depends only on the seed and ``e``. The data sets can be sharded
    (``dataset.shard``) or passed to ``strategy.experimental_distribute_dataset``
    (auto-sharding by data).
    """

    def __init__(self, streams: Sequence[np.ndarray], seq_len: int, batch_size: int, shuffle: bool = True,
                 seed: int = 0, augment: Any = None, drop_remainder: bool = True, tokenizer: Tokenizer | None = None,
                 editor: Any = None) -> None:
        _check_positive("seq_len", seq_len)
        _check_positive("batch_size", batch_size)
        if int(seed) != seed or seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
        self.seq_len, self.batch_size, self.drop_remainder = seq_len, batch_size, drop_remainder
        tokenizer = tokenizer if tokenizer is not None else getattr(augment, "tokenizer", None)
        if tokenizer is not None and tokenizer.anchored_windows:
            from musicgen.data.bar_windows import BarWindowPlan

            self.plan = BarWindowPlan(streams, seq_len, tokenizer, shuffle, int(seed), augment, editor)
        else:
            self.plan = _EpochPlan(streams, seq_len, shuffle, int(seed), augment)
        self.batches = (self.plan.num_windows // batch_size if drop_remainder
                        else -(-self.plan.num_windows // batch_size))

    def dataset(self, epoch: int = 0, repeat: bool = False, skip: int = 0, take: int | None = None,
                cardinality: bool = False) -> Any:
        """Epoch ``epoch``'s batches (and the following epochs' with ``repeat``).

        ``skip``/``take`` cut the first epoch (a resumed run continues mid-epoch);
        ``cardinality`` states the batch count, which Keras's ``evaluate`` wants.
        """
        import tensorflow as tf

        plan, seq_len, batch_size = self.plan, self.seq_len, self.batch_size
        if not isinstance(plan, _EpochPlan):
            dataset = plan.dataset(epoch, repeat, batch_size, self.drop_remainder, _EPOCH_LIMIT)
            return self._finish(dataset, skip, take, cardinality)
        base_tokens = tf.constant(plan.tokens)
        table = None if plan.table is None else tf.constant(plan.table.reshape(-1))
        vocab_size = 0 if plan.table is None else plan.table.shape[1]
        margin = 0 if table is None else max(8, seq_len // 4)
        width = seq_len + 1 + margin

        def gather(tokens: Any, starts: Any, ends: Any, rows: Any) -> Any:
            positions = starts[:, None] + tf.range(width, dtype=tf.int64)[None, :]
            window = tf.gather(tokens, tf.minimum(positions, ends[:, None] - 1))
            if table is not None:
                mapped = tf.gather(table, rows[:, None] * vocab_size + window)
                keep = (mapped >= 0) & (positions < ends[:, None])
                # Move the kept tokens to the front, in order; rows that lost too many stay as they were.
                columns = tf.range(width, dtype=tf.int32)[None, :]
                order = tf.argsort(tf.where(keep, columns, columns + width), axis=1, stable=True)
                compact = tf.gather(mapped, order[:, : seq_len + 1], batch_dims=1)
                enough = tf.reduce_sum(tf.cast(keep, tf.int32), axis=1) >= seq_len + 1
                window = tf.where(enough[:, None], compact, window[:, : seq_len + 1])
            window = tf.ensure_shape(window[:, : seq_len + 1], [None, seq_len + 1])
            return window[:, :-1], window[:, 1:]

        def epoch_batches(epoch_number: Any) -> Any:
            tokens, starts, ends, rows = tf.numpy_function(
                plan.draw, [epoch_number], [tf.int32, tf.int64, tf.int64, tf.int32], stateful=False
            )
            tokens = base_tokens if plan.stretch is None else tf.ensure_shape(tokens, [None])
            windows = tf.data.Dataset.from_tensor_slices(
                tuple(tf.ensure_shape(array, [plan.num_windows]) for array in (starts, ends, rows))
            )
            windows = windows.batch(batch_size, drop_remainder=self.drop_remainder)
            return windows.map(lambda s, e, r: gather(tokens, s, e, r))

        stop = _EPOCH_LIMIT if repeat else int(epoch) + 1
        return self._finish(tf.data.Dataset.range(int(epoch), stop).flat_map(epoch_batches), skip, take, cardinality)

    def _finish(self, dataset: Any, skip: int, take: int | None, cardinality: bool) -> Any:
        import tensorflow as tf

        if skip:
            dataset = dataset.skip(skip)
        if take is not None:
            dataset = dataset.take(take)
        if cardinality:
            count = (self.batches - skip) if take is None else take
            dataset = dataset.apply(tf.data.experimental.assert_cardinality(count))
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        options.deterministic = True
        return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)


class _EpochPlan:
    """The NumPy side: long-enough pieces, and each epoch's window starts and transpositions."""

    def __init__(self, streams: Sequence[np.ndarray], seq_len: int, shuffle: bool, seed: int, augment: Any) -> None:
        lengths = np.array([len(stream) for stream in streams], np.int64)
        if len(lengths) == 0:
            raise DataError("no pieces to draw windows from (is the split empty?)")
        keep = lengths >= seq_len + 1
        if not keep.any():
            raise DataError(
                f"every piece is shorter than seq_len + 1 = {seq_len + 1} tokens "
                f"(the longest has {int(lengths.max())}); use a shorter sequence length"
            )
        self.pieces = [np.asarray(stream, np.int32) for stream, use in zip(streams, keep, strict=True) if use]
        self.seq_len, self.shuffle, self.seed, self.augment = seq_len, shuffle, seed, augment
        self.tokens = np.concatenate(self.pieces)
        self.lengths = lengths[keep]
        self.counts = (self.lengths - 1) // seq_len
        self.num_windows = int(self.counts.sum())
        self.window_piece = np.repeat(np.arange(len(self.pieces)), self.counts)
        first = np.cumsum(self.counts) - self.counts
        self.window_index = np.arange(self.num_windows) - np.repeat(first, self.counts)
        self.table, self.identity_row, self.transposable = self._transposition_tables()
        self.stretch = None
        if augment is not None and augment.stretch[0] != augment.stretch[1]:
            self.stretch = np.linspace(augment.stretch[0], augment.stretch[1], STRETCH_STEPS)
        self._stretched: dict[tuple[int, int], np.ndarray] = {}

    def _transposition_tables(self) -> tuple[np.ndarray | None, int, np.ndarray]:
        if self.augment is None or self.augment.semitones[0] == self.augment.semitones[1] == 0:
            return None, 0, np.zeros(len(self.pieces), bool)
        from musicgen.data import augment as augment_module

        tokenizer = self.augment.tokenizer
        low, high = self.augment.semitones
        rows = [augment_module.transposition_table(tokenizer, shift) for shift in range(low, high + 1)]
        rows.append(np.arange(tokenizer.vocab_size, dtype=np.int32))  # identity, for drum pieces
        transposable = np.array([not augment_module.has_drums(piece, tokenizer) for piece in self.pieces])
        return np.stack(rows).astype(np.int32), len(rows) - 1, transposable

    def draw(self, epoch: np.int64) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Tokens (stretched, or an empty placeholder), window starts, piece ends, table rows."""
        rng = np.random.default_rng([self.seed, int(epoch)])
        tokens, lengths = np.zeros(0, np.int32), self.lengths
        if self.stretch is not None:
            pieces = [self._stretch(index, rng.integers(len(self.stretch))) for index in range(len(self.pieces))]
            tokens, lengths = np.concatenate(pieces), np.array([len(piece) for piece in pieces], np.int64)
        piece_start = np.cumsum(lengths) - lengths
        room = lengths - 1 - self.counts * self.seq_len
        phase = np.floor(rng.random(len(lengths)) * (np.maximum(room, 0) + 1)).astype(np.int64)
        if not self.shuffle:
            phase[:] = 0
        # A stretched piece shorter than its windows need: spread them evenly (they overlap).
        spread = (lengths - 1 - self.seq_len) / np.maximum(self.counts - 1, 1)
        piece, index = self.window_piece, self.window_index
        offset = np.where(
            room[piece] >= 0, phase[piece] + index * self.seq_len, np.floor(index * spread[piece]).astype(np.int64)
        )
        starts = piece_start[piece] + offset
        ends = (piece_start + lengths)[piece]
        rows = np.full(self.num_windows, self.identity_row, np.int32)
        if self.table is not None:
            drawn = rng.integers(0, self.identity_row, self.num_windows).astype(np.int32)
            rows = np.where(self.transposable[piece], drawn, rows).astype(np.int32)
        if self.shuffle:
            order = rng.permutation(self.num_windows)
            starts, ends, rows = starts[order], ends[order], rows[order]
        return tokens, starts.astype(np.int64), ends.astype(np.int64), rows

    def _stretch(self, index: int, step: int) -> np.ndarray:
        piece = self.pieces[index]
        stretched = self._stretched.get((index, step))
        if stretched is None:
            from musicgen.data import augment as augment_module

            factor = float(self.stretch[step])
            stretched = augment_module.stretch_time(piece, factor, self.augment.tokenizer).astype(np.int32)
            self._stretched[(index, step)] = stretched
        return piece if len(stretched) < self.seq_len + 1 else stretched


def _check_positive(name: str, value: int) -> None:
    if int(value) != value or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
