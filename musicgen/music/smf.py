"""A fast reader of standard MIDI files: bytes to a :class:`musicgen.music.piece.Piece`.

Parsing with mido builds a Python object per event and pretty_midi then converts every
tick to seconds; the tokenizers want notes in beats (ticks / ticks per quarter), so this
reader walks the bytes once. Its note semantics copy pretty_midi's exactly (a
velocity-0 NOTE_ON is a note-off; a note-off closes every open note of its channel and
pitch begun at an earlier tick; zero-length and unclosed notes are dropped; the program
is the channel's at the note-off; channel 10 is drums), and so do its tracks: one per
(MIDI track, channel, program) that has notes, in the order their first note ends, named
by the MIDI track's name. It also reads the tempo map, the time signatures and the
sustain pedal (controller 64 on a pitched channel; a pedal on the drum channel is
ignored, as it moves nothing there), key signatures (one whose mode is neither major nor
minor, as two Simutrans files write, is skipped and the file read), markers and chords.

Chords travel in a MIDI track named ``Chords`` (:data:`CHORD_TRACK`): each text or marker
event there is a chord symbol (``Am7``, ``N``), as :func:`musicgen.music.midi_io.piece_to_midi`
and the score reader write them. Marker events elsewhere are the piece's ``markers`` (section
names), less those that repeat a chord of the chord track at its tick (the chords a DAW
shows on its marker lane). :func:`chord_track` makes such a track and :func:`append_tracks`
adds tracks to a file's bytes.
"""

from __future__ import annotations

import numpy as np

from musicgen.errors import ConfigError, MidiError
from musicgen.music.chords import chord_name, parse_chord
from musicgen.music.instruments import DRUM_PROGRAM
from musicgen.music.piece import Piece, Track

_SYSTEM_LENGTH = {0xF1: 1, 0xF2: 2, 0xF3: 1}  # mido rejects the other system messages
MAX_TICK = 1 << 31  # a larger tick is no time at all: a corrupt delta
MAX_HOURS = 3.0  # music longer than this (at its own tempo) is a broken export, not a piece
DRUM_CHANNEL = 9
SUSTAIN_CONTROLLER = 64
CHORD_TRACK = "Chords"  # the name of the MIDI track whose text and marker events are chord symbols
TEXT, MARKER = 0x01, 0x06  # meta event types


class _Corrupt(Exception):
    """Internal: raised by the reader, turned into a MidiError naming the file."""


class _Events:
    """What the tracks of one file hold, gathered while reading."""

    def __init__(self) -> None:
        self.notes: list[tuple] = []  # (instrument order, sequence, start tick, end tick, pitch, velocity)
        self.instruments: dict[tuple[int, int, int], int] = {}  # (program, channel, track) -> order
        self.names: dict[int, str] = {}  # MIDI track -> its name
        self.tempos: list[tuple[int, float]] = []  # (tick, quarter notes per minute)
        self.signatures: list[tuple[int, int, int]] = []  # (tick, numerator, denominator)
        self.keys: list[tuple[int, int]] = []  # (tick, key: tonic + 12 * minor)
        self.pedals: list[tuple[int, int, int, int]] = []  # (tick, channel, track, value)
        self.texts: list[tuple[int, int, int, str]] = []  # (tick, track, meta type, text): texts and markers


def read_smf(data: bytes, name: str = "<bytes>") -> Piece:
    """The :class:`Piece` of standard MIDI file bytes; a damaged file is a ``MidiError``."""
    if data[:4] != b"MThd":
        if data[:4] == b"RIFF":
            raise MidiError(f"{name}: RIFF MIDI files are not supported; convert to a standard MIDI file")
        raise MidiError(f"{name}: not a MIDI file (no 'MThd' header)")
    try:
        events, ticks_per_quarter = _read_file(data)
    except _Corrupt as error:
        raise MidiError(f"{name}: corrupt MIDI file: {error}") from None
    except IndexError:
        raise MidiError(f"{name}: truncated MIDI file (unexpected end of data)") from None
    piece = _piece(events, ticks_per_quarter)
    hours = float(piece.seconds(piece.end_beat)) / 3600
    if hours > MAX_HOURS:
        raise MidiError(f"{name}: {hours:.1f} hours long at its own tempo ({piece.end_beat:,.0f} quarter notes), "
                        f"implausibly long for a piece of music (at most {MAX_HOURS:g} hours)")
    return piece


