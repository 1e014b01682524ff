"""Reading and writing music files.

:func:`read_pieces` turns any supported file into :class:`musicgen.music.piece.Piece` objects:
a standard MIDI file through the fast reader (:mod:`musicgen.music.smf`); MusicXML (``.xml``,
``.mxl``, ``.musicxml``), ABC (``.abc``) and Humdrum kern (``.krn``) through music21
(:mod:`musicgen.music.scores`), one piece per tune of a collection. Every failure (missing,
empty, truncated, corrupt, not music) is a :class:`musicgen.MidiError` whose message
names the file and the reason. :func:`load_midi` gives a ``pretty_midi.PrettyMIDI`` for
the Python API; :func:`piece_to_midi` writes a piece back as one named track per part,
with its programs, drums on channel 10, tempo, time signatures, sustain pedal, chords and markers.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from musicgen.errors import ConfigError, MidiError
from musicgen.music.instruments import program_name
from musicgen.music.meter import with_meter
from musicgen.music.piece import Piece, piece_from_pretty_midi, unoverlapped
from musicgen.music.scores import SCORE_SUFFIXES, read_score_pieces
from musicgen.music.sidecars import with_sidecars
from musicgen.music.smf import read_smf, repair_key_signatures

MIDI_SUFFIXES = frozenset({".mid", ".midi", ".smf", ".kar"})
MUSIC_SUFFIXES = MIDI_SUFFIXES | SCORE_SUFFIXES  # every file a music folder is scanned for
MAX_FILE_BYTES = 64 << 20
MAX_TEMPO = 10_000.0  # quarter notes per minute; anything faster is a corrupt value


def check_tempo(tempo: float, label: str = "tempo") -> float:
    """``tempo`` as a float, if it is a usable tempo in quarter notes per minute."""
    try:
        value = float(tempo)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{label} must be a number of beats per minute, got {tempo!r}") from error
    if not 0 < value < MAX_TEMPO or not np.isfinite(value):
        raise ConfigError(f"{label} must be in (0, {MAX_TEMPO:g}) beats per minute, got {tempo}")
    return value


class Meter(NamedTuple):
    """A piece's initial tempo (quarter notes per minute) and time signature."""

    tempo: float
    numerator: int
    denominator: int


@dataclass(frozen=True)
class FilePiece:
    """One piece of a file: its key inside the file (``""`` for a one-piece file) and the piece,
    or why it could not be read."""

    key: str
    piece: Piece | None
    error: str | None = None


def read_pieces(path: str | os.PathLike) -> list[FilePiece]:
    """Every piece of a music file, in file order (a collection gives one per tune).

    A file that cannot be read at all raises :class:`MidiError`; a tune of a collection
    that fails comes back with its ``error`` instead.
    """
    path = Path(path)
    if path.suffix.lower() in SCORE_SUFFIXES:
        pieces = []
        for score in read_score_pieces(path):
            if score.midi is None:
                pieces.append(FilePiece(score.key, None, score.error))
            else:
                pieces.append(FilePiece(score.key, read_smf(score.midi, name=f"{path}#{score.key}")))
        return pieces
    return [FilePiece("", read_midi_piece(path))]


def read_midi_piece(path: str | os.PathLike) -> Piece:
    """The piece of a MIDI file with what its annotation files say (:mod:`musicgen.music.sidecars`),
    and its meter inferred where the file's says nothing (:func:`musicgen.music.meter.with_meter`)."""
    piece = read_smf(read_file_bytes(path), name=str(path))
    annotated = with_sidecars(piece, path)
    if annotated.time_signatures != piece.time_signatures:
        return annotated  # the annotations gave the bars
    return with_meter(annotated)


def read_piece(path: str | os.PathLike) -> Piece:
    """The piece in a one-piece music file (the first piece of a collection)."""
    pieces = read_pieces(path)
    for entry in pieces:
        if entry.piece is not None:
            return entry.piece
    reason = pieces[0].error if pieces else "no piece in the file"
    raise MidiError(f"{path}: {reason}")


def load_midi(path: str | os.PathLike) -> Any:
    """Read a MIDI, MusicXML, ABC or kern file as ``pretty_midi.PrettyMIDI`` (a collection: its first piece)."""
    path = Path(path)
    if path.suffix.lower() in SCORE_SUFFIXES:
        for score in read_score_pieces(path):
            if score.midi is not None:
                return midi_from_bytes(score.midi, name=str(path))
        raise MidiError(f"{path}: no piece of it could be read")
    return midi_from_bytes(read_file_bytes(path), name=str(path))


def read_file_bytes(path: str | os.PathLike) -> bytes:
    """The bytes of a music file, with the checks every reader shares (exists, not empty)."""
    path = Path(path)
    if not path.exists():
        raise MidiError(f"{path}: file not found")
    if not path.is_file():
        raise MidiError(f"{path}: not a file")
    try:
        data = path.read_bytes() if path.stat().st_size <= MAX_FILE_BYTES else None
    except OSError as error:
        raise MidiError(f"{path}: cannot read: {error}") from error
    if data is None:
        raise MidiError(f"{path}: larger than {MAX_FILE_BYTES} bytes, too large for a music file")
    if not data:
        raise MidiError(f"{path}: empty file")
    return data


