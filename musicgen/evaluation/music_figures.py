"""Figures of a piece as a musician reads it: by bar, by track, by voice.

:mod:`musicgen.evaluation.metrics` compares note statistics of sample sets; these read one
:class:`~musicgen.music.piece.Piece` with its meter, its tracks and its drums:

- :func:`bar_numbers`: the bar of each note's onset, under the piece's time signatures;
- :func:`plays_throughout`: whether a track plays at least once in every two bars (what
  ``evaluate --controls`` counts as an instrument that is there);
- :func:`notes_per_bar`, :func:`pitch_class_entropy` (bits, pitched notes) and
  :func:`drum_consistency` (how alike consecutive bars' drum onsets are on a sixteenth-note
  grid: 1 repeats the pattern exactly; "groove consistency" in MusPy's terms);
- :func:`parallel_motion`: consecutive fifths and octaves between every two voices (tracks), the
  voice-leading fault that chorale writing avoids.

>>> import numpy as np
>>> from musicgen.music.piece import Piece, Track
>>> notes = np.array([[0, 1, 60, 80, 0], [0, 1, 53, 80, 1], [1, 2, 62, 80, 0], [1, 2, 55, 80, 1]], float)
>>> parallel_motion(Piece(notes=notes, tracks=(Track(0), Track(0))))
{'fifths': 1, 'octaves': 0}
"""

from __future__ import annotations

from typing import Any

import numpy as np

from musicgen.evaluation.metrics import polyphony
from musicgen.music.piece import END, PITCH, START, TRACK, Piece

STEPS_PER_BEAT = 4  # the drum grid: sixteenth notes
FIGURES = ("notes_per_bar", "polyphony", "pitch_class_entropy", "drum_consistency", "parallels_per_bar")
PERFECT = {7: "fifths", 0: "octaves"}  # perfect intervals (modulo the octave) that may not move in parallel


def bar_lines(piece: Piece, end: float) -> tuple[np.ndarray, np.ndarray]:
    """The beat each bar starts at and its length in beats, under the piece's time signatures,
    up to the bar that holds beat ``end`` (a bar cut short by the next signature counts)."""
    signatures = list(piece.time_signatures) or [(0.0, 4, 4)]
    starts, lengths = [], []
    for index, (start, numerator, denominator) in enumerate(signatures):
        length = numerator * 4.0 / denominator
        stop = signatures[index + 1][0] if index + 1 < len(signatures) else max(end, start) + length
        here = np.arange(start, stop - 1e-9, length)
        starts.append(here)
        lengths.append(np.full(len(here), length))
    return np.concatenate(starts), np.concatenate(lengths)


def bar_numbers(piece: Piece, beats: Any) -> np.ndarray:
    """The bar (0 first) that each time in ``beats`` falls in, under the piece's time signatures."""
    beats = np.asarray(beats, np.float64)
    starts, _ = bar_lines(piece, float(beats.max()) if len(beats) else 0.0)
    return np.maximum(np.searchsorted(starts, beats + 1e-9, side="right") - 1, 0).astype(np.int64)


def bar_count(piece: Piece) -> int:
    """Bars from the first to the last that holds a sounding note (0 for silence)."""
    if not len(piece.notes):
        return 0
    last = float(piece.notes[:, END].max()) - 1e-6
    return int(bar_numbers(piece, [last])[0]) + 1


def plays_throughout(piece: Piece, track: int, bars: int | None = None) -> bool:
    """Whether ``track`` plays at least one note in every two consecutive bars of the piece's
    first ``bars`` (default: all)."""
    bars = bar_count(piece) if bars is None else bars
    onsets = piece.notes[piece.notes[:, TRACK] == track, START]
    played = np.zeros(max(bars, 1), bool)
    numbers = bar_numbers(piece, onsets)
    played[numbers[numbers < len(played)]] = True
    if bars <= 1:
        return bool(played[0])
    return bool(np.all(played[:-1] | played[1:]))


def _pitched(piece: Piece) -> np.ndarray:
    drums = np.array([track.is_drum for track in piece.tracks] or [False])
    return piece.notes[~drums[piece.notes[:, TRACK].astype(np.int64)]] if len(piece.notes) else piece.notes


def notes_per_bar(piece: Piece) -> float:
    """Notes (drums included) per bar over the bars the piece spans."""
    return len(piece.notes) / bar_count(piece) if len(piece.notes) else 0.0


def pitch_class_entropy(piece: Piece) -> float:
    """Entropy in bits of the pitched notes' pitch classes: 0 (one pitch class) to log2(12)."""
    pitched = _pitched(piece)
    if not len(pitched):
        return float("nan")
    counts = np.bincount(pitched[:, PITCH].astype(np.int64) % 12, minlength=12).astype(np.float64)
    shares = counts[counts > 0] / counts.sum()
    return float(-(shares * np.log2(shares)).sum())


