"""Synthetic pieces in known meters for the meter tests: waltz, jig and rock patterns."""

from __future__ import annotations

import numpy as np

from musicgen.music.instruments import DRUM_PROGRAM
from musicgen.music.piece import Piece, Track

PROGRESSION = ((48, 52, 55), (53, 57, 60), (55, 59, 62), (48, 52, 55), (45, 48, 52), (50, 53, 57), (55, 59, 62),
               (48, 52, 55))  # C F G C Am Dm G C


def waltz(bars: int = 16, pickup: float = 0.0) -> Piece:
    """3/4: a bass note on each downbeat, the chord on beats two and three, a melody in quarters
    and halves; ``pickup`` beats of melody before the first downbeat."""
    rows = []
    for bar in range(bars):
        start = pickup + bar * 3
        low, *upper = PROGRESSION[bar % len(PROGRESSION)]
        rows.append([start, start + 1, low - 12, 90, 0])
        rows += [[start + beat, start + beat + 0.9, pitch, 70, 0] for beat in (1, 2) for pitch in upper]
        melody = [(0, 2, upper[-1] + 12), (2, 3, upper[0] + 12)] if bar % 2 else [(0, 1, upper[0] + 12),
                                                                                (1, 2, upper[1] + 12), (2, 3, upper[-1] + 12)]
        rows += [[start + on, start + off, pitch, 90, 1] for on, off, pitch in melody]
    rows += [[beat, beat + 1, 72, 80, 1] for beat in np.arange(0, pickup)]
    return Piece(np.array(rows, np.float64), (Track(0), Track(73)), time_signatures=((0.0, 1, 4),))


def jig(bars: int = 16) -> Piece:
    """6/8: running eighths, a bass note on each dotted quarter, longer notes on the downbeats."""
    rows = []
    for bar in range(bars):
        start = bar * 3
        low, *upper = PROGRESSION[bar % len(PROGRESSION)]
        rows += [[start, start + 1.5, low - 12, 90, 0], [start + 1.5, start + 3, low - 5, 80, 0]]
        melody = [(0, 1, upper[-1] + 12), (1, 1.5, upper[0] + 12), (1.5, 2, upper[1] + 12),
                  (2, 2.5, upper[0] + 12), (2.5, 3, upper[-1] + 12)]
        rows += [[start + on, start + off, pitch, 90, 1] for on, off, pitch in melody]
    return Piece(np.array(rows, np.float64), (Track(0), Track(73)), time_signatures=((0.0, 1, 4),))


def rock(bars: int = 16, pickup: float = 0.0, declared: tuple[int, int] = (1, 4)) -> Piece:
    """4/4: kick on one and three, snare on two and four, eighth hats, a bass note a beat and a
    chord a bar; ``pickup`` beats of a drum fill first."""
    rows = []
    for bar in range(bars):
        start = pickup + bar * 4
        low, *upper = PROGRESSION[bar % len(PROGRESSION)]
        rows += [[start + beat, start + beat + 0.9, low - 12 + (beat % 2) * 7, 90, 0] for beat in range(4)]
        rows += [[start, start + 4, pitch + 12, 70, 1] for pitch in upper]
        rows += [[start + beat, start + beat + 0.1, 36, 110, 2] for beat in (0, 2.5)]
        rows += [[start + beat, start + beat + 0.1, 36, 100, 2] for beat in (2,)]
        rows += [[start + beat, start + beat + 0.1, 38, 100, 2] for beat in (1, 3)]
        rows += [[start + beat, start + beat + 0.1, 42, 60, 2] for beat in np.arange(0, 4, 0.5)]
    rows += [[beat, beat + 0.1, 45, 100, 2] for beat in np.arange(0, pickup, 0.5)]
    return Piece(np.array(rows, np.float64), (Track(33), Track(0), Track(DRUM_PROGRAM)),
                 time_signatures=((0.0, *declared),))
