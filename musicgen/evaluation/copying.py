"""Does a model compose or copy? How much of a sample is found verbatim in the training data.

For each sample, against every training piece:

- the longest run of consecutive notes it shares with one training piece, notes being
  ``(pitch, onset steps after the previous note, duration steps)`` in onset order, so a
  run is the same notes at the same pitches in the same rhythm;
- the longest run of consecutive bars it shares, a bar being the set of its notes'
  ``(pitch, position in the bar, duration)`` (empty bars never count as shared);
- the share of its 8-note pitch n-grams, and of its 8-interval n-grams (the same melody
  in any key), that occur anywhere in the training data.

Runs are found by binary search on the length with 64-bit rolling hashes of every window
of the training sequences, so a check costs a few passes over the data. The same
figures of held-out pieces against the training pieces say what is normal for the data:
a piece the model never saw also shares short runs and common figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from musicgen.tokens import Tokenizer

NGRAM = 8
_BASE = np.uint64(0x9E3779B97F4A7C15)
_INVERSE = np.uint64(pow(int(_BASE), -1, 1 << 64))


@dataclass
class Sequences:
    """One piece as the id sequences the check compares."""

    notes: np.ndarray  # one int64 id per note
    bars: np.ndarray  # one id per bar (empty bars get ids that match nothing)
    pitches: np.ndarray
    intervals: np.ndarray


def piece_sequences(ids: Any, tokenizer: Tokenizer, salt: int = 0) -> Sequences:
    """The note, bar, pitch and interval sequences of a token array (drums left out)."""
    from musicgen.music.instruments import DRUM_PROGRAM

    rows = np.asarray([(start, end, pitch) for start, end, pitch, _, program in tokenizer.decode_notes(ids)
                       if program != DRUM_PROGRAM], np.int64).reshape(-1, 3)
    rows = rows[np.lexsort((rows[:, 2], rows[:, 0]))]
    start, end, pitch = rows[:, 0], rows[:, 1], rows[:, 2]
    onset_gap = np.diff(start, prepend=start[:1])
    notes = (pitch << 40) ^ (np.minimum(onset_gap, 1 << 19) << 20) ^ np.minimum(end - start, (1 << 20) - 1)
    bar, position = _bars(ids, tokenizer, start)
    bars = _bar_ids(position, bar, pitch, end - start, salt)
    return Sequences(notes, bars, pitch, np.diff(pitch))


def _bars(ids: Any, tokenizer: Tokenizer, start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each note's bar and position in it: the encoding's bar lines, else bars of four beats."""
    steps_per_beat = 1 / tokenizer.step_beats(tokenizer.config.default_tempo)
    lines = np.round(np.asarray(tokenizer.bar_lines(ids)) * steps_per_beat).astype(np.int64)
    if len(lines):
        bar = np.maximum(np.searchsorted(lines, start, side="right") - 1, 0)
        return bar, start - lines[bar]
    length = max(int(round(4 * steps_per_beat)), 1)
    return start // length, start % length


def _bar_ids(position: np.ndarray, bar: np.ndarray, pitch: np.ndarray, duration: np.ndarray, salt: int) -> np.ndarray:
    count = int(bar.max()) + 1 if len(bar) else 0
    # Empty bars get distinct negative ids (per piece and bar), so a run of rests is never a copy.
    ids = -(np.arange(count, dtype=np.int64) + 1) - (np.int64(salt) << 32)
    for index in np.unique(bar):
        chosen = bar == index
        content = np.stack([pitch[chosen], position[chosen], duration[chosen]], 1)
        content = content[np.lexsort(content.T[::-1])]
        ids[index] = int(_hash_rows(content.reshape(1, -1))[0] >> np.uint64(1))
    return ids