def _piece(events: _Events, ticks_per_quarter: int) -> Piece:
    keys = sorted(events.instruments, key=events.instruments.get)
    tracks = tuple(
        Track(DRUM_PROGRAM if channel == DRUM_CHANNEL else program, events.names.get(track, ""), track, channel)
        for program, channel, track in keys
    )
    notes = np.zeros((0, 5), np.float64)
    if events.notes:
        table = np.array(events.notes, dtype=np.float64)
        table = table[np.lexsort((table[:, 1], table[:, 0]))]
        notes = np.column_stack([table[:, 2:4] / ticks_per_quarter, table[:, 4:6], table[:, 0]])
    pedals = []
    for tick, channel, midi_track, value in events.pedals:
        for index, (_, key_channel, key_track) in enumerate(keys):
            if key_channel == channel and key_track == midi_track:
                pedals.append((tick / ticks_per_quarter, index, float(value >= 64)))
    pedal_rows = np.asarray(pedals, np.float64).reshape(-1, 3)
    pedal_rows = pedal_rows[np.argsort(pedal_rows[:, 0], kind="stable")]
    tempos = _last_per_tick(events.tempos)
    signatures = _last_per_tick(events.signatures)
    chords, markers = _chords_and_markers(events)
    return Piece(
        notes, tracks,
        tuple((tick / ticks_per_quarter, numerator, denominator) for tick, numerator, denominator in signatures),
        tuple((tick / ticks_per_quarter, tempo) for tick, tempo in tempos) or ((0.0, 120.0),),
        pedal_rows,
        key_signatures=tuple((tick / ticks_per_quarter, key) for tick, key in _last_per_tick(events.keys)),
        chords=tuple((tick / ticks_per_quarter, chord) for tick, chord in chords),
        markers=tuple((tick / ticks_per_quarter, text) for tick, text in markers),
    )


def _chords_and_markers(events: _Events) -> tuple[list[tuple[int, int]], list[tuple[int, str]]]:
    """The chords of the chord track (``(tick, chord)``) and the markers of the other tracks."""
    chord_tracks = {track for track, name in events.names.items() if name.lower() == CHORD_TRACK.lower()}
    chords, shown = [], set()
    for tick, track, _, text in sorted(events.texts, key=lambda event: event[0]):
        if track in chord_tracks:
            try:
                chords.append((tick, parse_chord(text)))
            except ConfigError:
                continue  # a remark in the chord track, not a chord
            shown.add((tick, text))
    markers = [(tick, text) for tick, track, kind, text in events.texts
               if kind == MARKER and track not in chord_tracks and (tick, text) not in shown]
    return chords, sorted(markers, key=lambda marker: marker[0])


def chord_track(chords: tuple[tuple[float, int], ...] | list, ticks_per_quarter: int, markers: bool = False) -> bytes:
    """A MIDI track chunk named :data:`CHORD_TRACK` holding each chord change as a text event
    (which MuseScore shows under the staff), and as a marker too when ``markers`` (which a DAW
    shows on its timeline); chords are ``(beat, chord number)``."""
    body, previous = bytearray(_meta_event(0, 0x03, CHORD_TRACK)), 0
    for beat, chord in sorted(chords, key=lambda change: change[0]):
        tick = max(round(float(beat) * ticks_per_quarter), 0)
        for kind in (TEXT, MARKER) if markers else (TEXT,):
            body += _meta_event(tick - previous, kind, chord_name(int(chord)))
            previous = tick
    body += _meta_event(0, 0x2F, "")
    return b"MTrk" + len(body).to_bytes(4, "big") + bytes(body)


