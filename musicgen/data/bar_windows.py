"""Training windows of an encoding with bars: whole bars, each window under its piece's header.

A window of an encoding without bars (events) may start anywhere; a window of an encoding
with bars (notes) starts at a bar and is preceded by its piece's header (BOS and one PROGRAM per track), so the
model always knows which track is which, as it does when it samples. A piece's body (its
bars) is covered by ``ceil(body / room)`` windows per epoch, where ``room`` is what a
window leaves after the header; their starts are spread evenly over the body, moved by a
random phase per epoch, and put back to the nearest bar start before them. A window that
runs past its piece's end is padded with PAD, which the loss ignores, so a piece shorter
than a window still teaches the model.

Augmentation transposes a window's pitched notes by a shift drawn per window from the
range that keeps every note of the piece inside the pitch range (pieces with drums are not
transposed, as a table cannot tell drum notes from others). Time stretch would move bar
lines, so the notes encoding leaves it out.

Training windows may then be edited (:mod:`musicgen.data.window_edits`: controls left out,
tracks reordered, fill-in-the-middle examples). Everything is drawn from a NumPy generator
seeded by ``(seed, epoch)``: the windows of an epoch depend only on the seed and the epoch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from musicgen.errors import DataError

if TYPE_CHECKING:
    from musicgen.tokens import Tokenizer


class BarWindowPlan:
    """The bar-aligned windows of some pieces of an encoding with bars, epoch by epoch."""

    def __init__(self, streams: Sequence[np.ndarray], seq_len: int, tokenizer: Tokenizer, shuffle: bool, seed: int,
                 augment: Any = None, editor: Any = None) -> None:
        self.width, self.shuffle, self.seed = seq_len + 1, shuffle, seed
        self.tokenizer = tokenizer
        self.editor = editor if editor is not None and editor.active else None
        self.pad_id = tokenizer.pad_id
        values = tokenizer.values
        self.pieces, self.headers, self.bars, self.counts, self.shifts = [], [], [], [], []
        low, high = augment.semitones if augment is not None else (0, 0)
        config = tokenizer.config
        is_pitch = tokenizer.roles.pitch
        for stream in streams:
            stream = np.asarray(stream, np.int32)
            bars = tokenizer.bar_starts(stream)
            if not len(bars):
                continue  # a piece without a bar has no note
            header, body = stream[: bars[0]], stream[bars[0]:]
            room = self.width - len(header)
            if room < 2:
                raise DataError(f"--seq-len {seq_len} leaves no room after a piece's header of {len(header)} tokens")
            self.pieces.append(body)
            self.headers.append(header)
            self.bars.append(bars - bars[0])
            self.counts.append(max(1, -(-(len(body) - 1) // room)))
            pitches = values[stream[is_pitch[stream]]]
            if augment is None or not len(pitches) or tokenizer.has_drums(stream[: bars[0]]):
                self.shifts.append((0, 0))
            else:
                self.shifts.append((max(low, config.min_pitch - int(pitches.min())),
                                    min(high, config.max_pitch - int(pitches.max()))))
        if not self.pieces:
            raise DataError("no pieces to draw windows from (is the split empty?)")
        self.counts = np.array(self.counts, np.int64)
        self._drawn: dict[int, np.ndarray] = {}
        self.num_windows = int(self.counts.sum())
        self.table = None
        if augment is not None and (low, high) != (0, 0):
            # The shifts drawn keep every note in range, so no token is dropped.
            self.table = {shift: tokenizer.transposition(shift) for shift in range(low, high + 1)}

    def draw(self, epoch: Any) -> np.ndarray:
        """The epoch's windows, ``(windows, seq_len + 1)`` int32, in training order.

        The last two epochs drawn are kept: a run's rounds of updates cross epoch
        boundaries, and each round asks again for the epoch it starts in.
        """
        epoch = int(epoch)
        if epoch not in self._drawn:
            self._drawn = {**{key: value for key, value in self._drawn.items() if key == epoch - 1},
                           epoch: self._draw(epoch)}
        return self._drawn[epoch]

    def _draw(self, epoch: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, int(epoch)])
        windows = np.full((self.num_windows, self.width), self.pad_id, np.int32)
        row = 0
        for body, header, bars, count, (low, high) in zip(self.pieces, self.headers, self.bars, self.counts,
                                                          self.shifts, strict=True):
            room = self.width - len(header)
            spare = max(len(body) - room, 0)
            targets = np.linspace(0, spare, count) if count > 1 else np.zeros(1)
            if self.shuffle and count > 0:
                targets = targets + rng.random() * (spare / max(count - 1, 1) if count > 1 else 0)
            starts = bars[np.maximum(np.searchsorted(bars, np.minimum(targets, spare), side="right") - 1, 0)]
            for start in starts.tolist():
                chunk = self.tokenizer.restate(body, start)[:room]  # the window's first bar restates its meter
                window = np.concatenate([header, chunk])
                if self.table is not None and low <= high:
                    window = self.table[int(rng.integers(low, high + 1))][window]
                if self.editor is not None:
                    window = self.editor.edit(window, rng, width=self.width)
                windows[row, : len(window)] = window
                row += 1
        if self.shuffle:
            windows = windows[rng.permutation(len(windows))]
        return windows

    def dataset(self, epoch: int, repeat: bool, batch_size: int, drop_remainder: bool, epoch_limit: int) -> Any:
        """A ``tf.data.Dataset`` of ``(inputs, targets)`` batches over epochs ``epoch, ...``."""
        import tensorflow as tf

        width = self.width

        def epoch_batches(epoch_number: Any) -> Any:
            windows = tf.numpy_function(self.draw, [epoch_number], tf.int32, stateful=False)
            windows = tf.ensure_shape(windows, [self.num_windows, width])
            data = tf.data.Dataset.from_tensor_slices(windows).batch(batch_size, drop_remainder=drop_remainder)
            return data.map(lambda batch: (batch[:, :-1], batch[:, 1:]))

        stop = epoch_limit if repeat else int(epoch) + 1
        return tf.data.Dataset.range(int(epoch), stop).flat_map(epoch_batches)


def tokens_to_hold(streams: Sequence[np.ndarray], tokenizer: Tokenizer) -> int:
    """The window a piece's bars want: its header, two bars of the median length and the
    longest bars (the 99th percentile), the largest over ``streams``."""
    headers, lengths = [0], []
    for stream in streams:
        bars = tokenizer.bar_starts(stream)
        if len(bars):
            headers.append(int(bars[0]))
            lengths.extend(np.diff(np.append(bars, len(stream))).tolist())
    if not lengths:
        return 0
    return max(headers) + max(2 * int(np.median(lengths)), int(np.percentile(lengths, 99)))


def hold_out_bars(streams: Sequence[np.ndarray], tokenizer: Tokenizer, fraction: float = 0.1) -> tuple[list, list]:
    """Each stream's last ``fraction`` of bars, under its header, as validation data.

    A piece of one bar stays whole in the training streams. Returns ``(train, validation)``.
    """
    train, validation = [], []
    for stream in streams:
        bars = tokenizer.bar_starts(stream)
        if len(bars) < 2:
            train.append(stream)
            continue
        cut = bars[min(max(1, round(len(bars) * (1 - fraction))), len(bars) - 1)]
        header = stream[: bars[0]]
        train.append(np.concatenate([stream[:cut], [tokenizer.eos_id]]).astype(np.int32))
        validation.append(np.concatenate([header, tokenizer.restate(stream, cut)]).astype(np.int32))
    return train, validation
