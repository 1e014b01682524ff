"""Reading and writing music files for the tokenizer.

``load_midi`` turns any supported file into a ``pretty_midi.PrettyMIDI``: standard MIDI
files directly, MusicXML (``.xml``, ``.mxl``, ``.musicxml``), ABC (``.abc``) and Humdrum
kern (``.krn``) through music21. Every failure (missing, empty, truncated, corrupt, not
music) is a :class:`musicgen.MidiError` whose message names the file and the reason.

``note_array`` reads notes with their times in beats (quarter notes from the start), which
is what the tokenizer quantises; ``notes_to_midi`` writes decoded notes back with a tempo
and time signature; ``read_meter`` gives a source's initial tempo and time signature so a
continuation of a primer plays at the primer's speed.
"""

from __future__ import annotations

import io
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from musicgen.errors import ConfigError, MidiError
from musicgen.instruments import DRUM_PROGRAM

MUSIC21_SUFFIXES = frozenset({".xml", ".mxl", ".musicxml", ".abc", ".krn"})
MIDI_SUFFIXES = frozenset({".mid", ".midi", ".smf", ".kar"})
MUSIC_SUFFIXES = MIDI_SUFFIXES | MUSIC21_SUFFIXES  # every file a music folder is scanned for
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


def load_midi(path: str | os.PathLike) -> Any:
    """Read a MIDI, MusicXML, ABC or kern file as ``pretty_midi.PrettyMIDI``."""
    path = Path(path)
    data = read_file_bytes(path)
    if path.suffix.lower() in MUSIC21_SUFFIXES:
        return _load_with_music21(path)
    return midi_from_bytes(data, name=str(path))


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


def file_note_array(path: str | os.PathLike) -> np.ndarray:
    """Notes of any supported file, as :func:`note_array` rows, by the fastest route.

    Standard MIDI files are parsed straight from their bytes (:func:`smf_note_array`,
    several times faster than ``pretty_midi`` and exact in ticks); scores go through
    :func:`load_midi`.
    """
    path = Path(path)
    if path.suffix.lower() in MUSIC21_SUFFIXES:
        return note_array(load_midi(path))
    return smf_note_array(read_file_bytes(path), name=str(path))


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
            pm = pretty_midi.PrettyMIDI(io.BytesIO(data))
    except EOFError as error:
        raise MidiError(f"{name}: truncated MIDI file ({error or 'unexpected end of data'})") from error
    except Exception as error:  # mido/pretty_midi raise many types on bad data
        reason = str(error) or type(error).__name__
        raise MidiError(f"{name}: corrupt MIDI file: {reason}") from error
    if pm.resolution <= 0:
        raise MidiError(f"{name}: corrupt MIDI file: ticks per beat is {pm.resolution}")
    return pm


def _load_with_music21(path: Path) -> Any:
    """Parse a score with music21, write it as MIDI to a temp file and read that back."""
    try:
        from music21 import converter

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            score = converter.parse(str(path))
            with tempfile.TemporaryDirectory(prefix="musicgen-") as folder:
                midi_path = Path(folder) / "score.mid"
                score.write("midi", fp=str(midi_path))
                data = midi_path.read_bytes()
    except Exception as error:  # music21 raises many types on bad input
        reason = str(error) or type(error).__name__
        raise MidiError(f"{path}: cannot read as {path.suffix.lstrip('.')} score: {reason}") from error
    return midi_from_bytes(data, name=str(path))


def seconds_to_beats(pm: Any, times: np.ndarray) -> np.ndarray:
    """Convert times in seconds to quarter-note beats through the piece's tempo map."""
    change_times, tempi = pm.get_tempo_changes()
    times = np.asarray(times, dtype=np.float64)
    if len(change_times) == 0:
        return times * 2.0  # pretty_midi's default 120 qpm
    change_times = np.asarray(change_times, dtype=np.float64)
    beats_per_second = np.asarray(tempi, dtype=np.float64) / 60.0
    segment_beats = np.diff(change_times) * beats_per_second[:-1]
    change_beats = np.concatenate([[0.0], np.cumsum(segment_beats)])
    index = np.clip(np.searchsorted(change_times, times, side="right") - 1, 0, None)
    return change_beats[index] + (times - change_times[index]) * beats_per_second[index]


def note_array(pm: Any) -> np.ndarray:
    """All notes as float64 rows ``(start_beats, end_beats, pitch, velocity, instrument)``.

    ``instrument`` is the program 0..127, or 128 for drums.
    """
    blocks = []
    for instrument in pm.instruments:
        if not instrument.notes:
            continue
        rows = np.array(
            [(note.start, note.end, note.pitch, note.velocity) for note in instrument.notes],
            dtype=np.float64,
        )
        code = DRUM_PROGRAM if instrument.is_drum else int(instrument.program)
        blocks.append(np.column_stack([rows, np.full(len(rows), code, np.float64)]))
    if not blocks:
        return np.zeros((0, 5), dtype=np.float64)
    notes = np.concatenate(blocks)
    beats = seconds_to_beats(pm, notes[:, :2].reshape(-1)).reshape(-1, 2)
    notes[:, :2] = beats
    return notes


