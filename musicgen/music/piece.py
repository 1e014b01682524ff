"""A piece of music as the tokenizers see it: tracks, notes, meter, tempo map and pedal.

:class:`Piece` is what reading a file gives (:mod:`musicgen.music.smf`, :mod:`musicgen.music.midi_io`)
and what an encoding turns into tokens. Times are in quarter-note **beats** from the
start (MIDI ticks / ticks per quarter), so a tempo change never bends them;
:meth:`Piece.seconds` converts through the tempo map when an encoding wants absolute
time. Each note names its track; each :class:`Track` has a General MIDI program
(:data:`musicgen.music.instruments.DRUM_PROGRAM` for drums) and the source's track name.

:meth:`Piece.with_sustain` applies the sustain pedal the way note-seq's
``apply_sustain_control_changes`` does: a note released while the pedal is down sounds
until the pedal lifts, or until its pitch is struck again on the same track.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from musicgen.music.instruments import DRUM_PROGRAM

START, END, PITCH, VELOCITY, TRACK = range(5)  # the columns of Piece.notes
DEFAULT_TEMPO = 120.0  # quarter notes per minute, what MIDI assumes without a tempo event


@dataclass(frozen=True)
class Track:
    """One part: its General MIDI program (128 for drums), its name in the source, and where it
    came from in a MIDI file (track and channel, -1 for a part of no MIDI file)."""

    program: int
    name: str = ""
    midi_track: int = field(default=-1, compare=False)
    channel: int = field(default=-1, compare=False)

    @property
    def is_drum(self) -> bool:
        return self.program == DRUM_PROGRAM


def _empty(columns: int) -> np.ndarray:
    return np.zeros((0, columns), np.float64)


@dataclass
class Piece:
    """Notes ``(start, end, pitch, velocity, track)`` in beats, with tracks, meter, tempi and pedal.

    ``time_signatures`` are ``(beat, numerator, denominator)`` and ``tempos`` ``(beat,
    quarter notes per minute)``, each sorted and starting at beat 0. ``pedals`` rows are
    ``(beat, track, down)`` with ``down`` 1 for pedal down and 0 for pedal up.
    ``key_signatures`` are ``(beat, key)`` with ``key = tonic + 12 * minor`` (as MIDI and
    :mod:`musicgen.music.analysis` number keys). ``style`` labels the piece for a model's STYLE control.

    ``chords`` are the chord symbols the source gives (annotations, never guesses: see
    :func:`musicgen.music.harmony.chords_of` for a piece without them), as ``(beat, chord)``
    changes sorted by beat, each chord lasting to the next change; ``chord`` is a number of
    :mod:`musicgen.music.chords`, :data:`~musicgen.music.chords.NO_CHORD` (-1) for none.
    ``markers`` are ``(beat, text)`` timeline markers other than chords (section names).
    ``lead_in`` is how many beats a reader put in front of the file's own start so that the
    bar lines fall on the music's (POP909's beats lie a fraction of a beat off the file's
    grid): the file's beat ``b`` is the piece's beat ``b + lead_in``.
    """

    notes: np.ndarray = field(default_factory=lambda: _empty(5))
    tracks: tuple[Track, ...] = ()
    time_signatures: tuple[tuple[float, int, int], ...] = ((0.0, 4, 4),)
    tempos: tuple[tuple[float, float], ...] = ((0.0, DEFAULT_TEMPO),)
    pedals: np.ndarray = field(default_factory=lambda: _empty(3))
    style: str = ""  # the piece's style label: the top folder it was found in
    key_signatures: tuple[tuple[float, int], ...] = ()
    chords: tuple[tuple[float, int], ...] = ()
    markers: tuple[tuple[float, str], ...] = ()
    lead_in: float = 0.0

    def __post_init__(self) -> None:
        self.notes = np.asarray(self.notes, np.float64).reshape(-1, 5)
        self.chords = changes(self.chords)
        self.markers = tuple(sorted(((float(beat), str(text)) for beat, text in self.markers),
                                    key=lambda marker: marker[0]))
        self.pedals = np.asarray(self.pedals, np.float64).reshape(-1, 3)
        if not self.time_signatures or self.time_signatures[0][0] > 0:
            self.time_signatures = ((0.0, 4, 4), *self.time_signatures)
        if not self.tempos or self.tempos[0][0] > 0:
            first = self.tempos[0][1] if self.tempos else DEFAULT_TEMPO
            self.tempos = ((0.0, first), *self.tempos)

    @property
    def end_beat(self) -> float:
        """Where the last note ends (0 for a piece without notes)."""
        return float(self.notes[:, END].max()) if len(self.notes) else 0.0

    @property
    def tempo(self) -> float:
        """The initial tempo in quarter notes per minute."""
        return float(self.tempos[0][1])

    def programs(self) -> np.ndarray:
        """Each note's program (128 for drums), from its track."""
        codes = np.array([track.program for track in self.tracks] or [0], np.float64)
        return codes[self.notes[:, TRACK].astype(np.int64)] if len(self.notes) else np.zeros(0)

    def note_array(self) -> np.ndarray:
        """Rows ``(start, end, pitch, velocity, program)``: the notes with their track's program."""
        notes = self.notes.copy()
        notes[:, TRACK] = self.programs()
        return notes

    def seconds(self, beats: Any) -> np.ndarray:
        """Times in beats converted to seconds through the tempo map."""
        beats = np.asarray(beats, np.float64)
        change_beats = np.array([beat for beat, _ in self.tempos])
        seconds_per_beat = 60.0 / np.array([tempo for _, tempo in self.tempos])
        change_seconds = np.concatenate([[0.0], np.cumsum(np.diff(change_beats) * seconds_per_beat[:-1])])
        index = np.clip(np.searchsorted(change_beats, beats, side="right") - 1, 0, None)
        return change_seconds[index] + (beats - change_beats[index]) * seconds_per_beat[index]

    def beats(self, seconds: Any) -> np.ndarray:
        """Times in seconds converted to beats through the tempo map (the inverse of :meth:`seconds`)."""
        seconds = np.asarray(seconds, np.float64)
        change_beats = np.array([beat for beat, _ in self.tempos])
        tempi = np.array([tempo for _, tempo in self.tempos])
        change_seconds = self.seconds(change_beats)
        index = np.clip(np.searchsorted(change_seconds, seconds, side="right") - 1, 0, None)
        return change_beats[index] + (seconds - change_seconds[index]) * tempi[index] / 60.0

    def with_lead_in(self, beats: float) -> Piece:
        """The piece with ``beats`` of silence put in front, at its first tempo (``lead_in``
        grows by as much): every note, pedal, chord and marker moves later, and so does each
        change of tempo, meter or key but the first, which still holds from beat 0."""
        if beats <= 0:
            return self

        def later(changes: tuple) -> tuple:
            return tuple((beat + beats if index else 0.0, *rest) if beat <= 0 else (beat + beats, *rest)
                         for index, (beat, *rest) in enumerate(changes))

        notes, pedals = self.notes.copy(), self.pedals.copy()
        notes[:, START:END + 1] += beats
        pedals[:, 0] += beats
        return dataclasses.replace(
            self, notes=notes, pedals=pedals, tempos=later(self.tempos), time_signatures=later(self.time_signatures),
            key_signatures=later(self.key_signatures),
            chords=tuple((beat + beats, chord) for beat, chord in self.chords),
            markers=tuple((beat + beats, text) for beat, text in self.markers), lead_in=self.lead_in + beats)

    def with_sustain(self) -> Piece:
        """The piece with the sustain pedal applied to note lengths, and no pedal events left.

        Drum tracks keep their notes as they are.
        """
        notes = self.notes.copy()
        for track_index, track in enumerate(self.tracks):
            if track.is_drum:
                continue
            events = self.pedals[self.pedals[:, 1] == track_index]
            intervals = pedal_intervals(events[:, 0], events[:, 2], end=max(self.end_beat, 0.0) + 1.0)
            if not len(intervals):
                continue
            rows = np.flatnonzero(notes[:, TRACK] == track_index)
            notes[rows, END] = sustained_ends(notes[rows], intervals)
        return dataclasses.replace(self, notes=notes, pedals=_empty(3))

    def on_one_instrument(self, program: int, name: str = "") -> Piece:
        """The piece with every pitched track merged into one track of ``program`` (the first
        track, named ``name``); drum tracks stay as they are, after it."""
        pitched = [index for index, track in enumerate(self.tracks) if not track.is_drum]
        if not pitched:
            return self
        drums = [index for index, track in enumerate(self.tracks) if track.is_drum]
        new_index = np.zeros(len(self.tracks), np.float64)  # pitched tracks -> 0
        new_index[drums] = np.arange(1, len(drums) + 1)
        notes, pedals = self.notes.copy(), self.pedals.copy()
        notes[:, TRACK] = new_index[notes[:, TRACK].astype(np.int64)]
        pedals[:, 1] = new_index[pedals[:, 1].astype(np.int64)]
        tracks = (Track(program, name), *(self.tracks[index] for index in drums))
        return dataclasses.replace(self, notes=notes, pedals=pedals, tracks=tracks)

    def sounding_beats(self) -> float:
        """The summed length of every note, in beats."""
        return float((self.notes[:, END] - self.notes[:, START]).sum())

    def sounding_seconds(self) -> float:
        """The summed length of every note, in seconds."""
        return float((self.seconds(self.notes[:, END]) - self.seconds(self.notes[:, START])).sum())


