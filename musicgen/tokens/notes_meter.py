"""The notes encoding's meters and lengths: the TIME_SIGNATURE table, the DURATION table, and
the meter a sampled piece plays, stated where its tokens say another.

A model reads a bar's length from the TIME_SIGNATURE before it, but a model trained on
windows that rarely began with one (checkpoints from before every window restated its meter)
writes the meter it has in mind whatever the token says: three beats to a bar under a 4/4
signature, so that in a DAW every bar ends in a beat of silence. :func:`fit_meters` reads
what the bars play and, for each stretch of bars under one signature, states the shorter
meter that holds their notes when nearly every bar stops short of the stated one. Bars
that fill their meter are left as they are, so encoded pieces and models that keep to
their signatures come through unchanged.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from musicgen.tokens.config import Kind

if TYPE_CHECKING:
    from musicgen.tokens.base import Tokenizer

BARS_OF_LONGEST_NOTE = 4  # beats timing: the longest DURATION is 4 bars of 4/4
SECONDS_OF_LONGEST_NOTE = 16
LENGTHS_PER_OCTAVE = 16
LONGEST_BAR_QUARTERS = 8


@lru_cache(maxsize=32)
def time_signatures(steps_per_quarter: int) -> tuple[tuple[int, int], ...]:
    """The meters with a TIME_SIGNATURE token: n/2, n/4, n/8 bars of up to 8 quarter notes
    whose length is a whole number of steps."""
    meters = []
    for denominator in (2, 4, 8):
        for numerator in range(1, 17):
            quarters = numerator * 4 / denominator
            if quarters <= LONGEST_BAR_QUARTERS and (quarters * steps_per_quarter).is_integer():
                meters.append((numerator, denominator))
    return tuple(meters)


@lru_cache(maxsize=32)
def duration_steps(resolution: int, longest: int) -> tuple[int, ...]:
    """Note lengths in steps: every step up to ``resolution``, then 16 an octave up to ``longest``."""
    lengths = set(range(1, resolution + 1))
    octave = resolution
    while octave < longest:
        lengths.update(min(longest, round(octave * (1 + i / LENGTHS_PER_OCTAVE))) for i in range(1, 17))
        octave *= 2
    return tuple(sorted(lengths))


FILLED_SHARE = 0.75  # a shorter meter is stated when at least this share of bars ends within it


def _bars(tokenizer: Tokenizer, ids: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Per bar ``(BAR position, stated meter or -1, last onset, end of its notes)`` in steps (-1: no note)."""
    kinds, values = tokenizer.kinds[ids], tokenizer.values[ids]
    bars: list[list[int]] = []
    position = 0
    for index, (kind, value) in enumerate(zip(kinds.tolist(), values.tolist(), strict=True)):
        if kind in (Kind.EOS, Kind.FILL_START):
            break
        if kind == Kind.BAR:
            bars.append([index, -1, -1, -1])
        elif not bars:
            continue  # the header
        elif kind == Kind.TIME_SIGNATURE:
            bars[-1][1] = value
        elif kind == Kind.POSITION:
            position = value
        elif kind == Kind.DURATION:
            bars[-1][2] = max(bars[-1][2], position)
            bars[-1][3] = max(bars[-1][3], position + value)
    return [tuple(bar) for bar in bars]


def _fitting_meter(tokenizer: Tokenizer, stated: int, onsets: np.ndarray, ends: np.ndarray,
                   allowed: np.ndarray | None) -> int:
    """The meter to state for bars with these last onsets and note ends, ``stated`` if it fits."""
    length = tokenizer.bar_length(stated)
    ends = np.minimum(ends, length)
    if not len(ends) or np.median(ends) >= length:
        return stated
    numerator, denominator = tokenizer.meters[stated]
    best, best_key = stated, None
    for meter, (top, bottom) in enumerate(tokenizer.meters):
        candidate = tokenizer.bar_length(meter)
        if allowed is not None and not allowed[tokenizer.id_of(Kind.TIME_SIGNATURE, meter)]:
            continue
        if not (onsets.max() < candidate < length) or np.mean(ends <= candidate) < FILLED_SHARE:
            continue
        key = (candidate, bottom != denominator, bottom != 4, top)  # shortest, then the stated's family
        if best_key is None or key < best_key:
            best, best_key = meter, key
    return best


def fit_meters(tokenizer: Tokenizer, ids: Any, allowed: np.ndarray | None = None) -> np.ndarray:
    """``ids`` with each stretch of bars under one TIME_SIGNATURE stating the meter its bars play
    (see the module docstring); ``allowed`` (booleans over the vocabulary) limits the meters
    that may be stated to those a model's data had."""
    ids = np.asarray(ids).reshape(-1)
    if not tokenizer.meters or not ((ids >= 0) & (ids < tokenizer.vocab_size)).all():
        return ids  # no meters, or tokens outside the vocabulary: left to the total decoder
    bars = _bars(tokenizer, ids)
    starts = [index for index, bar in enumerate(bars) if bar[1] >= 0]
    out = ids.copy()
    for first, stop in zip(starts, [*starts[1:], len(bars)], strict=True):
        stretch = [bar for bar in bars[first:stop] if bar[3] >= 0]
        if not stretch:
            continue
        stated = bars[first][1]
        onsets, ends = np.array([bar[2] for bar in stretch]), np.array([bar[3] for bar in stretch])
        meter = _fitting_meter(tokenizer, stated, onsets, ends, allowed)
        if meter != stated:
            out[bars[first][0] + 1] = tokenizer.id_of(Kind.TIME_SIGNATURE, meter)
    return out
