"""Musical sanity figures: does generated music look like the held-out music?

Likelihood says how well a model predicts; these say whether its samples have the
statistics of real pieces. Everything works on a note array ``(n, 3)`` of
``[start_beat, end_beat, pitch]`` (beats are quarter notes; drums left out), made from
token ids (:func:`notes_from_tokens`) or a ``pretty_midi.PrettyMIDI``
(:func:`notes_from_midi`):

- pitch-class histogram (note counts per pitch class, normalised) and its distance to
  the reference's (total variation and Jensen-Shannon, both in [0, 1]);
- note density: notes per beat over the piece's span;
- polyphony: mean number of notes sounding while at least one sounds;
- repetition rate: the fraction of n-grams of onset events (the set of pitches
  starting together) that repeat an earlier n-gram of the same piece.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from musicgen.music.instruments import DRUM_PROGRAM

if TYPE_CHECKING:
    from musicgen.data.profile import ModelProfile
    from musicgen.tokens import Tokenizer

METRIC_NAMES = ("pitch_class_tv", "pitch_class_js", "note_density", "polyphony", "repetition_rate")


def notes_from_tokens(ids: Any, tokenizer: Tokenizer) -> np.ndarray:
    """Notes ``[start_beat, end_beat, pitch]`` of a token array, drums left out."""
    beats = tokenizer.step_beats(tokenizer.config.default_tempo)
    notes = [(start * beats, end * beats, pitch)
             for start, end, pitch, _, program in tokenizer.decode_notes(ids) if program != DRUM_PROGRAM]
    return np.asarray(notes, np.float64).reshape(-1, 3)


def keeps_to_the_data(rows: Any, tokenizer: Tokenizer, profile: ModelProfile) -> dict[str, float]:
    """How sampled pieces keep to their training data: instruments per piece, instruments the
    data never had, and notes longer than their instrument's longest in the data."""
    allowed_programs = {int(tokenizer.values[token]) for token in profile.allowed_tokens
                        if token < tokenizer.vocab_size and tokenizer.roles.program[token]}
    longest = {int(program): steps for program, steps in profile.max_durations.items()}
    counts, foreign, too_long, notes = [], 0, 0, 0
    for row in rows:
        decoded = tokenizer.decode_notes(row)
        programs = {program for *_, program in decoded}
        counts.append(len(programs))
        foreign += len(programs - allowed_programs) if allowed_programs else 0
        for start, end, *_, program in decoded:
            notes += 1
            too_long += program in longest and end - start > longest[program]
    return {
        "instruments_per_piece": float(np.mean(counts)) if counts else 0.0,
        "most_instruments": int(max(counts, default=0)),
        "data_most_instruments": int(profile.max_tracks),
        "instruments_not_in_data": int(foreign),
        "notes_longer_than_in_data": int(too_long),
        "notes": int(notes),
    }


def notes_from_midi(midi: Any) -> np.ndarray:
    """Notes ``[start_beat, end_beat, pitch]`` of a ``pretty_midi.PrettyMIDI``, drums left out."""
    resolution = float(midi.resolution)
    notes = [
        (midi.time_to_tick(note.start) / resolution, midi.time_to_tick(note.end) / resolution, note.pitch)
        for instrument in midi.instruments if not instrument.is_drum
        for note in instrument.notes
    ]
    return np.asarray(notes, np.float64).reshape(-1, 3)


def pitch_class_histogram(notes: np.ndarray) -> np.ndarray:
    """Share of notes in each of the 12 pitch classes (all zeros for no notes)."""
    counts = np.bincount(np.asarray(notes)[:, 2].astype(np.int64) % 12, minlength=12).astype(np.float64)
    return counts / counts.sum() if counts.sum() else counts


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    """Half the L1 distance of two distributions: 0 (equal) to 1 (disjoint)."""
    return float(0.5 * np.abs(np.asarray(p) - np.asarray(q)).sum())


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence in bits: 0 (equal) to 1 (disjoint)."""
    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    middle = 0.5 * (p + q)

    def kl(a: np.ndarray) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log2(a[mask] / middle[mask])))

    return 0.5 * kl(p) + 0.5 * kl(q)


def note_density(notes: np.ndarray) -> float:
    """Notes per beat between the first onset and the last release (0 without notes)."""
    notes = np.asarray(notes)
    if not len(notes):
        return 0.0
    span = notes[:, 1].max() - notes[:, 0].min()
    return float(len(notes) / span) if span > 0 else 0.0


def polyphony(notes: np.ndarray) -> float:
    """Mean number of sounding notes over the time when at least one sounds."""
    notes = np.asarray(notes)
    if not len(notes):
        return 0.0
    sounding = 0.0
    end = -np.inf
    for start, stop in sorted(zip(notes[:, 0].tolist(), notes[:, 1].tolist(), strict=True)):
        if start >= end:
            sounding += stop - start
            end = stop
        elif stop > end:
            sounding += stop - end
            end = stop
    return float((notes[:, 1] - notes[:, 0]).sum() / sounding) if sounding > 0 else 0.0


def onset_events(notes: np.ndarray) -> list[tuple[int, ...]]:
    """The sorted pitches starting at each onset, in time order."""
    notes = np.asarray(notes)
    events: dict[float, list[int]] = {}
    for start, pitch in zip(notes[:, 0].tolist(), notes[:, 2].tolist(), strict=True):
        events.setdefault(start, []).append(int(pitch))
    return [tuple(sorted(events[start])) for start in sorted(events)]


def repetition_rate(notes: np.ndarray, n: int = 4) -> float:
    """Fraction of the n-grams of onset events that repeat an earlier one (0 without any)."""
    events = onset_events(notes)
    grams = [tuple(events[i:i + n]) for i in range(len(events) - n + 1)]
    return 1.0 - len(set(grams)) / len(grams) if grams else 0.0


def piece_metrics(notes: np.ndarray) -> dict[str, float]:
    """Density, polyphony and repetition rate of one piece."""
    return {"note_density": note_density(notes), "polyphony": polyphony(notes), "repetition_rate": repetition_rate(notes)}


def compare_sets(generated: Sequence[np.ndarray], reference: Sequence[np.ndarray]) -> dict[str, float]:
    """Figures of a set of pieces against a reference set.

    The pitch-class distances compare the histograms of all notes of each set; density,
    polyphony and repetition are means over the generated pieces. Also ``pieces`` and
    ``notes`` (mean notes per piece).
    """
    generated, reference = list(generated), list(reference)
    if not generated:
        return {"pieces": 0}
    histogram = pitch_class_histogram(np.concatenate(generated))
    target = pitch_class_histogram(np.concatenate(reference)) if reference else np.zeros(12)
    per_piece = [piece_metrics(notes) for notes in generated]
    return {
        "pieces": len(generated),
        "notes": float(np.mean([len(notes) for notes in generated])),
        "pitch_class_tv": total_variation(histogram, target),
        "pitch_class_js": jensen_shannon(histogram, target),
        **{name: float(np.mean([row[name] for row in per_piece])) for name in per_piece[0]},
    }


def format_table(rows: dict[str, dict[str, float]]) -> str:
    """A fixed-width text table of :func:`compare_sets` results, one row per label."""
    columns = ("pieces", "notes", *METRIC_NAMES)
    decimals = {"pieces": 0, "notes": 1}
    lines = [f"{'':<10}" + "".join(f"{name:>16}" for name in columns)]
    for label, values in rows.items():
        cells = "".join(f"{values.get(name, float('nan')):>16.{decimals.get(name, 3)}f}" for name in columns)
        lines.append(f"{label:<10}{cells}")
    return "\n".join(lines)