def changes(chords: Any) -> tuple[tuple[float, int], ...]:
    """``(beat, chord)`` pairs as a piece keeps them: sorted by beat (the last given at a beat
    wins), a change to the chord already sounding left out."""
    by_beat: dict[float, int] = {}
    for beat, chord in chords:
        by_beat[round(float(beat), 6)] = int(chord)
    kept: list[tuple[float, int]] = []
    for beat in sorted(by_beat):
        if not kept or kept[-1][1] != by_beat[beat]:
            kept.append((beat, by_beat[beat]))
    return tuple(kept)


def pedal_intervals(times: np.ndarray, down: np.ndarray, end: float) -> np.ndarray:
    """``(k, 2)`` intervals ``[down, up)`` during which the pedal is held.

    A pedal still down at the end is released at ``end``; repeated downs or ups collapse.
    """
    intervals, pressed_at = [], None
    order = np.argsort(times, kind="stable")
    for time, is_down in zip(np.asarray(times)[order].tolist(), np.asarray(down)[order].tolist(), strict=True):
        if is_down and pressed_at is None:
            pressed_at = time
        elif not is_down and pressed_at is not None:
            if time > pressed_at:
                intervals.append((pressed_at, time))
            pressed_at = None
    if pressed_at is not None and end > pressed_at:
        intervals.append((pressed_at, end))
    return np.asarray(intervals, np.float64).reshape(-1, 2)


