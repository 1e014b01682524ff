"""Meter: bar lines and beats of a piece's time signatures, and the meter inferred from its notes.

:func:`bar_lines` and :func:`beat_frames` lay a piece's bars and beats out from its time
signatures (bars restart at each signature, as a sequencer lays them). The beat is a quarter
note, or a dotted quarter in compound meters (6/8, 9/8, 12/8).

:func:`infer_meter` finds the meter of notes whose file gives none, or a meaningless one (692
of POP909's 905 files declare 1/4 throughout): for each candidate meter (:data:`CANDIDATES`)
and each bar phase on an eighth-note grid it folds an accent signal into one bar and scores
how well the fold matches the meter's pattern of strong and weak positions. The accent of a
position is the notes starting there, each weighted by its length and more for a low note or
a kick drum, plus how much the harmony changes there. :func:`with_meter` applies the policy of
the MIDI reader: a file that declares 1/4 (or any 1/n) throughout gets the inferred meter; one
that declares 4/4 at the start and nothing else (many sequencers' default) only when a meter
of another bar length fits well (:data:`STRONG_FIT`) and better by :data:`STRONG_MARGIN` (a 4/4
file's bar lines are never moved: a pickup cannot be told from a syncopation well enough); any
other declared meter is kept.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np

from musicgen.music.analysis import pitch_profiles
from musicgen.music.piece import END, PITCH, START, TRACK, Piece

STEPS = 4  # accent grid steps per quarter note
PHASE_STEP = 2  # phases tried: every eighth note
KICKS = (35, 36)
SNARES = (38, 40)
BASS_BELOW = 55  # a note below G3 that is the lowest of its onset counts as a bass note
# Metrical weights per sixteenth of a bar (a position's weight: the levels it starts).
CANDIDATES: dict[tuple[int, int], tuple[float, ...]] = {
    (4, 4): (1.0, 0, .1, 0, .4, 0, .1, 0, .6, 0, .1, 0, .4, 0, .1, 0),
    (3, 4): (1.0, 0, .1, 0, .45, 0, .1, 0, .45, 0, .1, 0),
    (2, 4): (1.0, 0, .1, 0, .4, 0, .1, 0),
    (6, 8): (1.0, 0, .25, 0, .25, 0, .6, 0, .25, 0, .25, 0),
}
PRIORS = {(4, 4): 0.04, (3, 4): 0.0, (2, 4): -0.04, (6, 8): 0.0}
STRONG_MARGIN = 0.3  # how much better than the declared 4/4 another meter must fit to replace it
STRONG_FIT = 0.5  # and how well it must fit


class MeterGuess(NamedTuple):
    """An inferred meter: ``numerator/denominator``, the beats before the first full bar
    (a pickup), its fit and the fit of the declared 4/4 at phase 0."""

    numerator: int
    denominator: int
    pickup: float
    fit: float
    common_fit: float

    def signatures(self) -> tuple[tuple[float, int, int], ...]:
        """Time signatures laying these bars out from beat 0 (a pickup bar first)."""
        if self.pickup <= 0:
            return ((0.0, self.numerator, self.denominator),)
        eighths = round(self.pickup * 2)
        pickup = (0.0, eighths // 2, 4) if eighths % 2 == 0 else (0.0, eighths, 8)
        return pickup, (self.pickup, self.numerator, self.denominator)


def bar_length(numerator: int, denominator: int) -> float:
    """A bar's length in quarter notes."""
    return numerator * 4.0 / denominator


def beat_length(numerator: int, denominator: int) -> float:
    """A beat's length in quarter notes: a dotted quarter in compound meters, else a quarter."""
    return 1.5 if denominator == 8 and numerator % 3 == 0 and numerator > 3 else 1.0


def bar_lines(piece: Piece, end: float) -> tuple[np.ndarray, np.ndarray]:
    """The beat each bar starts at and its length in beats, under the piece's time signatures,
    up to the bar that holds beat ``end`` (a bar cut short by the next signature counts)."""
    signatures = list(piece.time_signatures) or [(0.0, 4, 4)]
    starts, lengths = [], []
    for index, (start, numerator, denominator) in enumerate(signatures):
        length = bar_length(numerator, denominator)
        stop = signatures[index + 1][0] if index + 1 < len(signatures) else max(end, start) + length
        here = np.arange(start, stop - 1e-9, length)
        starts.append(here)
        lengths.append(np.minimum(length, stop - here))
    return np.concatenate(starts), np.concatenate(lengths)