def drum_consistency(piece: Piece) -> float:
    """1 minus the mean share of sixteenth-note grid slots whose drum onset differs between each
    bar and the next (NaN without two bars of drums)."""
    drums = [index for index, track in enumerate(piece.tracks) if track.is_drum]
    onsets = piece.notes[np.isin(piece.notes[:, TRACK], drums), START]
    if not len(onsets):
        return float("nan")
    bars = bar_numbers(piece, onsets)
    starts, lengths = bar_lines(piece, float(onsets.max()))
    starts, lengths = starts[: int(bars.max()) + 1], lengths[: int(bars.max()) + 1]
    slots = int(round(lengths.max() * STEPS_PER_BEAT))
    grid = np.zeros((len(starts), slots), bool)
    slot = np.clip(np.round((onsets - starts[bars]) * STEPS_PER_BEAT).astype(np.int64), 0, slots - 1)
    grid[bars, slot] = True
    if len(grid) < 2:
        return float("nan")
    return float(1.0 - np.mean(grid[1:] != grid[:-1]))


def voice_lines(piece: Piece, track: int) -> list[tuple[float, int]]:
    """One track as a line of ``(onset, pitch)``: its highest note at each onset (the top of its stack)."""
    notes = piece.notes[piece.notes[:, TRACK] == track]
    line: dict[float, int] = {}
    for start, pitch in zip(notes[:, START].tolist(), notes[:, PITCH].tolist(), strict=True):
        line[start] = max(line.get(start, 0), int(pitch))
    return sorted(line.items())


def parallel_motion(piece: Piece) -> dict[str, int]:
    """Consecutive perfect fifths and octaves (unisons included) between every two pitched tracks.

    At each onset of either voice both voices' sounding pitches are read; where both voices
    move, in the same direction, from one perfect interval to the same one, that is one
    parallel. Drums and tracks that stack notes are read by their top note.
    """
    tracks = [index for index, track in enumerate(piece.tracks) if not track.is_drum]
    lines = {track: voice_lines(piece, track) for track in tracks}
    counts = {"fifths": 0, "octaves": 0}
    for a_index, first in enumerate(tracks):
        for second in tracks[a_index + 1:]:
            times = sorted({time for time, _ in lines[first]} | {time for time, _ in lines[second]})
            upper, lower = (_sounding(piece, track, times) for track in (first, second))
            for now in range(1, len(times)):
                before = (upper[now - 1], lower[now - 1])
                after = (upper[now], lower[now])
                if min(*before, *after) < 0 or before[0] == after[0] or before[1] == after[1]:
                    continue  # a voice rests or holds its note: no parallel motion
                if np.sign(after[0] - before[0]) != np.sign(after[1] - before[1]):
                    continue
                interval = (before[0] - before[1]) % 12
                if interval == (after[0] - after[1]) % 12 and interval in PERFECT:
                    counts[PERFECT[interval]] += 1
    return counts


def _sounding(piece: Piece, track: int, times: list[float]) -> list[int]:
    """The track's highest pitch sounding at each time (-1: none)."""
    notes = piece.notes[piece.notes[:, TRACK] == track]
    pitches = []
    for time in times:
        sounding = notes[(notes[:, START] <= time + 1e-9) & (notes[:, END] > time + 1e-9), PITCH]
        pitches.append(int(sounding.max()) if len(sounding) else -1)
    return pitches


def piece_figures(piece: Piece) -> dict[str, float]:
    """Every figure of one piece: notes per bar, pitch-class entropy, polyphony (of the pitched
    notes, :func:`musicgen.evaluation.metrics.polyphony`), drum consistency, and the parallels per bar."""
    bars = max(bar_count(piece), 1)
    parallels = parallel_motion(piece)
    pitched = _pitched(piece)
    return {"notes_per_bar": notes_per_bar(piece), "pitch_class_entropy": pitch_class_entropy(piece),
            "polyphony": polyphony(pitched[:, [START, END, PITCH]]) if len(pitched) else 0.0,
            "drum_consistency": drum_consistency(piece), "bars": float(bars),
            "parallels_per_bar": (parallels["fifths"] + parallels["octaves"]) / bars}


def mean_figures(pieces: list[Piece]) -> dict[str, float]:
    """The mean of each of :data:`FIGURES` over the pieces that have it (NaN figures, such as
    drum consistency without drums, are left out; NaN when no piece has it)."""
    rows = [piece_figures(piece) for piece in pieces]
    return {name: float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
            for name in FIGURES for values in [np.array([row[name] for row in rows], np.float64)]}


def chord_hits(piece: Piece, progression: list[tuple[int, float | None]]) -> tuple[int, int]:
    """``(hits, planned)``: of the chords a ``--chords`` progression planned over ``piece`` (one a bar
    where no length was given, the progression repeated to the piece's end), how many the piece's
    notes alone sound (:func:`~musicgen.music.harmony.recognise_chords`) where each one starts."""
    from musicgen.music.harmony import chords_at, recognise_chords

    _, numerator, denominator = piece.time_signatures[0]
    bar, beat, starts, asked = numerator * 4 / denominator, 0.0, [], []
    end = piece.end_beat - 1e-6
    while beat < end:
        for chord, beats in progression:
            if beat >= end:
                break
            starts.append(beat + 1e-6)
            asked.append(chord)
            beat += bar if beats is None else beats
    heard = chords_at(recognise_chords(piece), starts)
    return int(np.sum(heard == np.asarray(asked, np.int64))), len(asked)
