"""Musical attributes of a piece: its key, note density, tempo and on-grid share.

These describe a piece for people (``musicgen prepare``'s profile of a folder) and for the
model (the controls a piece is trained with, and what ``musicgen evaluate --controls``
checks in a sample). Drums are left out of every pitch figure.

Key: the Krumhansl-Schmuckler estimate, the major or minor key whose Krumhansl-Kessler
profile correlates best with the piece's pitch-class durations (as music21's
``KrumhanslSchmuckler`` analysis does).
"""

from __future__ import annotations

import numpy as np

from musicgen.errors import ConfigError
from musicgen.music.piece import END, PITCH, START, TRACK, Piece

PITCH_CLASSES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_ALIASES = {"Db": 1, "D#": 3, "Gb": 6, "G#": 8, "A#": 10, "Cb": 11, "B#": 0, "E#": 5, "Fb": 4}
MODES = ("major", "minor")
# Krumhansl and Kessler (1982): probe-tone ratings of the twelve pitch classes above the tonic.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
KEY_COUNT = 24  # key k: tonic k % 12, mode k // 12 (0 major, 1 minor)
GRID_STEPS_PER_QUARTER = 12  # "on the grid": within a small tolerance of a 1/12-beat step
GRID_TOLERANCE = 0.0025  # beats: a tick or two of a quantised file; a performed onset falls this close by chance 6% of the time


def key_name(key: int) -> str:
    """``0`` -> ``"C major"``, ``21`` -> ``"A minor"``."""
    return f"{PITCH_CLASSES[key % 12]} {MODES[key // 12]}"


def parse_key(text: str) -> int:
    """A key index from a name such as ``"D minor"``, ``"F# major"``, ``"bb minor"`` or ``"Am"``."""
    words = text.strip().replace("-", " ").split()
    if len(words) == 1 and len(words[0]) > 1 and words[0][-1] in "mM" and words[0][:-1]:
        words = [words[0][:-1], "minor" if words[0][-1] == "m" else "major"]
    if len(words) == 1:
        words.append("major")
    if len(words) == 2:
        tonic = words[0][:1].upper() + words[0][1:].lower() if len(words[0]) > 1 else words[0].upper()
        mode = words[1].lower()
        index = PITCH_CLASSES.index(tonic) if tonic in PITCH_CLASSES else _ALIASES.get(tonic)
        if index is not None and mode in MODES:
            return index + 12 * MODES.index(mode)
    raise ConfigError(
        f"cannot read the key {text!r}: write a tonic and a mode, e.g. 'D minor', 'F# major', 'Bb major'"
    )


def pitch_class_weights(piece: Piece) -> np.ndarray:
    """The summed duration (beats) of each pitch class over the pitched tracks."""
    notes = _pitched(piece)
    weights = np.zeros(12)
    np.add.at(weights, notes[:, PITCH].astype(np.int64) % 12, np.maximum(notes[:, END] - notes[:, START], 0.0))
    return weights


def estimate_key(weights: np.ndarray) -> int | None:
    """The best-correlating key of pitch-class weights, or None when there is nothing to weigh."""
    weights = np.asarray(weights, np.float64)
    if weights.sum() <= 0 or np.allclose(weights, weights.mean()):
        return None
    scores = []
    for profile in (MAJOR_PROFILE, MINOR_PROFILE):
        for tonic in range(12):
            scores.append(np.corrcoef(weights, np.roll(profile, tonic))[0, 1])
    return int(np.argmax(scores))


def piece_key(piece: Piece) -> int | None:
    """The piece's key by :func:`estimate_key` (None for a piece of drums or silence)."""
    return estimate_key(pitch_class_weights(piece))


def bar_beats(piece: Piece) -> float:
    """The length of a bar of the piece's first time signature, in beats."""
    _, numerator, denominator = piece.time_signatures[0]
    return numerator * 4.0 / denominator


def note_density(piece: Piece) -> float:
    """Notes per bar over the piece's length (drums included: they make a piece busy too)."""
    length = piece.end_beat - (float(piece.notes[:, START].min()) if len(piece.notes) else 0.0)
    return float(len(piece.notes) / max(length / bar_beats(piece), 1.0))


def on_grid_share(piece: Piece) -> float:
    """The share of onsets within a small tolerance of a 1/12-beat grid (1 for quantised MIDI)."""
    if not len(piece.notes):
        return 1.0
    scaled = piece.notes[:, START] * GRID_STEPS_PER_QUARTER
    off = np.abs(scaled - np.round(scaled)) / GRID_STEPS_PER_QUARTER
    return float(np.mean(off <= GRID_TOLERANCE))


def grid_error_ms(piece: Piece, steps_per_quarter: int) -> np.ndarray:
    """How far a beat grid of ``steps_per_quarter`` moves each onset, in milliseconds through the
    piece's tempo map: what a notes-encoding tokenizer on that grid loses of a performance's timing.

    >>> from musicgen.music.piece import Track
    >>> played = Piece(notes=np.array([[0.52, 1.0, 60, 80, 0]]), tracks=(Track(0),))  # at 120 BPM
    >>> [round(float(error), 1) for error in (*grid_error_ms(played, 12), *grid_error_ms(played, 48))]
    [10.0, 0.4]
    """
    onsets = piece.notes[:, START]
    on_grid = np.floor(onsets * steps_per_quarter + 0.5) / steps_per_quarter
    return np.abs(piece.seconds(on_grid) - piece.seconds(onsets)) * 1000.0


def _pitched(piece: Piece) -> np.ndarray:
    if not piece.tracks:
        return piece.notes
    drums = np.array([track.is_drum for track in piece.tracks])
    return piece.notes[~drums[piece.notes[:, TRACK].astype(np.int64)]]


def pitch_profiles(piece: Piece, edges: np.ndarray, bass_share: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """How long each pitch class sounds in each frame ``[edges[i], edges[i + 1])``, as a share
    of the frame (``(frames, 12)``), and each frame's bass: the pitch class of the lowest note
    sounding for at least ``bass_share`` of it, else of the lowest note at all (-1 in silence).

    Pitched tracks only. One pass over the notes, split where they cross frame edges.
    """
    edges = np.asarray(edges, np.float64)
    frames = len(edges) - 1
    weights, bass = np.zeros((max(frames, 0), 12)), np.full(max(frames, 0), -1, np.int64)
    notes = _pitched(piece)
    notes = notes[(notes[:, END] > notes[:, START]) & (notes[:, END] > edges[0]) & (notes[:, START] < edges[-1])]
    if frames <= 0 or not len(notes):
        return weights, bass
    first = np.clip(np.searchsorted(edges, notes[:, START], side="right") - 1, 0, frames - 1)
    last = np.clip(np.searchsorted(edges, notes[:, END], side="left") - 1, first, frames - 1)
    counts = last - first + 1
    rows = np.repeat(np.arange(len(notes)), counts)
    frame = first[rows] + np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
    overlap = (np.minimum(notes[rows, END], edges[frame + 1]) - np.maximum(notes[rows, START], edges[frame]))
    share = np.maximum(overlap, 0.0) / (edges[frame + 1] - edges[frame])
    pitch = notes[rows, PITCH].astype(np.int64)
    np.add.at(weights, (frame, pitch % 12), share)
    lowest = np.full(frames, 999, np.int64)
    np.minimum.at(lowest, frame, pitch)
    held = np.full(frames, 999, np.int64)
    np.minimum.at(held, frame[share >= bass_share], pitch[share >= bass_share])
    lowest = np.where(held < 999, held, lowest)
    bass = np.where(lowest < 999, lowest % 12, -1)
    return weights, bass