def beat_frames(piece: Piece, end: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The piece's beats up to ``end`` (default: its last note) as frame edges (one more than
    the frames) and, per frame, whether a bar starts there."""
    end = piece.end_beat if end is None else end
    starts, lengths = bar_lines(piece, end)
    signatures = list(piece.time_signatures) or [(0.0, 4, 4)]
    at = np.searchsorted([beat for beat, _, _ in signatures], starts + 1e-9, side="right") - 1
    edges, downbeats = [], []
    for start, length, index in zip(starts.tolist(), lengths.tolist(), at.tolist(), strict=True):
        beat = beat_length(*signatures[max(index, 0)][1:])
        here = np.arange(start, start + length - 1e-9, beat)
        edges.append(here)
        downbeats.append(np.arange(len(here)) == 0)
    edges_array = np.append(np.concatenate(edges), starts[-1] + lengths[-1])
    kept = int(np.sum(edges_array[:-1] < max(end, 1e-9)))
    return edges_array[:kept + 1], np.concatenate(downbeats)[:kept]


def accents(piece: Piece) -> np.ndarray:
    """The accent signal on a sixteenth-note grid. At each position: that a pitched note starts
    there, the square root of the longest one starting (capped at a bar), a bass note starting
    (the lowest of its onset, below G3), the strongest drum (a kick most, then a snare), and
    twice the change of harmony at each quarter note (the chroma of the two beats before against
    the two after). Each is a maximum, not a sum, so a chord of many notes is no stronger than one."""
    notes = piece.notes
    steps = int(np.ceil(piece.end_beat * STEPS)) + 1
    signal = np.zeros(max(steps, 1))
    if not len(notes):
        return signal
    drums = np.array([track.is_drum for track in piece.tracks] or [False])[notes[:, TRACK].astype(np.int64)]
    position = np.clip(np.round(notes[:, START] * STEPS).astype(np.int64), 0, len(signal) - 1)
    pitched, hits = ~drums, drums
    onset, longest, bass, drum = (np.zeros(len(signal)) for _ in range(4))
    onset[position[pitched]] = 0.5
    np.maximum.at(longest, position[pitched], np.sqrt(np.clip(notes[pitched, END] - notes[pitched, START], 0, 4.0)))
    lowest = np.full(len(signal), 999.0)
    np.minimum.at(lowest, position[pitched], notes[pitched, PITCH])
    bass[(lowest < BASS_BELOW)] = 1.5
    strength = np.where(np.isin(notes[:, PITCH], KICKS), 1.5, np.where(np.isin(notes[:, PITCH], SNARES), 0.7, 0.2))
    np.maximum.at(drum, position[hits], strength[hits])
    signal = onset + longest + bass + drum
    beats = int(np.ceil(piece.end_beat))
    if beats >= 4:
        profile, _ = pitch_profiles(piece, np.arange(beats + 1, dtype=np.float64))
        before = np.vstack([np.zeros((2, 12)), profile])
        window_before = before[1:-1] + before[:-2]  # beats b-2, b-1
        window_after = np.vstack([profile[1:], np.zeros((1, 12))]) + profile  # beats b, b+1
        norms = np.linalg.norm(window_before, axis=1) * np.linalg.norm(window_after, axis=1)
        change = 1.0 - np.sum(window_before * window_after, axis=1) / np.maximum(norms, 1e-9)
        change[norms <= 0] = 0.0
        signal[np.arange(beats) * STEPS] += 2.0 * change
    return signal


def _beyond_the_beat(values: np.ndarray) -> np.ndarray:
    """``values`` on the sixteenth grid less their mean at each sixteenth of the beat: what is
    left is the accent that comes and goes with the bar, not with every beat."""
    usable = len(values) // STEPS * STEPS
    if not usable:
        return values - values.mean()
    pattern = values[:usable].reshape(-1, STEPS).mean(axis=0)
    return values - np.resize(pattern, len(values))


def meter_fits(signal: np.ndarray) -> dict[tuple[int, int, int], float]:
    """The fit of each candidate meter at each phase (in sixteenths), plus the meter's prior.

    The accent signal less its beat-by-beat pattern is cut into bars; the fit is the mean
    projection of a bar onto the meter's weights (less their own beat pattern, unit length)
    over the root mean energy of a bar: near 1 when every bar has the meter's pattern, near 0
    when the bars' patterns cancel (a wrong bar length)."""
    fits = {}
    residual = _beyond_the_beat(signal)
    for meter, weights in CANDIDATES.items():
        template = _beyond_the_beat(np.asarray(weights, np.float64))
        template /= np.linalg.norm(template)
        size = len(template)
        if len(signal) // size < 2:
            continue
        for phase in range(0, size, PHASE_STEP):
            bars = residual[phase:phase + (len(signal) - phase) // size * size].reshape(-1, size)
            energy = float(np.sqrt((bars ** 2).sum(axis=1).mean()))
            if energy <= 1e-12:
                continue
            fits[(*meter, phase)] = float((bars @ template).mean()) / energy + PRIORS[meter]
    return fits


def infer_meter(piece: Piece) -> MeterGuess | None:
    """The meter that best fits the piece's notes (None when there are too few to tell)."""
    fits = meter_fits(accents(piece))
    if not fits:
        return None
    numerator, denominator, phase = max(fits, key=fits.get)
    return MeterGuess(numerator, denominator, phase / STEPS, fits[(numerator, denominator, phase)],
                      fits.get((4, 4, 0), -1.0))


def declares_no_meter(piece: Piece) -> bool:
    """Whether the piece's time signatures say nothing of its meter: ``1/n`` throughout."""
    return all(numerator == 1 for _, numerator, _ in piece.time_signatures)


def with_meter(piece: Piece) -> Piece:
    """The piece with the inferred meter where its file's is meaningless (1/n throughout), or
    is the 4/4 a sequencer writes by default and another meter fits much better."""
    declared_common = len(piece.time_signatures) == 1 and tuple(piece.time_signatures[0][1:]) == (4, 4)
    if not declares_no_meter(piece) and not declared_common:
        return piece
    guess = infer_meter(piece)
    if guess is None:
        return piece
    if declared_common and ((guess.numerator, guess.denominator) == (4, 4) or guess.fit < STRONG_FIT
                            or guess.fit - guess.common_fit < STRONG_MARGIN):
        return piece  # a 4/4 bar is kept, and so is where the file starts it
    return dataclasses.replace(piece, time_signatures=guess.signatures())
