"""Annotation files beside a MIDI file: chords, beats and keys, as POP909 gives them.

A MIDI file ``FOLDER/NAME.mid`` has a sidecar of each kind below when ``FOLDER/NAME.KIND.txt``
exists, or, when it is the only MIDI file in its folder, ``FOLDER/KIND.txt`` (POP909's
``NNN/NNN.mid`` beside ``chord_midi.txt``, ``beat_midi.txt`` and ``key_audio.txt``). Times in the
files are seconds of the MIDI file, turned into beats through its tempo map. The kinds:

* ``chord_midi``: lines ``start end label``, a chord label (Harte, ``Gb:maj``; ``N`` for none).
  They become the piece's ``chords``.
* ``beat_midi``: lines ``time strong downbeat``: a beat, and flags (1/0) for a strong beat and
  for the first beat of a bar. POP909's beats lie a fraction of a beat off the MIDI file's own
  grid, so the piece gets a lead-in (:meth:`~musicgen.music.piece.Piece.with_lead_in`) that puts
  them on whole beats, and time signatures of ``n/4`` from the downbeats (a bar of ``n`` beats;
  a pickup bar before the first downbeat), in place of the file's own (692 of POP909's 905
  files declare 1/4 throughout, most others 2/4, against four beats a bar in its annotations).
* ``key_audio``: lines ``start end key`` (``Gb:maj``, ``C:min``). They become the piece's key
  signatures; the first holds from the start.

A sidecar that cannot be read is a :class:`~musicgen.errors.MidiError` naming it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from musicgen.errors import ConfigError, MidiError
from musicgen.music.chords import chord_quality, chord_root, parse_chord
from musicgen.music.piece import Piece

KINDS = ("chord_midi", "beat_midi", "key_audio")
MIDI_SUFFIXES = (".mid", ".midi", ".smf", ".kar")
ON_GRID = 0.02  # beats: a beat this close to the file's grid needs no lead-in


def sidecar_paths(path: str | Path) -> dict[str, Path]:
    """The sidecars of the MIDI file at ``path``, by kind (see the module docstring)."""
    path = Path(path)
    found = {kind: path.with_name(f"{path.stem}.{kind}.txt") for kind in KINDS}
    found = {kind: sidecar for kind, sidecar in found.items() if sidecar.is_file()}
    shared = {kind: path.with_name(f"{kind}.txt") for kind in KINDS if kind not in found}
    shared = {kind: sidecar for kind, sidecar in shared.items() if sidecar.is_file()}
    if shared and _only_midi_file(path):
        found.update(shared)
    return found


def with_sidecars(piece: Piece, path: str | Path) -> Piece:
    """``piece``, read from the MIDI file at ``path``, with what its sidecars say."""
    paths = sidecar_paths(path)
    if not paths:
        return piece
    file_piece = piece
    try:
        if "key_audio" in paths:
            piece = dataclasses.replace(piece, key_signatures=read_keys(paths["key_audio"], file_piece))
        if "chord_midi" in paths:
            piece = dataclasses.replace(piece, chords=read_chords(paths["chord_midi"], file_piece))
        if "beat_midi" in paths:
            piece = with_beats(piece, read_table(paths["beat_midi"], 3, float), file_piece)
    except (ConfigError, ValueError, IndexError) as error:
        raise MidiError(f"{path}: cannot read its annotations: {error}") from error
    return piece


def read_table(path: Path, columns: int, last: type = str) -> list[tuple]:
    """The rows of a whitespace-separated text file: ``columns - 1`` numbers, then a ``last``."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < columns:
            raise ConfigError(f"{path.name} line {number}: expected {columns} fields, got {len(fields)}")
        rows.append((*(float(field) for field in fields[:columns - 1]), last(fields[columns - 1])))
    return rows


def read_chords(path: Path, piece: Piece) -> tuple[tuple[float, int], ...]:
    """``(beat, chord)`` changes of a ``chord_midi`` file (a gap between labels is no chord)."""
    changes, previous_end = [], None
    for start, end, label in read_table(path, 3):
        if previous_end is not None and start > previous_end + 1e-3:
            changes.append((previous_end, -1))
        changes.append((start, parse_chord(label)))
        previous_end = end
    if previous_end is not None:
        changes.append((previous_end, -1))
    beats = piece.beats([seconds for seconds, _ in changes]) if changes else np.zeros(0)
    return tuple((max(float(beat), 0.0), chord) for beat, (_, chord) in zip(beats, changes, strict=True))


def read_keys(path: Path, piece: Piece) -> tuple[tuple[float, int], ...]:
    """``(beat, key)`` of a ``key_audio`` file; the first key holds from beat 0."""
    keys = []
    for start, _, label in read_table(path, 3):
        chord = parse_chord(label)
        if chord < 0:
            continue
        minor = chord_quality(chord).name == "min"
        keys.append((float(piece.beats(start)) if keys else 0.0, chord_root(chord) + 12 * minor))
    return tuple(keys)


def with_beats(piece: Piece, rows: list[tuple], file_piece: Piece) -> Piece:
    """``piece`` with a lead-in that puts the annotated beats on whole beats and the annotated
    bars as its time signatures."""
    if not rows:
        return piece
    table = np.array(rows, np.float64)
    beats = file_piece.beats(table[:, 0])
    phase = float(np.angle(np.mean(np.exp(2j * np.pi * beats))) / (2 * np.pi)) % 1.0
    lead_in = 0.0 if min(phase, 1.0 - phase) <= ON_GRID else 1.0 - phase
    piece = piece.with_lead_in(lead_in)
    downbeats = np.unique(np.round(beats[table[:, 2] > 0] + lead_in).astype(np.int64))
    signatures = bar_signatures(downbeats)
    return dataclasses.replace(piece, time_signatures=signatures) if signatures else piece


def bar_signatures(downbeats: np.ndarray) -> tuple[tuple[float, int, int], ...]:
    """Time signatures of ``n/4`` bars starting at whole-beat ``downbeats`` (sorted, distinct):
    a pickup bar first when the first downbeat is not at 0, a change wherever a bar's length does."""
    downbeats = downbeats[downbeats >= 0]
    if len(downbeats) < 2:
        return ()
    lengths = np.diff(downbeats)
    bars = [(int(start), int(length)) for start, length in zip(downbeats[:-1], lengths, strict=True)]
    first_start, first_length = bars[0]
    pickup = first_start % first_length
    signatures: list[tuple[float, int, int]] = [(0.0, pickup, 4)] if pickup else []
    for start, length in [(pickup, first_length), *bars[1:]]:
        if not signatures or signatures[-1][1] != length:
            signatures.append((float(start), length, 4))
    return tuple(signatures)


def _only_midi_file(path: Path) -> bool:
    try:
        return not any(other != path and other.suffix.lower() in MIDI_SUFFIXES for other in path.parent.iterdir())
    except OSError:
        return False