def sustained_ends(notes: np.ndarray, intervals: np.ndarray) -> np.ndarray:
    """New note ends under the pedal ``intervals`` for the notes of one track.

    A note whose release falls while the pedal is down lasts until the pedal lifts, or
    until the next onset of the same pitch if that comes first (and after the release).
    """
    ends = notes[:, END].copy()
    if not len(notes) or not len(intervals):
        return ends
    # The interval holding each release, if any.
    index = np.searchsorted(intervals[:, 0], ends, side="right") - 1
    held = (index >= 0) & (ends < intervals[np.maximum(index, 0), 1])
    lifted = np.where(held, intervals[np.maximum(index, 0), 1], ends)
    # The next onset of the same pitch.
    order = np.lexsort((notes[:, START], notes[:, PITCH]))
    next_start = np.full(len(notes), np.inf)
    same = notes[order[1:], PITCH] == notes[order[:-1], PITCH]
    next_start[order[:-1][same]] = notes[order[1:][same], START]
    limit = np.where(next_start > ends, next_start, np.inf)
    return np.maximum(ends, np.minimum(lifted, limit))


def unoverlapped(notes: np.ndarray) -> np.ndarray:
    """The notes of one track with no two of one pitch sounding at once: a note ends where the
    next of its pitch starts (one of two at the same onset, the longer, is kept). A MIDI file
    cannot hold the overlap: the first note-off of a pitch ends every note of it, so a held note
    would be cut short in a DAW."""
    if not len(notes):
        return notes
    notes = notes[np.lexsort((notes[:, END], notes[:, START], notes[:, PITCH]))].copy()
    same = notes[1:, PITCH] == notes[:-1, PITCH]
    ends = np.where(same, np.minimum(notes[:-1, END], notes[1:, START]), notes[:-1, END])
    notes[:-1, END] = ends
    return notes[notes[:, END] > notes[:, START] + 1e-9]