def midi_from_bytes(data: bytes, name: str = "<bytes>") -> Any:
    """Parse standard MIDI file bytes; any failure is a ``MidiError`` naming ``name``."""
    import pretty_midi

    if not data:
        raise MidiError(f"{name}: empty file")
    if data[:4] != b"MThd":
        if data[:4] == b"RIFF":
            raise MidiError(f"{name}: RIFF MIDI files are not supported; convert to a standard MIDI file")
        raise MidiError(f"{name}: not a MIDI file (no 'MThd' header)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pm = pretty_midi.PrettyMIDI(io.BytesIO(repair_key_signatures(data)))
    except EOFError as error:
        raise MidiError(f"{name}: truncated MIDI file ({error or 'unexpected end of data'})") from error
    except Exception as error:  # mido/pretty_midi raise many types on bad data
        reason = str(error) or type(error).__name__
        raise MidiError(f"{name}: corrupt MIDI file: {reason}") from error
    if pm.resolution <= 0:
        raise MidiError(f"{name}: corrupt MIDI file: ticks per beat is {pm.resolution}")
    return pm


def note_array(pm: Any) -> np.ndarray:
    """All notes of a ``PrettyMIDI`` as rows ``(start_beats, end_beats, pitch, velocity, program)``.

    ``program`` is 0..127, or 128 for drums.
    """
    return piece_from_pretty_midi(pm).note_array()


def read_meter(piece: Any) -> Meter:
    """A piece's (or a ``PrettyMIDI``'s) initial tempo and time signature (4/4 if it gives none)."""
    if not isinstance(piece, Piece):
        piece = piece_from_pretty_midi(piece)
    _, numerator, denominator = piece.time_signatures[0]
    return Meter(piece.tempo, int(numerator), int(denominator))


def check_time_signature(time_signature: tuple[int, int]) -> tuple[int, int]:
    """Validate ``(numerator, denominator)``; the denominator must be a power of two."""
    try:
        numerator, denominator = (int(value) for value in time_signature)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"time signature must be (numerator, denominator), got {time_signature!r}") from error
    if not 1 <= numerator <= 255 or denominator < 1 or denominator > 128 or denominator & (denominator - 1):
        raise ConfigError(f"bad time signature {numerator}/{denominator}: denominator must be 1, 2, 4, ... 128")
    return numerator, denominator


def piece_to_midi(piece: Piece, tempo: float | None = None, resolution: int = 480) -> Any:
    """A ``PrettyMIDI`` of ``piece``: one instrument (track) per part, each named after its
    source track or else its General MIDI program, drums on channel 10.

    The file plays at ``tempo`` (default: the piece's first tempo), with the piece's time
    and key signatures, its sustain pedal as controller 64, and its chords and markers, which
    the returned :class:`~musicgen.music.marked.MarkedMIDI` writes as marker and text events.
    """
    import pretty_midi

    from musicgen.music.marked import MarkedMIDI

    tempo = check_tempo(piece.tempo if tempo is None else tempo)
    pm = MarkedMIDI(resolution=resolution, initial_tempo=tempo)
    pm.chords = list(piece.chords)
    pm.markers = list(piece.markers)
    seconds_per_beat = 60.0 / tempo
    for beat, numerator, denominator in piece.time_signatures:
        numerator, denominator = check_time_signature((numerator, denominator))
        pm.time_signature_changes.append(pretty_midi.TimeSignature(numerator, denominator, beat * seconds_per_beat))
    for beat, key in piece.key_signatures:
        pm.key_signature_changes.append(pretty_midi.KeySignature(int(key), beat * seconds_per_beat))
    names = _track_names(piece)
    for index, track in enumerate(piece.tracks):
        instrument = pretty_midi.Instrument(program=0 if track.is_drum else track.program, is_drum=track.is_drum,
                                            name=names[index])
        rows = unoverlapped(piece.notes[piece.notes[:, 4] == index])
        rows = rows[np.lexsort((rows[:, 2], rows[:, 0]))]
        instrument.notes = [
            pretty_midi.Note(int(velocity), int(pitch), start * seconds_per_beat, end * seconds_per_beat)
            for start, end, pitch, velocity, _ in rows.tolist()
        ]
        instrument.control_changes = [
            pretty_midi.ControlChange(64, 127 if down else 0, beat * seconds_per_beat)
            for beat, track_index, down in piece.pedals.tolist() if int(track_index) == index
        ]
        pm.instruments.append(instrument)
    return pm


def _track_names(piece: Piece) -> list[str]:
    """Each track's name: its source name, or its program's, numbered where programs repeat."""
    counts: dict[int, int] = {}
    for track in piece.tracks:
        counts[track.program] = counts.get(track.program, 0) + 1
    seen: dict[int, int] = {}
    names = []
    for track in piece.tracks:
        seen[track.program] = seen.get(track.program, 0) + 1
        name = program_name(track.program)
        if counts[track.program] > 1:
            name = f"{name} {seen[track.program]}"
        names.append(track.name or name)
    return names
