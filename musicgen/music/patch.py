"""Writing an edited piece into a copy of its source MIDI file, so that all else stays as it was.

Infilling, accompaniment and continuation change some notes of a file a user brought, and
the file is theirs: its tempo map, time and key signatures, track names, programs, channels,
controllers, lyrics and markers must come back as they were. Writing the edited
:class:`~musicgen.music.piece.Piece` afresh would keep only what a piece holds, so
:func:`write_edited` patches the source instead: the notes the edit removed are taken out of
their MIDI track, the notes it added are put into the track and channel their part came from
(:attr:`~musicgen.music.piece.Track.midi_track`, :attr:`~musicgen.music.piece.Track.channel`),
and new parts become new tracks named after their instrument, each on a channel of its own
(drums on channel 10). A MIDI track the edit did not touch is copied byte for byte.

A piece read with a lead-in (:attr:`~musicgen.music.piece.Piece.lead_in`, POP909's beats put on
the grid) is moved back onto the file's own ticks. A source with no ``Chords`` track gets one
holding the edited piece's chords (else the source piece's: its annotations), as markers and
text events, so a DAW and MuseScore show them; a source that has one keeps it as it is. Key
signatures strict readers reject (mode 255) become sequencer-specific events, so the written
file opens everywhere.
"""

from __future__ import annotations

import io
import os
from collections import Counter
from pathlib import Path

import numpy as np

from musicgen.errors import MidiError
from musicgen.music.instruments import program_name
from musicgen.music.piece import PITCH, START, TRACK, Piece, Track
from musicgen.music.smf import CHORD_TRACK, chord_track, repair_key_signatures

DRUM_CHANNEL = 9
MIDI_SUFFIXES = (".mid", ".midi")


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """The IFF chunks of a standard MIDI file: ``(type, body)`` in file order."""
    chunks, position = [], 0
    while position + 8 <= len(data):
        kind, size = data[position:position + 4], int.from_bytes(data[position + 4:position + 8], "big")
        chunks.append((kind, data[position + 8:position + 8 + size]))
        position += 8 + size
    return chunks


def _rows(notes: np.ndarray) -> Counter:
    return Counter(tuple(row) for row in np.asarray(notes, np.float64).tolist())


def _absolute(track: list) -> list[list]:
    """``[tick, order, message]`` of a mido track, ticks from its start."""
    tick, events = 0, []
    for order, message in enumerate(track):
        tick += message.time
        events.append([tick, order, message])
    return events


def _remove_note(events: list[list], tick: int, pitch: int, channel: int) -> None:
    """Take out the note of ``pitch`` on ``channel`` that starts at ``tick``, and its note-off."""
    def is_on(message: object) -> bool:
        return getattr(message, "type", "") == "note_on" and message.velocity > 0

    def is_off(message: object) -> bool:
        kind = getattr(message, "type", "")
        return kind == "note_off" or (kind == "note_on" and message.velocity == 0)

    for index, (at, _, message) in enumerate(events):
        if at == tick and is_on(message) and message.note == pitch and message.channel == channel:
            for later in range(index + 1, len(events)):
                other = events[later][2]
                if is_off(other) and other.note == pitch and other.channel == channel:
                    del events[later]
                    break
            del events[index]
            return


def _note_events(rows: np.ndarray, channel: int, ticks_per_beat: int, lead_in: float = 0.0) -> list[list]:
    """Note-on and note-off events of note rows whose piece has ``lead_in`` beats before the file's start."""
    import mido

    events = []
    for start, end, pitch, velocity, _ in np.asarray(rows).tolist():
        start, end = max(start - lead_in, 0.0), max(end - lead_in, 0.0)
        on, off = round(start * ticks_per_beat), max(round(end * ticks_per_beat), round(start * ticks_per_beat) + 1)
        events.append([on, 1e9, mido.Message("note_on", note=int(pitch), velocity=int(velocity), channel=channel)])
        events.append([off, -1, mido.Message("note_off", note=int(pitch), velocity=0, channel=channel)])
    return events


def _encode(events: list[list]) -> bytes:
    """A track's chunk body from ``[tick, order, message]`` events (end of track last)."""
    import mido
    from mido.midifiles.midifiles import write_track

    ending = [event for event in events if getattr(event[2], "type", "") == "end_of_track"]
    events = sorted((event for event in events if event not in ending), key=lambda event: (event[0], event[1]))
    last = max([event[0] for event in events] + [event[0] for event in ending] + [0])
    track, previous = mido.MidiTrack(), 0
    for tick, _, message in [*events, [last, 0, mido.MetaMessage("end_of_track")]]:
        track.append(message.copy(time=int(tick - previous)))
        previous = tick
    buffer = io.BytesIO()
    write_track(buffer, track)
    return buffer.getvalue()[8:]


def _free_channels(midi: object) -> list[int]:
    used = {message.channel for track in midi.tracks for message in track if hasattr(message, "channel")}
    return [channel for channel in range(16) if channel not in used and channel != DRUM_CHANNEL]


