"""The ``notes`` encoding: every note one group of tokens, with its track and its duration.

In the spirit of REMI and MIDI-GPT's bar-track layout (Fradet et al., ISMIR 2023, compare
duration tokens with note-offs): a note cannot hang, since its length is part of it, bars
are tokens, so a number of bars is exact, and the tracks stay tracks.

A piece is::

    BOS  [STYLE(s)] [KEY(k)] [DENSITY(d)] [TEMPO(t)]  the controls, each when configured
         PROGRAM(p_0) ... PROGRAM(p_n-1)            and the tracks: track i plays program p_i
    BAR  [TIME_SIGNATURE(s)]                         a bar (its meter, at the first bar and on a change)
      TRACK(i)  POSITION(q)  [PEDAL_OFF] [PEDAL_ON]  PITCH(p) VELOCITY(v) DURATION(d)  PITCH ...
                POSITION(q') ...
      TRACK(j)  ...                                  the next track with something in this bar (j > i)
    BAR ...
    EOS

* Time: a *step* is ``1 / steps_per_quarter`` of a beat (``timing="beats"``) or
  ``1 / steps_per_second`` of a second (``timing="seconds"``). In beats timing the bars
  follow the piece's time signatures (a signature outside :func:`time_signatures` counts as
  4/4, which keeps every onset exact but moves barlines); in seconds timing a bar is
  ``bar_seconds`` long and there are no TIME_SIGNATURE tokens. POSITION(q) is the onset's
  step within its bar.
* Controls (for steering, see ``musicgen generate --key``): STYLE(s) names the piece's top
  folder among ``styles``; KEY(k), ``k = tonic + 12 * minor``, is its Krumhansl-Schmuckler
  key (``keys``); DENSITY(d) its bin of notes per bar between ``density_edges``; TEMPO(t)
  its initial tempo's bin between ``tempo_edges`` (each a :mod:`musicgen.tokens.controls`
  plugin, written as a CONTROL token). Training drops each at random, so any of them may be
  left out when sampling.
* FILL, FILL_START and FILL_END write infilling examples (fill-in-the-middle): a piece with
  ``TRACK(i) FILL`` where a track's part of a bar is missing, then FILL_START and the
  missing bars (only their filled tracks), then FILL_END. Encoding a piece never writes them.
* Ids, in this order: PAD, BOS, EOS, BAR, the controls (STYLE, KEY, DENSITY, TEMPO, then any
  other control of :mod:`musicgen.tokens.controls` the config names), FILL, FILL_START,
  FILL_END, TIME_SIGNATURE (one per entry of
  :func:`time_signatures`; beats timing only), TRACK(0..max_tracks-1), POSITION(0..longest
  bar - 1), PROGRAM (0..127 when ``use_programs``, else 0; 128 for drums when
  ``use_drums``), PITCH(min_pitch..max_pitch), VELOCITY(0..velocity_bins-1),
  DURATION(d) for each length of :func:`duration_steps` (every step up to a 4/4 bar or a
  second, then 16 lengths an octave, up to 4 bars or 16 seconds), and PEDAL_OFF, PEDAL_ON
  with ``pedal="events"``.
* Tracks: one per source track, in the order (program, source order), so two voices on
  one program stay two tracks. At most ``max_tracks``: beyond them the tracks with fewest
  notes join a kept track of their program, or are dropped. Empty tracks are dropped.
* Notes: onsets rounded to the nearest step; a duration becomes the nearest length of the
  table (at least one step, at most the longest). With ``velocity_bins=1`` (a folder whose
  notes all have one velocity, as scores do) the VELOCITY token is left out. Where notes of one track and pitch
  overlap, the earlier one ends where the next begins; notes of one track and pitch
  starting together become one (the longest).
* Order inside a bar: tracks ascending; inside a track, positions ascending; at one
  position, the pedal (up, then down) and then the notes by ascending pitch. TRACK and
  POSITION always open a bar's track and the first note of a position, so every bar reads
  on its own. The bars run until the last note has ended, so a piece's length survives.
* Pedal: ``"extend"`` lengthens the notes it holds before encoding, ``"events"`` writes its
  changes as PEDAL_OFF/PEDAL_ON at their position, ``"ignore"`` drops it. Drums never
  carry a pedal.

Decoding is total: tokens out of place are skipped, a note needs PITCH and DURATION (a
missing VELOCITY means the middle bin), a TRACK beyond the header plays the piano, and
notes are cut at the end of the last bar, so no note outlasts its piece.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from musicgen.music.chords import CHORD_COUNT, QUALITIES, chord_name
from musicgen.music.instruments import DEFAULT_PROGRAM, DRUM_PROGRAM
from musicgen.music.piece import Piece, Track
from musicgen.tokens.bars import BarLayout, BarSequences
from musicgen.tokens.base import ProgramStats, Tokenizer
from musicgen.tokens.config import Kind
from musicgen.tokens.grammar import Constraints, Grammar
from musicgen.tokens.notes_grammar import NoteRules
from musicgen.tokens.notes_meter import (
    BARS_OF_LONGEST_NOTE,
    LONGEST_BAR_QUARTERS,
    SECONDS_OF_LONGEST_NOTE,
    duration_steps,
    fit_meters,
    time_signatures,
)
from musicgen.tokens.notes_parts import (
    HARMONY,
    chord_plan,
    expand,
    fold,
    harmony_events,
    harmony_tokens,
    has_repeats,
    pedal_events,
    program_stats,
)

REPEATS = (1, 2, 4, 8)  # the bar distances a REPEAT token may look back, where a folder's profile chooses them


class NoteTokenizer(BarSequences, Tokenizer, encoding="notes"):
    """Notes as (track, position, pitch, velocity, duration) groups in bars (see the module docstring)."""

    takes_controls = True
    editable = True

    def sections(self) -> list[tuple[Kind, Any]]:
        c = self.config
        beats = c.timing == "beats"
        self.meters = time_signatures(c.steps_per_quarter) if beats else ()
        self.bar_lengths = np.array([n * 4 * c.steps_per_quarter // d for n, d in self.meters], np.int64)
        self.fixed_bar = 0 if beats else round(c.bar_seconds * c.steps_per_second)
        longest_bar = LONGEST_BAR_QUARTERS * c.steps_per_quarter if beats else self.fixed_bar
        resolution = 4 * c.steps_per_quarter if beats else c.steps_per_second
        longest = BARS_OF_LONGEST_NOTE * resolution if beats else SECONDS_OF_LONGEST_NOTE * resolution
        self.durations = np.array(duration_steps(resolution, longest), np.int64)
        programs = list(range(128)) if c.use_programs else [DEFAULT_PROGRAM]
        if c.use_drums:
            programs.append(DRUM_PROGRAM)
        pedal = [0] if c.pedal == "events" else []
        return [
            (Kind.PAD, [0]), (Kind.BOS, [0]), (Kind.EOS, [0]), (Kind.BAR, [0]),
            *self.control_sections(),
            (Kind.FILL, [0]), (Kind.FILL_START, [0]), (Kind.FILL_END, [0]),
            (Kind.TIME_SIGNATURE, np.arange(len(self.meters))),
            (Kind.TRACK, np.arange(c.max_tracks)),
            (Kind.POSITION, np.arange(longest_bar)),
            (Kind.PROGRAM, programs),
            (Kind.PITCH, np.arange(c.min_pitch, c.max_pitch + 1)),
            (Kind.VELOCITY, np.arange(c.velocity_bins)),
            (Kind.DURATION, self.durations),
            (Kind.PEDAL_OFF, pedal), (Kind.PEDAL_ON, pedal),
            (Kind.CHORD, np.arange(-1, CHORD_COUNT) if c.chords else []),
            (Kind.REPEAT, list(c.repeats)),
        ]

    def _setup(self, config: Any) -> None:
        super()._setup(config)
        self.default_meter = self.meters.index((4, 4)) if (4, 4) in self.meters else -1
        self._duration_offset = self.offset(Kind.DURATION)
        self._layout = BarLayout(self)

    @classmethod
    def choices(cls, folder: Any, performed: bool) -> list[tuple[str, Any, str]]:
        """The header controls' choices, the bars' chords and the repeated parts."""
        return [*super().choices(folder, performed),
                ("chords", True, "each bar opens with its chords: the pieces' own chord symbols, else recognised"),
                ("repeats", REPEATS, "REPEAT tokens for a part that is the same as 1, 2, 4 or 8 bars back")]

    def grammar(self, constraints: Constraints | None = None) -> Grammar:
        """The notes grammar (:mod:`musicgen.tokens.notes_grammar`)."""
        return Grammar(self, NoteRules, constraints)

    def layout(self) -> BarLayout:
        return self._layout

    def restate(self, ids: Any, start: int) -> np.ndarray:
        """``ids[start:]``, its first BAR followed by the TIME_SIGNATURE in force there (beats timing),
        and its parts that repeat a bar before ``start`` written out."""
        ids = np.asarray(ids)
        if has_repeats(self, ids[start:]):
            before = int(np.count_nonzero(ids[:start] == self._layout.bar_id))
            controls, programs, bars = self._layout.parse(ids)
            ended = len(ids) and ids[-1] == self.eos_id
            written = self._layout.write(controls, programs, expand(self, bars, before), [self.eos_id] if ended else [])
            ids = np.asarray(written, ids.dtype)
            start = int(self.bar_starts(ids)[before])
        rest = ids[start:]
        if not self.meters or not len(rest) or rest[0] != self._layout.bar_id:
            return rest
        if len(rest) > 1 and self.kinds[rest[1]] == Kind.TIME_SIGNATURE:
            return rest
        return np.concatenate([rest[:1], [self.meter_before(ids, start)], rest[1:]]).astype(ids.dtype)

    def fit_meters(self, ids: Any, allowed: np.ndarray | None = None) -> np.ndarray:
        """See :func:`musicgen.tokens.notes_meter.fit_meters`."""
        return fit_meters(self, ids, allowed)

    def meter_before(self, ids: Any, position: int) -> int:
        """The TIME_SIGNATURE token in force at ``position`` of ``ids`` (the default meter's if none)."""
        before = np.asarray(ids)[:position]
        before = before[(before >= 0) & (before < self.vocab_size)]
        said = before[self.kinds[before] == Kind.TIME_SIGNATURE]
        return int(said[-1]) if len(said) else self.id_of(Kind.TIME_SIGNATURE, max(self.default_meter, 0))

    def track_programs(self, ids: Any) -> list[int]:
        """The header's PROGRAM values: track ``i`` plays the ``i``-th."""
        ids = np.asarray(ids).reshape(-1)
        starts = self.bar_starts(ids)
        header = ids[: starts[0]] if len(starts) else ids
        header = header[(header >= 0) & (header < self.vocab_size)]
        return self.values[header[self.kinds[header] == Kind.PROGRAM]].tolist()

    def program_stats(self, ids: Any) -> dict[int, ProgramStats]:
        """Each program's longest DURATION, lowest and highest PITCH, and most PITCHes at one POSITION."""
        return program_stats(self, ids)

    def grid_tokens(self) -> np.ndarray:
        """POSITION and DURATION tokens on the grid of sixteenths and triplet eighths (beats timing);
        every other token."""
        per_quarter = self.config.steps_per_quarter
        if self.config.timing != "beats" or per_quarter % 12:
            return np.ones(self.vocab_size, bool)
        timed = self.roles.position | (self.kinds == Kind.DURATION)
        on = (self.values % (per_quarter // 4) == 0) | (self.values % (per_quarter // 3) == 0)
        return ~timed | on

    def writable_tokens(self, meter: tuple[int, int] | None = None) -> np.ndarray:
        """Every token but a meter of one beat (the data has them: a pickup bar, a performance's 1/4
        throughout; no piece is written in them), and with ``meter`` every meter but that one."""
        meters = self.kinds == Kind.TIME_SIGNATURE
        refused = np.array([numerator == 1 or (meter is not None and (numerator, bottom) != tuple(meter))
                            for numerator, bottom in self.meters] or [False])
        writable = np.ones(self.vocab_size, bool)
        writable[meters] = ~refused[self.values[meters]]
        return writable

    def chord_plan(self, progression: str, meter: tuple[int, int] = (4, 4)) -> np.ndarray:
        """See :func:`musicgen.tokens.notes_parts.chord_plan`."""
        return chord_plan(self, progression, meter)

    def token_name(self, token_id: int) -> str:
        """Readable name: ``TIME_SIGNATURE(3/4)``, ``KEY(D minor)``, ``STYLE(reels)``, ``CHORD(Am7)``."""
        if 0 <= int(token_id) < self.vocab_size and self.kinds[int(token_id)] == Kind.TIME_SIGNATURE:
            numerator, denominator = self.meters[int(self.values[int(token_id)])]
            return f"TIME_SIGNATURE({numerator}/{denominator})"
        if 0 <= int(token_id) < self.vocab_size and self.kinds[int(token_id)] == Kind.CHORD:
            return f"CHORD({chord_name(int(self.values[int(token_id)]))})"
        return super().token_name(token_id)

    def transposition(self, semitones: int) -> np.ndarray:
        """Pitches and the key move (:meth:`Tokenizer.transposition`), and so do the chords' roots."""
        table = super().transposition(semitones)
        chord = np.flatnonzero(self.kinds == Kind.CHORD)
        for token in chord[self.values[chord] >= 0].tolist():
            value, qualities = int(self.values[token]), len(QUALITIES)
            table[token] = self.id_of(Kind.CHORD, ((value // qualities + semitones) % 12) * qualities + value % qualities)
        return table

    def duration_id(self, steps: int) -> int:
        """The DURATION id of the table length nearest ``steps`` (half-way: the longer)."""
        index = int(np.searchsorted(self.durations, steps))
        index = min(index, len(self.durations) - 1)
        if index > 0 and steps - self.durations[index - 1] < self.durations[index] - steps:
            index -= 1
        return self._duration_offset + index

    def bar_length(self, meter: int) -> int:
        """Steps in a bar of TIME_SIGNATURE value ``meter`` (-1: the default bar)."""
        if self.fixed_bar:
            return self.fixed_bar
        return int(self.bar_lengths[meter]) if meter >= 0 else 4 * self.config.steps_per_quarter

    # --------------------------------------------------------------- encoding
    def encode_piece(self, piece: Piece) -> np.ndarray:
        """Encode a piece; see the module docstring for the exact layout."""
        piece = self.prepare(piece)
        programs, track_of, _ = self._tracks(piece)
        notes = piece.notes[track_of[piece.notes[:, 4].astype(np.int64)] >= 0]
        if not len(notes):
            return np.array([self.bos_id, self.eos_id], np.int32)
        track = track_of[notes[:, 4].astype(np.int64)]
        start = self.to_steps(piece, notes[:, 0])
        end = np.maximum(self.to_steps(piece, notes[:, 1]), start + 1)
        pitch = notes[:, 2].astype(np.int64)
        velocity = self._velocity_to_bin[np.clip(notes[:, 3], 0, 127).astype(np.int64)]
        # One note per (track, pitch, onset): the longest; an overlapped note ends at the next onset.
        order = np.lexsort((end, start, pitch, track))
        track, start, end, pitch, velocity = track[order], start[order], end[order], pitch[order], velocity[order]
        same = (track[1:] == track[:-1]) & (pitch[1:] == pitch[:-1])
        keep = np.append(~(same & (start[1:] == start[:-1])), True)
        end = np.where(np.append(same, False), np.minimum(end, np.append(start[1:], end[-1])), end)
        track, start, end, pitch, velocity = track[keep], start[keep], end[keep], pitch[keep], velocity[keep]
        durations = [self.duration_id(steps) for steps in (end - start).tolist()]
        controls = self.read_controls(piece)

        bar_starts, meters = self._bars(piece, int(end.max()))
        bar = np.searchsorted(bar_starts, start, side="right") - 1
        events = [(b, t, s - bar_starts[b], 2, p, v, d)
                  for b, t, s, p, v, d in zip(bar.tolist(), track.tolist(), start.tolist(), pitch.tolist(),
                                              velocity.tolist(), durations, strict=True)]
        events += pedal_events(self, piece, track_of, bar_starts)
        if self.config.chords:
            events += harmony_events(self, piece, bar_starts)
        events.sort()
        ids = self._tokens(controls, programs, bar_starts, meters, events)
        if not self.config.repeats:
            return ids
        controls, programs, bars = self._layout.parse(ids)
        lengths = self._bar_lengths(meters)
        return np.asarray(self._layout.write(controls, programs, fold(self, bars, lengths), [self.eos_id]), np.int32)

    def _bar_lengths(self, meters: list[int]) -> list[int]:
        """Each bar's length in steps, from the meter index of each bar."""
        return [self.bar_length(meter) for meter in meters]

    def source_tracks(self, piece: Piece) -> list[int]:
        """The source track each token track stands for (a track beyond ``max_tracks`` joins a
        kept one of its program, which stands for both)."""
        return self._tracks(self.prepare(piece))[2]

    def _tracks(self, piece: Piece) -> tuple[list[int], np.ndarray, list[int]]:
        """The programs of the kept tracks in token order, each source track's token track (-1:
        dropped), and the kept source tracks in token order."""
        counts = np.bincount(piece.notes[:, 4].astype(np.int64), minlength=len(piece.tracks))
        used = [index for index in range(len(piece.tracks)) if counts[index] > 0]
        kept = sorted(sorted(used, key=lambda index: -counts[index])[: self.config.max_tracks])
        kept.sort(key=lambda index: (piece.tracks[index].program, index))
        track_of = np.full(max(len(piece.tracks), 1), -1, np.int64)
        for position, index in enumerate(kept):
            track_of[index] = position
        for index in used:
            if track_of[index] < 0:  # a track beyond max_tracks joins a kept one of its program
                for position, kept_index in enumerate(kept):
                    if piece.tracks[kept_index].program == piece.tracks[index].program:
                        track_of[index] = position
                        break
        return [piece.tracks[index].program for index in kept], track_of, kept

    def _bars(self, piece: Piece, end_step: int) -> tuple[np.ndarray, list[int]]:
        """Each bar's first step and meter index, bars enough to hold ``end_step``."""
        starts, meters = [], []
        step, beat = 0, 0.0
        changes = list(piece.time_signatures)
        while True:
            meter = -1
            if not self.fixed_bar:
                active = [change for change in changes if change[0] <= beat + 1e-9][-1]
                signature = (int(active[1]), int(active[2]))
                meter = self.meters.index(signature) if signature in self.meters else self.default_meter
            starts.append(step)
            meters.append(meter)
            length = self.bar_length(meter)
            step += length
            beat += length / self.config.steps_per_quarter
            if step >= end_step:
                return np.array(starts, np.int64), meters

    def _tokens(self, controls: list[int], programs: list[int], bar_starts: np.ndarray, meters: list[int],
                events: list[tuple]) -> np.ndarray:
        ids = [self.bos_id, *controls, *(self.id_of(Kind.PROGRAM, program) for program in programs)]
        bar_id, position_offset = self.id_of(Kind.BAR), self.offset(Kind.POSITION)
        track_offset, pitch_offset = self.offset(Kind.TRACK), self.offset(Kind.PITCH) - self.config.min_pitch
        velocity_offset = self.offset(Kind.VELOCITY)
        pedal_ids = {0: self.id_of(Kind.PEDAL_OFF), 1: self.id_of(Kind.PEDAL_ON)} if self.config.pedal == "events" else {}
        cursor, meter = 0, None
        for bar in range(len(bar_starts)):
            ids.append(bar_id)
            if not self.fixed_bar and meters[bar] != meter and meters[bar] >= 0:
                ids.append(self.id_of(Kind.TIME_SIGNATURE, meters[bar]))
            meter = meters[bar]
            track = position = None
            harmony = []
            while cursor < len(events) and events[cursor][0] == bar and events[cursor][1] == HARMONY:
                harmony.append(events[cursor])
                cursor += 1
            ids += harmony_tokens(self, harmony)
            while cursor < len(events) and events[cursor][0] == bar:
                _, event_track, event_position, kind, pitch, velocity, duration = events[cursor]
                cursor += 1
                if event_track != track:
                    ids.append(track_offset + event_track)
                    track, position = event_track, None
                if event_position != position:
                    ids.append(position_offset + event_position)
                    position = event_position
                if kind == 2 and self.config.velocity_bins > 1:
                    ids.extend((pitch_offset + pitch, velocity_offset + velocity, duration))
                elif kind == 2:  # a single velocity bin says nothing: no VELOCITY token
                    ids.extend((pitch_offset + pitch, duration))
                else:
                    ids.append(pedal_ids[kind])
        ids.append(self.eos_id)
        return np.asarray(ids, np.int32)

    # --------------------------------------------------------------- decoding
    def _decode(self, ids: Any) -> tuple[list[int], list[tuple], list[tuple], list[tuple[int, int]], int, list]:
        """Programs, notes ``(start, end, pitch, velocity, track)`` and pedals ``(step, track, down)``
        in steps, the meters ``(bar start, meter)``, the end of the last bar and the chords
        ``(step, chord)``; REPEAT parts are written out first."""
        ids = self.expanded(ids)
        kinds, values = self.kinds.tolist(), self.values.tolist()
        velocities = self._bin_to_velocity.tolist()
        middle = self.bin_velocity(self.config.velocity_bins // 2)
        programs: list[int] = []
        notes, pedals, meters, chords = [], [], [], []
        bar_start, bar_length, meter = -1, self.bar_length(self.default_meter), self.default_meter
        track, position, pitch, velocity = 0, 0, None, middle
        for token in np.asarray(ids).reshape(-1).tolist():
            if not 0 <= token < self.vocab_size:
                continue
            kind, value = kinds[token], values[token]
            if kind == Kind.EOS:
                break
            if kind == Kind.PROGRAM:
                if bar_start < 0 and len(programs) < self.config.max_tracks:
                    programs.append(value)
            elif kind == Kind.BAR:
                bar_start = 0 if bar_start < 0 else bar_start + bar_length
                track, position, pitch = 0, 0, None
            elif bar_start < 0:
                continue  # nothing but the header before the first bar
            elif kind == Kind.TIME_SIGNATURE:
                meter, bar_length = value, self.bar_length(value)
                meters.append((bar_start, meter))
            elif kind == Kind.TRACK:
                track, position, pitch = value, 0, None
            elif kind == Kind.POSITION:
                position, pitch = value, None
            elif kind == Kind.PITCH:
                pitch, velocity = value, middle
            elif kind == Kind.VELOCITY:
                velocity = velocities[value]
            elif kind == Kind.DURATION and pitch is not None:
                onset = bar_start + position
                notes.append((onset, onset + value, pitch, velocity, track))
                pitch = None
            elif kind in (Kind.PEDAL_ON, Kind.PEDAL_OFF):
                pedals.append((bar_start + position, track, int(kind == Kind.PEDAL_ON)))
            elif kind == Kind.CHORD:
                chords.append((bar_start + position, value))
        end = bar_start + bar_length if bar_start >= 0 else 0
        notes = [(s, min(e, end), p, v, t) for s, e, p, v, t in notes if s < end]
        return programs, notes, pedals, meters, end, chords

    def expanded(self, ids: Any) -> np.ndarray:
        """``ids`` with every REPEAT part written out (as decoding reads them)."""
        ids = np.asarray(ids).reshape(-1)
        if not has_repeats(self, ids):
            return ids
        cut = ids[: int(np.flatnonzero(ids == self.eos_id)[0]) + 1] if np.any(ids == self.eos_id) else ids
        controls, programs, bars = self._layout.parse(cut)
        ended = len(cut) and cut[-1] == self.eos_id
        return np.asarray(self._layout.write(controls, programs, expand(self, bars), [self.eos_id] if ended else []),
                          np.int64)

    def _track_programs(self, programs: list[int], notes: list[tuple], pedals: list[tuple]) -> list[int]:
        """The program of every track the tokens use (a track beyond the header plays the piano)."""
        used = max([t for *_, t in notes] + [t for _, t, _ in pedals] + [len(programs) - 1])
        return programs + [DEFAULT_PROGRAM] * (used + 1 - len(programs))

    def bar_lines(self, ids: Any, tempo: float | None = None) -> list[float]:
        """The bar lines of ``ids`` in beats, as :meth:`decode_piece` places them: each bar's start
        and, last, the end of the last bar."""
        tempo = self.config.default_tempo if tempo is None else tempo
        scale, starts, bar_length = self.step_beats(tempo), [], self.bar_length(self.default_meter)
        step = -1
        for token in np.asarray(ids).reshape(-1).tolist():
            kind = self.kinds[token] if 0 <= token < self.vocab_size else -1
            if kind == Kind.BAR:
                step = 0 if step < 0 else step + bar_length
                starts.append(step * scale)
            elif kind == Kind.TIME_SIGNATURE and step >= 0:
                bar_length = self.bar_length(int(self.values[token]))
            elif kind in (Kind.EOS, Kind.FILL_START):
                break
        return starts + [(step + bar_length) * scale] if step >= 0 else []

    def decode_notes(self, ids: Any, program: int | None = None) -> list[tuple[int, int, int, int, int]]:
        """Notes ``(start_step, end_step, pitch, velocity, program)``; ``program`` replaces every pitched program."""
        programs, notes, pedals, _, _, _ = self._decode(ids)
        programs = self._track_programs(programs, notes, pedals)
        if program is not None:
            programs = [code if code == DRUM_PROGRAM else program for code in programs]
        return [(s, e, p, v, programs[t]) for s, e, p, v, t in notes]

    def decode_piece(self, ids: Any, tempo: float | None = None, time_signature: tuple[int, int] | None = None,
                     program: int | None = None, track_names: dict[int, str] | None = None) -> Piece:
        """Decode ids to a :class:`Piece`: the header's tracks, with their notes, meters and pedal,
        marked by the header's controls (its KEY as the key signature)."""
        programs, notes, pedals, meters, _, chords = self._decode(ids)
        programs = self._track_programs(programs, notes, pedals)
        if program is not None:
            programs = [code if code == DRUM_PROGRAM else program for code in programs]
        tempo = self.config.default_tempo if tempo is None else tempo
        scale = self.step_beats(tempo)
        names = track_names or {}
        signatures = [(start * scale, *self.meters[meter]) for start, meter in meters if meter >= 0]
        if not signatures or signatures[0][0] > 0:
            signatures.insert(0, (0.0, *(time_signature or (4, 4))))
        rows = np.array([(s * scale, e * scale, p, v, t) for s, e, p, v, t in notes], np.float64).reshape(-1, 5)
        pedal_rows = np.array([(s * scale, t, d) for s, t, d in pedals], np.float64).reshape(-1, 3)
        changes = [(step * scale, chord) for index, (step, chord) in enumerate(chords)
                   if index == 0 or chord != chords[index - 1][1]]
        piece = Piece(rows, tuple(Track(code, names.get(i, "")) for i, code in enumerate(programs)),
                      tuple(signatures), ((0.0, float(tempo)),), pedal_rows, chords=tuple(changes))
        ids = np.asarray(ids).reshape(-1)
        bars = self.bar_starts(ids)
        for name, value in self.header_controls(ids[: bars[0]] if len(bars) else ids).items():
            piece = self.control(name).annotate(piece, value)
        return piece
