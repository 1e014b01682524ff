"""The chords of a piece: its own chord symbols, else those recognised from its notes.

:func:`chords_of` is what a tokenizer or a user asks for: the piece's annotations
(:attr:`~musicgen.music.piece.Piece.chords`: POP909's ``chord_midi.txt``, lead-sheet and ABC
chord symbols, the chord track of a file musicgen wrote) when it has them, else
:func:`recognise_chords`. :func:`chords_at` reads the chord sounding at given beats.

The recogniser works beat by beat (:func:`musicgen.music.meter.beat_frames`: quarter notes,
dotted quarters in compound meters) over every pitched part. Each beat's profile is how long
each pitch class sounds in it (:func:`musicgen.music.analysis.pitch_profiles`), as a share of
all that sounds. A chord's fit to a beat is the share of the profile on its pitch classes, plus
:attr:`Settings.bass_root` when the beat's bass (its lowest held note) is the root, plus
:attr:`Settings.bass_tone` when the bass is another chord tone, plus the prior of its quality
(:attr:`Settings.priors`: a four-note chord explains more notes by chance, so it must fit better).
Viterbi then chooses one chord per beat, where a change costs :attr:`Settings.change` (less at a
bar line, :attr:`Settings.change_at_bar`), so passing notes do not make it flicker. A silent beat
fits every chord alike and "no chord" a little better, so silence longer than a few beats
becomes ``N``. A five-minute song takes a few milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from musicgen.music.analysis import pitch_profiles
from musicgen.music.chords import CHORD_COUNT, NO_CHORD, QUALITIES, chord_root, chord_tones
from musicgen.music.meter import beat_frames
from musicgen.music.piece import Piece, changes


@dataclass(frozen=True)
class Settings:
    """The recogniser's weights (tuned on POP909 songs 001-100: see ``docs/datasets.md``)."""

    bass_root: float = 0.15
    bass_tone: float = 0.05
    change: float = 0.25
    change_at_bar: float = 0.12
    silence: float = 0.05  # how much better "no chord" fits a silent beat
    priors: dict[str, float] = field(default_factory=lambda: {
        "maj": 0.0, "min": 0.0, "7": -0.12, "maj7": -0.14, "min7": -0.14, "6": -0.2, "dim": -0.1,
        "aug": -0.2, "sus2": -0.12, "sus4": -0.1, "m7b5": -0.2, "dim7": -0.2})


DEFAULT = Settings()
_TEMPLATES = chord_tones().astype(np.float64)
_ROOTS = np.array([chord_root(chord) for chord in range(CHORD_COUNT)])


def chords_of(piece: Piece, settings: Settings = DEFAULT) -> tuple[tuple[float, int], ...]:
    """The piece's chord changes ``(beat, chord)``: its own when it has any, else recognised."""
    return piece.chords if piece.chords else recognise_chords(piece, settings)


def chords_at(chords: tuple[tuple[float, int], ...], beats: Any) -> np.ndarray:
    """The chord sounding at each of ``beats`` under ``(beat, chord)`` changes (a change at a
    beat counts from it on; :data:`NO_CHORD` before the first): e.g. each bar's first chord."""
    beats = np.asarray(beats, np.float64)
    if not chords:
        return np.full(beats.shape, NO_CHORD, np.int64)
    starts = np.array([beat for beat, _ in chords])
    values = np.array([chord for _, chord in chords], np.int64)
    index = np.searchsorted(starts, beats + 1e-6, side="right") - 1
    return np.where(index >= 0, values[np.maximum(index, 0)], NO_CHORD)


def chord_fits(piece: Piece, edges: np.ndarray, settings: Settings = DEFAULT) -> np.ndarray:
    """How well each chord fits each frame: ``(frames, CHORD_COUNT + 1)``, "no chord" last."""
    weights, bass = pitch_profiles(piece, edges)
    total = weights.sum(axis=1, keepdims=True)
    profile = weights / np.maximum(total, 1e-9)
    fits = profile @ _TEMPLATES.T
    fits += np.array([settings.priors[QUALITIES[chord % len(QUALITIES)].name] for chord in range(CHORD_COUNT)])
    has_bass = bass >= 0
    root_is_bass = has_bass[:, None] & (_ROOTS[None, :] == bass[:, None])
    tone_is_bass = has_bass[:, None] & (_TEMPLATES.T[np.maximum(bass, 0)] > 0)
    fits += settings.bass_root * root_is_bass + settings.bass_tone * (tone_is_bass & ~root_is_bass)
    silent = total[:, 0] <= 0
    fits[silent] = 0.0
    none = np.where(silent, settings.silence, -np.inf)
    return np.column_stack([fits, none])


def recognise_chords(piece: Piece, settings: Settings = DEFAULT) -> tuple[tuple[float, int], ...]:
    """Chord changes ``(beat, chord)`` recognised from the piece's pitched notes, at most one
    a beat; ``()`` for a piece without pitched notes."""
    edges, downbeats = beat_frames(piece)
    if len(edges) < 2:
        return ()
    fits = chord_fits(piece, edges, settings)
    if not np.isfinite(fits[:, :-1]).any() or fits[:, -1].max() == settings.silence and fits[:, :-1].max() == 0:
        return ()
    path = _viterbi(fits, np.where(downbeats, settings.change_at_bar, settings.change))
    chords = np.where(path == CHORD_COUNT, NO_CHORD, path)
    starts = np.flatnonzero(np.r_[True, chords[1:] != chords[:-1]])
    return changes((float(edges[index]), int(chords[index])) for index in starts)


def _viterbi(fits: np.ndarray, penalty: np.ndarray) -> np.ndarray:
    """The state per frame that maximises the summed fit less ``penalty[t]`` per change into frame t."""
    frames, states = fits.shape
    score = fits[0].copy()
    back = np.zeros((frames, states), np.int32)
    for frame in range(1, frames):
        best = int(np.argmax(score))
        switch = score[best] - penalty[frame]
        stay = score >= switch
        back[frame] = np.where(stay, np.arange(states), best)
        score = np.where(stay, score, switch) + fits[frame]
    path = np.empty(frames, np.int64)
    path[-1] = int(np.argmax(score))
    for frame in range(frames - 1, 0, -1):
        path[frame - 1] = back[frame, path[frame]]
    return path