def _new_track(track: Track, rows: np.ndarray, channel: int, ticks_per_beat: int, lead_in: float) -> bytes:
    import mido

    name = track.name or program_name(track.program)
    events = [[0, -3, mido.MetaMessage("track_name", name=name)]]
    if not track.is_drum:
        events.append([0, -2, mido.Message("program_change", program=track.program, channel=channel)])
    return _encode(events + _note_events(rows, channel, ticks_per_beat, lead_in))


def _chord_chunk(midi: object, chords: tuple, lead_in: float, ticks_per_beat: int) -> list[bytes]:
    """A ``Chords`` track (markers and texts) of ``chords`` when the source has none."""
    if not chords or any(track.name == CHORD_TRACK for track in midi.tracks):
        return []
    moved = [(max(beat - lead_in, 0.0), chord) for beat, chord in chords]
    return [chord_track(moved, ticks_per_beat, markers=True)]


def write_edited(source: str | os.PathLike, before: Piece, after: Piece, path: str | os.PathLike) -> None:
    """Write ``after`` (``before``, the piece read from the MIDI file ``source``, edited) to
    ``path`` as a copy of ``source`` with only the edit's notes and tracks changed."""
    import mido

    from musicgen import fileio

    data = repair_key_signatures(Path(source).read_bytes())
    try:
        midi = mido.MidiFile(file=io.BytesIO(data))
    except Exception as error:  # mido raises many types for what the fast reader forgave
        raise MidiError(f"{source}: cannot copy the file's events ({type(error).__name__}: {error})") from error
    chunks, tpq = _chunks(data), midi.ticks_per_beat
    track_chunks = [index for index, (kind, _) in enumerate(chunks) if kind == b"MTrk"]
    removed = _rows(before.notes) - _rows(after.notes)
    added = _rows(after.notes) - _rows(before.notes)
    events = {index: _absolute(track) for index, track in enumerate(midi.tracks)}
    touched: set[int] = set()
    lead_in = before.lead_in
    for row in removed.elements():
        part = before.tracks[int(row[TRACK])]
        _remove_note(events[part.midi_track], round((row[START] - lead_in) * tpq), int(row[PITCH]), part.channel)
        touched.add(part.midi_track)
    new_rows = np.array(list(added.elements()), np.float64).reshape(-1, 5)
    for index, part in enumerate(after.tracks[:len(before.tracks)]):
        rows = new_rows[new_rows[:, TRACK] == index]
        if len(rows):
            events[part.midi_track] += _note_events(rows, part.channel, tpq, lead_in)
            touched.add(part.midi_track)
    for index in touched:
        chunks[track_chunks[index]] = (b"MTrk", _encode(events[index]))
    channels = _free_channels(midi)
    for index, part in enumerate(after.tracks[len(before.tracks):], start=len(before.tracks)):
        if not part.is_drum and not channels:
            raise MidiError(f"{source}: no free MIDI channel left for a new {program_name(part.program)} track")
        channel = DRUM_CHANNEL if part.is_drum else channels.pop(0)
        chunks.append((b"MTrk", _new_track(part, new_rows[new_rows[:, TRACK] == index], channel, tpq, lead_in)))
    chunks += [(b"MTrk", chunk[8:]) for chunk in _chord_chunk(midi, after.chords or before.chords, lead_in, tpq)]
    header = bytearray(chunks[0][1])
    count = sum(kind == b"MTrk" for kind, _ in chunks)
    if count > int.from_bytes(header[2:4], "big"):
        header[0:2] = (1).to_bytes(2, "big")  # a format-0 file with new tracks becomes format 1
        header[2:4] = count.to_bytes(2, "big")
    chunks[0] = (chunks[0][0], bytes(header))
    data = b"".join(kind + len(body).to_bytes(4, "big") + body for kind, body in chunks)
    fileio.atomic_write_bytes(path, within_tick_limit(data))


READABLE_TICKS = 10_000_000  # pretty_midi refuses a file whose last event lies further (it takes it for corrupt)


def within_tick_limit(data: bytes) -> bytes:
    """A standard MIDI file's bytes, at a coarser resolution where its last event lies beyond
    :data:`READABLE_TICKS` (a long score that music21 wrote at 10,080 ticks per quarter): the
    ticks per quarter divided by the smallest whole factor of them that brings it within, every
    event moved to the nearest new tick. Other files come back as they are."""
    import mido

    midi = mido.MidiFile(file=io.BytesIO(data))
    last = max((sum(message.time for message in track) for track in midi.tracks), default=0)
    if last <= READABLE_TICKS:
        return data
    tpq = midi.ticks_per_beat
    factor = next((d for d in range(2, tpq + 1) if tpq % d == 0 and last / d <= READABLE_TICKS), tpq)
    for track in midi.tracks:
        tick = placed = 0
        for message in track:
            tick += message.time
            new = round(tick / factor)
            message.time, placed = new - placed, new
    midi.ticks_per_beat = tpq // factor
    out = io.BytesIO()
    midi.save(file=out)
    return out.getvalue()