def read_meter(pm: Any, default_tempo: float = 120.0) -> Meter:
    """The initial tempo and time signature of a piece (4/4 and ``default_tempo`` if absent)."""
    change_times, tempi = pm.get_tempo_changes()
    tempo = float(tempi[0]) if len(tempi) else float(default_tempo)
    numerator, denominator = 4, 4
    for signature in pm.time_signature_changes:
        if signature.time <= 1e-9:
            numerator, denominator = int(signature.numerator), int(signature.denominator)
    return Meter(tempo, numerator, denominator)


def check_time_signature(time_signature: tuple[int, int]) -> tuple[int, int]:
    """Validate ``(numerator, denominator)``; the denominator must be a power of two."""
    try:
        numerator, denominator = (int(value) for value in time_signature)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"time signature must be (numerator, denominator), got {time_signature!r}") from error
    if not 1 <= numerator <= 255 or denominator < 1 or denominator > 128 or denominator & (denominator - 1):
        raise ConfigError(f"bad time signature {numerator}/{denominator}: denominator must be 1, 2, 4, ... 128")
    return numerator, denominator


def notes_to_midi(
    notes: list[tuple[int, int, int, int, int]],
    steps_per_quarter: int,
    tempo: float,
    time_signature: tuple[int, int] | None = None,
) -> Any:
    """Build a ``PrettyMIDI`` from ``(start_step, end_step, pitch, velocity, instrument)`` notes.

    The resolution is a multiple of ``steps_per_quarter`` so every step is a whole tick,
    and the file carries ``tempo`` and ``time_signature`` at time 0.
    """
    import pretty_midi

    tempo = check_tempo(tempo)
    numerator, denominator = check_time_signature(time_signature or (4, 4))
    resolution = steps_per_quarter * max(1, round(480 / steps_per_quarter))
    pm = pretty_midi.PrettyMIDI(resolution=resolution, initial_tempo=tempo)
    pm.time_signature_changes.append(pretty_midi.TimeSignature(numerator, denominator, 0.0))
    seconds_per_step = 60.0 / (tempo * steps_per_quarter)
    instruments: dict[int, Any] = {}
    for start, end, pitch, velocity, code in sorted(notes, key=lambda note: (note[4], note[0], note[2])):
        if code not in instruments:
            is_drum = code == DRUM_PROGRAM
            instruments[code] = pretty_midi.Instrument(
                program=0 if is_drum else int(code), is_drum=is_drum
            )
        instruments[code].notes.append(
            pretty_midi.Note(int(velocity), int(pitch), start * seconds_per_step, end * seconds_per_step)
        )
    pm.instruments = [instruments[code] for code in sorted(instruments)]
    return pm


# ------------------------------------------------------------------ fast SMF reader
# Parsing with mido builds a Python object per event and pretty_midi then converts every
# tick to seconds; the tokenizer only needs notes in beats (ticks / ticks per quarter), so
# this reader walks the bytes once. Its note semantics copy pretty_midi's exactly (a
# velocity-0 NOTE_ON is a note-off; a note-off closes every open note of its channel and
# pitch begun at an earlier tick; zero-length and unclosed notes are dropped; the program
# is the channel's at the note-off; channel 10 is drums), so both routes give the same ids.
_DATA_LENGTH = {0x8: 2, 0x9: 2, 0xA: 2, 0xB: 2, 0xC: 1, 0xD: 1, 0xE: 2}
_SYSTEM_LENGTH = {0xF1: 1, 0xF2: 2, 0xF3: 1}  # mido rejects the other system messages
MAX_TICK = 10_000_000  # as pretty_midi: a larger tick means a corrupt file


class _Corrupt(Exception):
    """Internal: raised by the reader, turned into a MidiError naming the file."""