def append_tracks(data: bytes, chunks: list[bytes]) -> bytes:
    """Standard MIDI file bytes with track chunks added at the end (a format-0 file becomes
    format 1); the tracks already there are kept byte for byte."""
    if not chunks:
        return data
    size = int.from_bytes(data[4:8], "big")
    header = bytearray(data[8:8 + size])
    header[0:2] = max(int.from_bytes(header[0:2], "big"), 1).to_bytes(2, "big")
    header[2:4] = (int.from_bytes(header[2:4], "big") + len(chunks)).to_bytes(2, "big")
    return data[:8] + bytes(header) + data[8 + size:] + b"".join(chunks)


def repair_key_signatures(data: bytes) -> bytes:
    """The file with each key signature that is neither major nor minor (mode 255, as two
    Simutrans files write) or beyond 7 sharps or flats turned into a sequencer-specific event
    of the same length, which strict readers (mido, so pretty_midi) skip instead of failing on
    the whole file. Everything else stays byte for byte; a file that cannot be walked is returned as it is."""
    repaired = bytearray(data)
    try:
        for position, kind, body in _meta_events(data):
            if kind == 0x59 and len(body) == 2 and not _valid_key(body):
                repaired[position] = 0x7F
    except (IndexError, _Corrupt):
        return data
    return bytes(repaired)


def _valid_key(body: bytes) -> bool:
    return -7 <= int.from_bytes(body[:1], "big", signed=True) <= 7 and body[1] < 2


def _meta_events(data: bytes) -> list[tuple[int, int, bytes]]:
    """Every meta event of the file: where its type byte is, the type, and its body."""
    found = []
    position = 8 + int.from_bytes(data[4:8], "big")
    while position + 8 <= len(data) and data[position:position + 4] == b"MTrk":
        end = position + 8 + int.from_bytes(data[position + 4:position + 8], "big")
        position, status = position + 8, -1
        while position < end:
            _, position = _variable_length(data, position)
            byte = data[position]
            if byte >= 0x80:
                position += 1
                status = byte if byte < 0xF0 else status
            elif status < 0:
                raise _Corrupt("running status without a previous status byte")
            else:
                byte = status
            if byte == 0xFF:
                kind_at = position
                length, position = _variable_length(data, position + 1)
                found.append((kind_at, data[kind_at], data[position:position + length]))
                position += length
            elif byte in (0xF0, 0xF7):
                length, position = _variable_length(data, position)
                position += length
            elif byte >= 0xF0:
                position += _SYSTEM_LENGTH.get(byte, 0)
            else:
                position += 1 if byte >> 4 in (0xC, 0xD) else 2
        position = end
    return found


def _meta_event(delta: int, kind: int, text: str) -> bytes:
    body = text.encode("latin-1", "replace")
    return _vlq(delta) + bytes([0xFF, kind]) + _vlq(len(body)) + body


