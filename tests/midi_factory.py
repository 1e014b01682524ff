"""Synthetic MIDI for tests: PrettyMIDI objects and raw files written with mido.

Notes are given in beats so tests can state expected token streams exactly::

    pm = make_pretty_midi([Track(program=0, notes=[(60, 0.0, 1.0, 80)])])
    path = write_mido_file(tmp_path / "x.mid", [...], ticks_per_beat=96, midi_type=1)
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import mido
import pretty_midi


@dataclasses.dataclass
class Track:
    """One instrument: notes are ``(pitch, start_beat, end_beat, velocity)``; ``pedals`` are
    sustain-pedal controller values ``(beat, value)``."""

    notes: list[tuple[int, float, float, int]]
    program: int = 0
    is_drum: bool = False
    name: str = ""
    pedals: list[tuple[float, int]] = dataclasses.field(default_factory=list)


def make_pretty_midi(
    tracks: list[Track], tempo: float = 120.0, time_signature: tuple[int, int] | None = (4, 4)
) -> pretty_midi.PrettyMIDI:
    """A PrettyMIDI at a constant ``tempo`` with the given tracks (times in beats)."""
    pm = pretty_midi.PrettyMIDI(resolution=480, initial_tempo=tempo)
    if time_signature:
        pm.time_signature_changes.append(pretty_midi.TimeSignature(*time_signature, 0.0))
    seconds_per_beat = 60.0 / tempo
    for track in tracks:
        instrument = pretty_midi.Instrument(program=track.program, is_drum=track.is_drum, name=track.name)
        for pitch, start, end, velocity in track.notes:
            instrument.notes.append(
                pretty_midi.Note(velocity, pitch, start * seconds_per_beat, end * seconds_per_beat)
            )
        instrument.control_changes = [
            pretty_midi.ControlChange(64, value, beat * seconds_per_beat) for beat, value in track.pedals
        ]
        pm.instruments.append(instrument)
    return pm


def scale_notes(
    length_beats: int = 16, pitches: tuple[int, ...] = (60, 62, 64, 65, 67), velocity: int = 80
) -> list[tuple[int, float, float, int]]:
    """A simple melody of eighth notes cycling through ``pitches``."""
    return [
        (pitches[index % len(pitches)], index * 0.5, index * 0.5 + 0.5, velocity)
        for index in range(length_beats * 2)
    ]


def write_mido_file(
    path: str | Path,
    tracks: list[Track],
    ticks_per_beat: int = 480,
    midi_type: int = 1,
    tempo_changes: list[tuple[float, float]] | None = None,
    time_signatures: list[tuple[float, int, int]] | None = None,
) -> Path:
    """Write a standard MIDI file with mido.

    ``tempo_changes`` are ``(beat, qpm)``, ``time_signatures`` ``(beat, numerator,
    denominator)``. Type 1 puts the meta events on a conductor track and each instrument
    on its own track (channel 9 for drums); type 0 merges everything into one track.
    """
    tempo_changes = tempo_changes or [(0.0, 120.0)]
    time_signatures = time_signatures or [(0.0, 4, 4)]

    def tick(beat: float) -> int:
        return int(round(beat * ticks_per_beat))

    meta = [(tick(beat), 0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(qpm))) for beat, qpm in tempo_changes]
    meta += [
        (tick(beat), 0, mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator))
        for beat, numerator, denominator in time_signatures
    ]
    track_events = []
    melodic_channels = [channel for channel in range(16) if channel != 9]
    for index, track in enumerate(tracks):
        channel = 9 if track.is_drum else melodic_channels[index % len(melodic_channels)]
        events = [(0, 1, mido.Message("program_change", program=track.program, channel=channel))]
        if track.name:
            events.append((0, 0, mido.MetaMessage("track_name", name=track.name)))
        for beat, value in track.pedals:
            events.append((tick(beat), 1, mido.Message("control_change", control=64, value=value, channel=channel)))
        for pitch, start, end, velocity in track.notes:
            events.append((tick(end), 0, mido.Message("note_off", note=pitch, velocity=0, channel=channel)))
            events.append((tick(start), 2, mido.Message("note_on", note=pitch, velocity=velocity, channel=channel)))
        track_events.append(events)

    midi = mido.MidiFile(type=midi_type, ticks_per_beat=ticks_per_beat)
    if midi_type == 0:
        merged = meta + [event for events in track_events for event in events]
        midi.tracks.append(_to_track(merged))
    else:
        midi.tracks.append(_to_track(meta))
        for events in track_events:
            midi.tracks.append(_to_track(events))
    path = Path(path)
    midi.save(str(path))
    return path


def _to_track(events: list[tuple[int, int, mido.Message]]) -> mido.MidiTrack:
    """Absolute-tick events (tick, priority, message) -> a delta-time track."""
    track = mido.MidiTrack()
    now = 0
    for absolute, _, message in sorted(events, key=lambda event: (event[0], event[1])):
        track.append(message.copy(time=absolute - now))
        now = absolute
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def write_scale_pieces(folder: Path, count: int = 8, notes: int = 90) -> Path:
    """``count`` small MIDI files of rising scales (easy to learn) in ``folder``, for training tests."""
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        music = pretty_midi.PrettyMIDI()
        piano = pretty_midi.Instrument(program=0)
        for step in range(notes):
            pitch = 60 + (0, 2, 4, 5, 7, 9, 11, 12)[(step + index) % 8]
            piano.notes.append(pretty_midi.Note(80, pitch, step * 0.25, step * 0.25 + 0.25))
        music.instruments.append(piano)
        music.write(str(folder / f"piece_{index}.mid"))
    return folder