def _hash_rows(rows: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each row of an int array."""
    value = np.zeros(len(rows), np.uint64)
    with np.errstate(over="ignore"):
        for column in rows.T.astype(np.uint64):
            value = value * _BASE + column + np.uint64(1)
    return value


def window_hashes(sequence: np.ndarray, length: int) -> np.ndarray:
    """The 64-bit polynomial hash of every window of ``length`` items (none when shorter).

    With ``S[k] = sum(v[j] * B**-j, j < k)`` (arithmetic mod 2**64, where the odd ``B`` has
    an inverse), a window's hash ``sum(v[j] * B**(i+L-1-j))`` is ``(S[i+L] - S[i]) * B**(i+L-1)``:
    every window at once, in a few vector operations.
    """
    if length <= 0 or len(sequence) < length:
        return np.zeros(0, np.uint64)
    values = sequence.astype(np.int64).view(np.uint64) + np.uint64(1)
    with np.errstate(over="ignore"):
        powers = np.concatenate([[np.uint64(1)], np.cumprod(np.full(len(values) - 1, _BASE, np.uint64))])
        inverse_powers = np.concatenate([[np.uint64(1)], np.cumprod(np.full(len(values) - 1, _INVERSE, np.uint64))])
        sums = np.concatenate([[np.uint64(0)], np.cumsum(values * inverse_powers, dtype=np.uint64)])
        return (sums[length:] - sums[:-length]) * powers[length - 1:]


class Reference:
    """The training pieces, ready for lookups of shared runs and n-grams."""

    def __init__(self, sequences: list[Sequences]):
        self.sequences = sequences
        self._windows: dict[tuple[str, int], np.ndarray] = {}

    def windows(self, field: str, length: int) -> np.ndarray:
        """Sorted hashes of every training window of ``length`` items of ``field``."""
        key = (field, length)
        if key not in self._windows:
            parts = [window_hashes(getattr(item, field), length) for item in self.sequences]
            self._windows[key] = np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.uint64)
        return self._windows[key]

    def contains(self, field: str, sequence: np.ndarray, length: int) -> np.ndarray:
        """For each window of ``sequence``, whether some training piece has it."""
        table, keys = self.windows(field, length), window_hashes(sequence, length)
        if not len(table) or not len(keys):
            return np.zeros(len(keys), bool)
        index = np.minimum(np.searchsorted(table, keys), len(table) - 1)
        return table[index] == keys

    def longest_run(self, field: str, sequence: np.ndarray) -> int:
        """The longest stretch of ``sequence`` found whole in one training piece."""
        low, high = 0, len(sequence)
        while low < high:  # a shared run of n items holds shared runs of every shorter length
            middle = (low + high + 1) // 2
            if self.contains(field, sequence, middle).any():
                low = middle
            else:
                high = middle - 1
        return low

    def shared_share(self, field: str, sequence: np.ndarray, length: int = NGRAM) -> float | None:
        """The share of ``sequence``'s n-grams found in the training data (None when it has none)."""
        found = self.contains(field, sequence, length)
        return float(found.mean()) if len(found) else None


def copy_figures(pieces: list, training: list, tokenizer: Tokenizer) -> dict[str, float]:
    """Mean and largest shared runs and the mean n-gram shares of ``pieces`` against ``training``."""
    reference = Reference([piece_sequences(ids, tokenizer, salt=index) for index, ids in enumerate(training)])
    rows = []
    for index, ids in enumerate(pieces):
        item = piece_sequences(ids, tokenizer, salt=len(training) + index)
        rows.append((reference.longest_run("notes", item.notes), reference.longest_run("bars", item.bars),
                     reference.shared_share("pitches", item.pitches),
                     reference.shared_share("intervals", item.intervals, NGRAM)))
    if not rows:
        return {}
    notes, bars, pitches, intervals = zip(*rows, strict=True)
    known = [value for value in pitches if value is not None]
    known_intervals = [value for value in intervals if value is not None]
    return {
        "longest_shared_notes_mean": float(np.mean(notes)), "longest_shared_notes_max": int(max(notes)),
        "longest_shared_bars_mean": float(np.mean(bars)), "longest_shared_bars_max": int(max(bars)),
        "pitch_8grams_in_training": float(np.mean(known)) if known else float("nan"),
        "interval_8grams_in_training": float(np.mean(known_intervals)) if known_intervals else float("nan"),
    }