def piece_from_pretty_midi(pm: Any) -> Piece:
    """A :class:`Piece` from a ``pretty_midi.PrettyMIDI``: one track per instrument."""
    tracks, blocks, pedals = [], [], []
    for index, instrument in enumerate(pm.instruments):
        tracks.append(Track(DRUM_PROGRAM if instrument.is_drum else int(instrument.program), instrument.name or ""))
        if instrument.notes:
            rows = np.array([(n.start, n.end, n.pitch, n.velocity, index) for n in instrument.notes], np.float64)
            blocks.append(rows)
        if not instrument.is_drum:
            pedals.extend((c.time, index, float(c.value >= 64)) for c in instrument.control_changes if c.number == 64)
    notes = np.concatenate(blocks) if blocks else _empty(5)
    notes[:, :2] = seconds_to_beats(pm, notes[:, :2].reshape(-1)).reshape(-1, 2)
    pedal_rows = np.asarray(pedals, np.float64).reshape(-1, 3)
    pedal_rows[:, 0] = seconds_to_beats(pm, pedal_rows[:, 0])
    change_times, tempi = pm.get_tempo_changes()
    tempos = tuple(zip(seconds_to_beats(pm, change_times).tolist(), np.asarray(tempi, float).tolist(), strict=True))
    signatures = tuple(
        (float(seconds_to_beats(pm, np.array([s.time]))[0]), int(s.numerator), int(s.denominator))
        for s in pm.time_signature_changes
    )
    keys = tuple((float(seconds_to_beats(pm, np.array([k.time]))[0]), int(k.key_number))
                 for k in pm.key_signature_changes)
    return Piece(notes, tuple(tracks), signatures or ((0.0, 4, 4),), tempos or ((0.0, DEFAULT_TEMPO),),
                 pedal_rows[np.argsort(pedal_rows[:, 0], kind="stable")], key_signatures=keys)


def seconds_to_beats(pm: Any, times: np.ndarray) -> np.ndarray:
    """Times in seconds converted to quarter-note beats through a ``PrettyMIDI``'s tempo map."""
    change_times, tempi = pm.get_tempo_changes()
    times = np.asarray(times, dtype=np.float64)
    if len(change_times) == 0:
        return times * DEFAULT_TEMPO / 60.0
    change_times = np.asarray(change_times, dtype=np.float64)
    beats_per_second = np.asarray(tempi, dtype=np.float64) / 60.0
    segment_beats = np.diff(change_times) * beats_per_second[:-1]
    change_beats = np.concatenate([[0.0], np.cumsum(segment_beats)])
    index = np.clip(np.searchsorted(change_times, times, side="right") - 1, 0, None)
    return change_beats[index] + (times - change_times[index]) * beats_per_second[index]