def _vlq(value: int) -> bytes:
    """A MIDI variable-length quantity."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def key_of_signature(sharps: int, minor: bool) -> int:
    """The key of a MIDI key signature (``sharps`` -7..7, negative for flats): ``tonic + 12 * minor``."""
    major_tonic = (7 * sharps) % 12
    return (major_tonic + 9) % 12 + 12 if minor else major_tonic


def _last_per_tick(changes: list[tuple]) -> list[tuple]:
    """Changes sorted by tick, keeping the last one given at each tick (as a sequencer plays them)."""
    by_tick: dict[int, tuple] = {}
    for change in sorted(changes, key=lambda change: change[0]):
        by_tick[change[0]] = change
    return [by_tick[tick] for tick in sorted(by_tick)]


def _read_file(data: bytes) -> tuple[_Events, int]:
    size = int.from_bytes(data[4:8], "big")
    if len(data) < 8 + 6 or size < 6:
        raise IndexError
    ticks_per_quarter = int.from_bytes(data[12:14], "big", signed=True)
    track_count = int.from_bytes(data[10:12], "big")
    if ticks_per_quarter <= 0:
        raise _Corrupt(f"ticks per quarter note is {ticks_per_quarter} (SMPTE timing is not supported)")
    position = 8 + size
    events = _Events()
    for track in range(track_count):
        if data[position : position + 4] != b"MTrk":
            if position + 4 > len(data):
                raise IndexError
            raise _Corrupt(f"no 'MTrk' header at the start of track {track + 1}")
        length = int.from_bytes(data[position + 4 : position + 8], "big")
        position += 8
        position = _read_track(data, position, position + length, track, events)
    return events, ticks_per_quarter


def _variable_length(data: bytes, position: int) -> tuple[int, int]:
    value = 0
    for _ in range(4):
        byte = data[position]
        position += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, position
    raise _Corrupt("variable-length quantity longer than 4 bytes")


def _meta(events: _Events, kind: int, body: bytes, tick: int, track: int) -> None:
    if kind == 0x03:  # track name
        events.names[track] = body.decode("latin-1").strip()
    elif kind == TEXT or kind == MARKER:
        events.texts.append((tick, track, kind, body.decode("latin-1").strip()))
    elif kind == 0x51 and len(body) == 3:  # tempo, microseconds per quarter note
        microseconds = int.from_bytes(body, "big")
        if microseconds > 0:
            events.tempos.append((tick, 60_000_000 / microseconds))
    elif kind == 0x58 and len(body) >= 2 and body[0] > 0:  # time signature
        events.signatures.append((tick, int(body[0]), 2 ** min(int(body[1]), 7)))
    elif kind == 0x59 and len(body) == 2 and _valid_key(body):
        events.keys.append((tick, key_of_signature(int.from_bytes(body[:1], "big", signed=True), body[1] == 1)))


def _read_track(data: bytes, position: int, end: int, track: int, events: _Events) -> int:
    tick = 0
    status = -1
    programs = [0] * 16
    open_notes: dict[int, list[tuple[int, int]]] = {}  # channel * 128 + pitch -> [(tick, velocity)]
    rows, instrument_order = events.notes, events.instruments
    while position != end:
        if position > end:
            raise _Corrupt(f"a message overruns the end of track {track + 1}")
        delta, position = _variable_length(data, position)
        tick += delta
        if tick >= MAX_TICK:
            raise _Corrupt(f"a message at tick {tick:,} is beyond any plausible length")
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
            kind = -1
            if byte == 0xFF:
                kind = data[position]
                position += 1
            length, position = _variable_length(data, position)
            if position + length > len(data):
                raise IndexError
            if kind >= 0:
                _meta(events, kind, data[position : position + length], tick, track)
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
        channel = byte & 0x0F
        if kind == 0xB:
            if first == SUSTAIN_CONTROLLER and channel != DRUM_CHANNEL:
                events.pedals.append((tick, channel, track, second))
        elif kind == 0x9 and second > 0:
            open_notes.setdefault(channel * 128 + first, []).append((tick, second))
        elif kind == 0x8 or kind == 0x9:
            notes = open_notes.get(channel * 128 + first)
            if notes is None:
                continue
            closing = [note for note in notes if note[0] != tick]
            staying = [note for note in notes if note[0] == tick]
            if closing:
                key = (programs[channel], channel, track)
                order = instrument_order.setdefault(key, len(instrument_order))
                for start, velocity in closing:
                    rows.append((order, len(rows), start, tick, first, velocity))
            if closing and staying:
                open_notes[channel * 128 + first] = staying
            else:
                del open_notes[channel * 128 + first]
    return position
