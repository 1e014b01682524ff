"""Training-time augmentation on token arrays (no MIDI re-parse).

* :func:`transpose` shifts every pitched note token (:attr:`Tokenizer.roles`) by some semitones. Drums (notes
  after ``PROGRAM(drums)``) are untouched. A note pushed outside the tokenizer's pitch range
  is dropped together with its NOTE_OFF (both map out of range, since they share a pitch),
  so the stream stays valid; the VELOCITY and TIME_SHIFT tokens around it stay, so timing
  is unchanged.
* :func:`transposition_table` is the same map as an id -> id array for a ``tf.gather`` in
  the tf.data pipeline. Ids that are dropped map to :data:`DROPPED` (-1): remove them with
  ``tf.boolean_mask(ids, ids >= 0)`` *before* cutting windows (never feed -1 to a model).
  A table cannot see PROGRAM context, so it transposes drum notes too: apply it only to
  streams without drums (:func:`has_drums`), or use :func:`transpose`.
* :func:`stretch_time` scales time by a factor, re-quantising every event from its
  accumulated absolute time (so rounding never drifts) and re-encoding canonically.
* :class:`Augmentation` draws a random transposition and stretch per call.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from musicgen.errors import ConfigError
from musicgen.music.instruments import DRUM_PROGRAM
from musicgen.tokens import Tokenizer
from musicgen.tokens.base import DROPPED


def transposition_table(tokenizer: Tokenizer, semitones: int) -> np.ndarray:
    """int32 array of length ``vocab_size`` mapping each id to its transposed id
    (:meth:`Tokenizer.transposition`: pitches move, those that leave the range map to
    :data:`DROPPED`, a key's tonic moves with them, every other id maps to itself)."""
    return tokenizer.transposition(semitones)


def drum_mask(ids: np.ndarray, tokenizer: Tokenizer) -> np.ndarray:
    """Boolean array: True where a token lies in drum context (after the drum kit's PROGRAM)."""
    ids = np.asarray(ids, dtype=np.int64)
    valid = (ids >= 0) & (ids < tokenizer.vocab_size)
    safe = np.where(valid, ids, 0)
    is_program = valid & tokenizer.roles.program[safe]
    if not is_program.any():
        return np.zeros(len(ids), bool)
    positions = np.where(is_program, np.arange(len(ids)), -1)
    last_program = np.maximum.accumulate(positions)
    current = np.where(last_program >= 0, tokenizer.values[safe[np.maximum(last_program, 0)]], -1)
    return current == DRUM_PROGRAM


def has_drums(ids: np.ndarray, tokenizer: Tokenizer) -> bool:
    """Whether the stream names the drum kit."""
    return tokenizer.has_drums(ids)


def transpose(ids: np.ndarray, semitones: int, tokenizer: Tokenizer) -> np.ndarray:
    """Transpose pitched notes by ``semitones``; drop notes that leave the pitch range."""
    ids = np.asarray(ids, dtype=np.int32).reshape(-1)
    if semitones == 0:
        return ids.copy()
    table = transposition_table(tokenizer, semitones)
    valid = (ids >= 0) & (ids < tokenizer.vocab_size)
    mapped = np.where(valid, table[np.where(valid, ids, 0)], ids)
    mapped = np.where(drum_mask(ids, tokenizer), ids, mapped)
    return mapped[mapped != DROPPED].astype(np.int32)


def stretch_time(ids: np.ndarray, factor: float, tokenizer: Tokenizer) -> np.ndarray:
    """Scale time by ``factor`` (> 1 is slower), re-quantised from absolute time.

    The ids are decoded to notes (start/end steps), both scaled and rounded from their
    absolute positions, and re-encoded, so the result is a canonical encoding and the
    rounding error of any event is at most half a step, however long the piece.
    """
    factor = float(factor)
    if not 0.0 < factor < 100.0 or not np.isfinite(factor):
        raise ConfigError(f"time stretch factor must be in (0, 100), got {factor}")
    notes = tokenizer.decode_notes(ids)
    if not notes:
        return np.array([tokenizer.bos_id, tokenizer.eos_id], dtype=np.int32)
    array = np.array(notes, dtype=np.float64)
    steps_per_quarter = tokenizer.config.steps_per_quarter
    array[:, :2] *= factor / steps_per_quarter  # steps -> stretched beats
    return tokenizer.encode_notes(array)


@dataclasses.dataclass(frozen=True)
class Augmentation:
    """Random transposition and time stretch, one draw per call.

    ``semitones`` is an inclusive range of integers (default -3..+3); ``stretch`` a range of
    factors (default 0.95..1.05; ``(1.0, 1.0)`` turns stretching off).
    """

    tokenizer: Tokenizer
    semitones: tuple[int, int] = (-3, 3)
    stretch: tuple[float, float] = (0.95, 1.05)

    def __post_init__(self) -> None:
        low, high = self.semitones
        if low > high or abs(low) > 127 or abs(high) > 127:
            raise ConfigError(f"bad transposition range {self.semitones}")
        if not 0 < self.stretch[0] <= self.stretch[1] < 100:
            raise ConfigError(f"bad time stretch range {self.stretch}")

    def __call__(self, ids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Return an augmented copy of ``ids`` using random numbers from ``rng``."""
        semitones = int(rng.integers(self.semitones[0], self.semitones[1] + 1))
        factor = float(rng.uniform(self.stretch[0], self.stretch[1]))
        out = transpose(ids, semitones, self.tokenizer)
        if factor != 1.0:
            out = stretch_time(out, factor, self.tokenizer)
        return out
