"""A ``PrettyMIDI`` that also writes a piece's chord symbols and markers.

pretty_midi writes no marker events, so :class:`MarkedMIDI` (what
:func:`musicgen.music.midi_io.piece_to_midi` returns) adds them when it writes: each chord
change becomes a marker on the first track, where the MIDI standard puts markers and a DAW
shows them on its timeline, and a text event in a track named ``Chords``
(:data:`musicgen.music.smf.CHORD_TRACK`), which MuseScore 3 shows under the staff (it ignores
markers) and which :mod:`musicgen.music.smf` reads back as the piece's chords. Section names
and other markers become markers on the first track. Everything else is pretty_midi's own file.
"""

from __future__ import annotations

import io
import os
from typing import Any

import mido
import pretty_midi

from musicgen.music.chords import chord_name
from musicgen.music.smf import CHORD_TRACK


class MarkedMIDI(pretty_midi.PrettyMIDI):
    """A ``PrettyMIDI`` at one tempo whose :meth:`write` adds ``chords`` (``(beat, chord
    number)`` changes) and ``markers`` (``(beat, text)``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.chords: list[tuple[float, int]] = []
        self.markers: list[tuple[float, str]] = []

    def write(self, filename: Any) -> None:
        """Write the file as pretty_midi does, with the chords and markers added."""
        buffer = io.BytesIO()
        super().write(buffer)
        data = buffer.getvalue()
        if self.chords or self.markers:
            keys = [(self.time_to_tick(change.time) / self.resolution, int(change.key_number))
                    for change in self.key_signature_changes]
            data = with_markers(data, self.chords, self.markers, keys)
        if isinstance(filename, (str, os.PathLike)):
            with open(filename, "wb") as handle:
                handle.write(data)
        else:
            filename.write(data)


def with_markers(data: bytes, chords: list[tuple[float, int]], markers: list[tuple[float, str]],
                 keys: list[tuple[float, int]] = ()) -> bytes:
    """MIDI file bytes with ``chords`` as markers on the first track and text events in a new
    ``Chords`` track, each spelled in the key sounding there (``keys``: ``(beat, key)`` changes),
    and ``markers`` on the first track (times in beats)."""
    midi = mido.MidiFile(file=io.BytesIO(data))
    tpq = midi.ticks_per_beat

    def tick(beat: float) -> int:
        return max(round(float(beat) * tpq), 0)

    keys = sorted(keys)

    def name(beat: float, chord: int) -> str:
        sounding = [key for start, key in keys if start <= beat + 1e-6]
        return chord_name(chord, sounding[-1] if sounding else None)

    named = [(tick(beat), name(beat, chord)) for beat, chord in chords]
    first = [(tick(beat), mido.MetaMessage("marker", text=_latin1(text))) for beat, text in markers]
    first += [(at, mido.MetaMessage("marker", text=text)) for at, text in named]
    midi.tracks[0] = _merged(midi.tracks[0], first)
    chord_track = mido.MidiTrack([mido.MetaMessage("track_name", name=CHORD_TRACK)])
    if chords:
        texts = [(at, mido.MetaMessage("text", text=text)) for at, text in named]
        midi.tracks.append(_merged(chord_track, texts))
    out = io.BytesIO()
    midi.save(file=out)
    return out.getvalue()


def _latin1(text: str) -> str:
    """``text`` as a MIDI file can hold it (Latin-1; other characters become ``?``)."""
    return str(text).encode("latin-1", "replace").decode("latin-1")


def _merged(track: mido.MidiTrack, added: list[tuple[int, Any]]) -> mido.MidiTrack:
    """``track`` with messages at absolute ticks put in, end of track last."""
    events, now = [], 0
    for order, message in enumerate(track):
        now += message.time
        if message.type != "end_of_track":
            events.append((now, 0, order, message))
    end = max([now] + [at for at, _ in added])
    events += [(at, 1, order, message) for order, (at, message) in enumerate(added)]
    events.sort(key=lambda event: event[:3])
    merged, previous = mido.MidiTrack(), 0
    for at, _, _, message in events:
        merged.append(message.copy(time=at - previous))
        previous = at
    merged.append(mido.MetaMessage("end_of_track", time=end - previous))
    return merged