def smf_note_array(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Notes of standard MIDI file bytes as :func:`note_array` rows (times in beats)."""
    if data[:4] != b"MThd":
        if data[:4] == b"RIFF":
            raise MidiError(f"{name}: RIFF MIDI files are not supported; convert to a standard MIDI file")
        raise MidiError(f"{name}: not a MIDI file (no 'MThd' header)")
    try:
        rows, ticks_per_quarter = _read_smf(data)
    except _Corrupt as error:
        raise MidiError(f"{name}: corrupt MIDI file: {error}") from None
    except IndexError:
        raise MidiError(f"{name}: truncated MIDI file (unexpected end of data)") from None
    if not rows:
        return np.zeros((0, 5), dtype=np.float64)
    # rows: (instrument order, sequence, start tick, end tick, pitch, velocity, code)
    table = np.array(rows, dtype=np.float64)
    table = table[np.lexsort((table[:, 1], table[:, 0]))]
    notes = table[:, 2:]
    notes[:, :2] /= ticks_per_quarter
    return notes


def _read_smf(data: bytes) -> tuple[list[tuple], int]:
    size = int.from_bytes(data[4:8], "big")
    if len(data) < 8 + 6 or size < 6:
        raise IndexError
    ticks_per_quarter = int.from_bytes(data[12:14], "big", signed=True)
    track_count = int.from_bytes(data[10:12], "big")
    if ticks_per_quarter <= 0:
        raise _Corrupt(f"ticks per quarter note is {ticks_per_quarter} (SMPTE timing is not supported)")
    position = 8 + size
    rows: list[tuple] = []
    instrument_order: dict[tuple[int, int, int], int] = {}
    for track in range(track_count):
        if data[position : position + 4] != b"MTrk":
            if position + 4 > len(data):
                raise IndexError
            raise _Corrupt(f"no 'MTrk' header at the start of track {track + 1}")
        length = int.from_bytes(data[position + 4 : position + 8], "big")
        position += 8
        position = _read_track(data, position, position + length, track, rows, instrument_order)
    return rows, ticks_per_quarter


def _read_track(
    data: bytes, position: int, end: int, track: int, rows: list, instrument_order: dict
) -> int:
    tick = 0
    status = -1
    programs = [0] * 16
    open_notes: dict[int, list[tuple[int, int]]] = {}  # channel * 128 + pitch -> [(tick, velocity)]
    while position != end:
        if position > end:
            raise _Corrupt(f"a message overruns the end of track {track + 1}")
        delta = 0
        for _ in range(4):
            byte = data[position]
            position += 1
            delta = (delta << 7) | (byte & 0x7F)
            if byte < 0x80:
                break
        else:
            raise _Corrupt("variable-length quantity longer than 4 bytes")
        tick += delta
        if tick >= MAX_TICK:
            raise _Corrupt(f"largest tick is over {MAX_TICK}, implausibly long")
        byte = data[position]
        if byte >= 0x80:
            position += 1
            if byte != 0xFF:
                status = byte
        elif status < 0:
            raise _Corrupt("running status without a previous status byte")
        else:
            byte = status
            if byte == 0xF0 or byte == 0xF7:
                position += 1  # as mido: the data byte is consumed, then a sysex is read
        if byte == 0xFF or byte == 0xF0 or byte == 0xF7:
            if byte == 0xFF:
                position += 1  # meta type
            length = 0
            for _ in range(4):
                value = data[position]
                position += 1
                length = (length << 7) | (value & 0x7F)
                if value < 0x80:
                    break
            else:
                raise _Corrupt("variable-length quantity longer than 4 bytes")
            if position + length > len(data):
                raise IndexError
            position += length
            continue
        kind = byte >> 4
        if kind == 0xF:
            if byte not in _SYSTEM_LENGTH:
                raise _Corrupt(f"status byte 0x{byte:02x} is not allowed in a MIDI file")
            size = _SYSTEM_LENGTH[byte]
            if any(value > 127 for value in data[position : position + size]):
                raise _Corrupt("data byte out of range 0..127")
            position += size
            continue
        first = data[position]
        if kind == 0xC or kind == 0xD:
            position += 1
            if first > 127:
                raise _Corrupt("data byte out of range 0..127")
            if kind == 0xC:
                programs[byte & 0x0F] = first
            continue
        second = data[position + 1]
        position += 2
        if first > 127 or second > 127:
            raise _Corrupt("data byte out of range 0..127")
        if kind == 0x9 and second > 0:
            open_notes.setdefault((byte & 0x0F) * 128 + first, []).append((tick, second))
        elif kind == 0x8 or kind == 0x9:
            channel = byte & 0x0F
            notes = open_notes.get(channel * 128 + first)
            if notes is None:
                continue
            closing = [note for note in notes if note[0] != tick]
            staying = [note for note in notes if note[0] == tick]
            if closing:
                program = programs[channel]
                key = (program, channel, track)
                order = instrument_order.setdefault(key, len(instrument_order))
                code = DRUM_PROGRAM if channel == 9 else program
                for start, velocity in closing:
                    rows.append((order, len(rows), start, tick, first, velocity, code))
            if closing and staying:
                open_notes[channel * 128 + first] = staying
            else:
                del open_notes[channel * 128 + first]
    return position
