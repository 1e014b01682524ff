"""The ``events`` encoding: Performance RNN's note-on/note-off vocabulary, on a beat or a time grid.

Representation (every option lives in :class:`TokenizerConfig`):

* Time unit: with ``timing="beats"`` one *step* is ``1 / steps_per_quarter`` of a quarter
  note (default 12 steps, so 16ths (3 steps) and eighth triplets (4 steps) are exact),
  measured in beats (MIDI ticks / ticks per quarter), so tempo changes in the source do not
  bend the grid and decoded music lines up with bars in a DAW. With ``timing="seconds"``
  a step is ``1 / steps_per_second`` of a second of the source's playing time (default
  10 ms, as Performance RNN), for recorded performances that follow no beat.
* Ids, in this order (``P = max_pitch - min_pitch + 1``)::

      0                 PAD
      1                 BOS            every encoded piece starts with it
      2                 EOS            every encoded piece ends with it; decoding stops there
      3 ..              NOTE_ON(p)     P ids, p = min_pitch..max_pitch (default 21..108)
      3+P ..            NOTE_OFF(p)    P ids
      3+2P ..           TIME_SHIFT(n)  max_shift_steps ids, n = 1..max_shift_steps steps
      ..                VELOCITY(b)    velocity_bins ids, b = velocity * bins // 128
      ..                PROGRAM(k)     k = 0..127 (General MIDI program; only program 0 when
                                       use_programs is false) and k = 128 for drums (when
                                       use_drums); absent when only one value is possible.
      ..                PEDAL_ON, PEDAL_OFF   sustain pedal down / up (only with pedal="events")

* An instrument is (program, is_drum); tracks with the same instrument merge. Notes outside
  the pitch range are dropped, as are drums when ``use_drums`` is false; with
  ``use_programs`` false every pitched track becomes program 0.
* Onsets and offsets are rounded to the nearest step (half-way rounds up); a note shorter
  than one step lasts one step. Where notes of one instrument and pitch overlap, the earlier
  one ends where the next begins; notes starting at the same step become one (the longest;
  on a tie, the later-listed).
* The sustain pedal: with ``pedal="extend"`` the notes it holds are lengthened first (see
  :meth:`musicgen.music.piece.Piece.with_sustain`), with ``"events"`` its changes are tokens of the
  instrument's, with ``"ignore"`` it is dropped. A pedal on the drums is always dropped.
* Gaps longer than ``max_shift_steps`` use several TIME_SHIFTs (full ones first).
* Order at one time step: instruments in ascending (program, drum = 128) order; for each,
  PROGRAM (only when the instrument differs from the previous event's), its NOTE_OFFs by
  pitch, its pedal changes, then its NOTE_ONs by pitch, each NOTE_ON preceded by VELOCITY
  when its bin differs from the last VELOCITY emitted.
* PROGRAM tokens appear only when the piece has more than one instrument, or when its only
  instrument is not the default one (program 0, not drums), so the four-part chorales have
  none. Without PROGRAM tokens, decoding uses program 0 (or the ``program`` argument).

Decoding is total: PAD and BOS are ignored, EOS ends the piece, a NOTE_OFF with no sounding
note is ignored, a NOTE_ON on a sounding pitch of the same instrument restarts it, zero-length
notes last one step, and notes still sounding at the end are closed there.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from musicgen.errors import ConfigError
from musicgen.music.instruments import DEFAULT_PROGRAM, DRUM_PROGRAM
from musicgen.music.piece import Piece, Track
from musicgen.tokens.base import Tokenizer
from musicgen.tokens.config import Kind, TokenizerConfig
from musicgen.tokens.events_grammar import EventRules
from musicgen.tokens.grammar import Constraints, Grammar


class EventTokenizer(Tokenizer, encoding="events"):
    """Note-on, note-off, time-shift, velocity and program events (see the module docstring)."""

    def sections(self) -> list[tuple[Kind, Any]]:
        c = self.config
        programs = list(range(128)) if c.use_programs else [DEFAULT_PROGRAM]
        if c.use_drums:
            programs.append(DRUM_PROGRAM)
        # A single possible instrument needs no PROGRAM token.
        self.program_values = np.array(programs if len(programs) > 1 else [], dtype=np.int32)
        self.num_pitches = c.max_pitch - c.min_pitch + 1
        pitches = np.arange(c.min_pitch, c.max_pitch + 1, dtype=np.int32)
        return [
            (Kind.PAD, [0]),
            (Kind.BOS, [0]),
            (Kind.EOS, [0]),
            (Kind.NOTE_ON, pitches),
            (Kind.NOTE_OFF, pitches),
            (Kind.TIME_SHIFT, np.arange(1, c.max_shift_steps + 1)),
            (Kind.VELOCITY, np.arange(c.velocity_bins)),
            (Kind.PROGRAM, self.program_values),
            (Kind.PEDAL_ON, [0] if c.pedal == "events" else []),
            (Kind.PEDAL_OFF, [0] if c.pedal == "events" else []),
        ]

    def _setup(self, config: Any) -> None:
        super()._setup(config)
        self.note_on_offset = self.offset(Kind.NOTE_ON)
        self.note_off_offset = self.offset(Kind.NOTE_OFF)
        self.time_shift_offset = self.offset(Kind.TIME_SHIFT)
        self.velocity_offset = self.offset(Kind.VELOCITY)
        self.program_offset = self.offset(Kind.PROGRAM)

    @classmethod
    def choices(cls, folder: Any, performed: bool) -> list[tuple[str, Any, str]]:
        """A performed folder's time shifts reach one second, as Performance RNN's."""
        if not performed:
            return []
        return [("max_shift_steps", TokenizerConfig.steps_per_second, "one second of time shift, as Performance RNN")]

    def grammar(self, constraints: Constraints | None = None) -> Grammar:
        """The events grammar (:mod:`musicgen.tokens.events_grammar`)."""
        return Grammar(self, EventRules, constraints)

    def track_programs(self, ids: Any) -> list[int]:
        """The instruments a piece plays, in program order: one track each (the default
        instrument when the piece has no PROGRAM token)."""
        ids = np.asarray(ids).reshape(-1)
        ids = ids[(ids >= 0) & (ids < self.vocab_size)]
        programs = sorted(set(self.values[ids[self.kinds[ids] == Kind.PROGRAM]].tolist()))
        return programs or [DEFAULT_PROGRAM]

    # ----------------------------------------------------------------- lookups
    def note_on_id(self, pitch: int) -> int:
        """Id of NOTE_ON(pitch)."""
        return self.note_on_offset + self._pitch_index(pitch)

    def note_off_id(self, pitch: int) -> int:
        """Id of NOTE_OFF(pitch)."""
        return self.note_off_offset + self._pitch_index(pitch)

    def time_shift_id(self, steps: int) -> int:
        """Id of TIME_SHIFT(steps), 1 <= steps <= max_shift_steps."""
        if not 1 <= steps <= self.config.max_shift_steps:
            raise ConfigError(f"time shift {steps} outside 1..{self.config.max_shift_steps}")
        return self.time_shift_offset + steps - 1

    def velocity_id(self, velocity_bin: int) -> int:
        """Id of VELOCITY(bin)."""
        if not 0 <= velocity_bin < self.config.velocity_bins:
            raise ConfigError(f"velocity bin {velocity_bin} outside 0..{self.config.velocity_bins - 1}")
        return self.velocity_offset + velocity_bin

    def program_id(self, program: int) -> int:
        """Id of PROGRAM(program); 128 means drums."""
        return self.id_of(Kind.PROGRAM, program)

    def _pitch_index(self, pitch: int) -> int:
        if not self.config.min_pitch <= pitch <= self.config.max_pitch:
            raise ConfigError(
                f"pitch {pitch} outside {self.config.min_pitch}..{self.config.max_pitch}"
            )
        return pitch - self.config.min_pitch

    # --------------------------------------------------------------- encoding
    def encode_piece(self, piece: Piece) -> np.ndarray:
        """Encode a piece; see the module docstring for the exact ordering."""
        piece = self.prepare(piece)
        if len(piece.notes) == 0:
            return np.array([self.bos_id, self.eos_id], dtype=np.int32)
        start, end, pitch, instrument, velocity_bin = self._note_rows(piece)
        instruments = np.unique(instrument)
        use_program_tokens = (len(instruments) > 1 or instruments[0] != DEFAULT_PROGRAM) and len(self.program_values)
        # Events: offs (class 0), pedal changes (1) and ons (2), ordered by (step, instrument, class, pitch).
        count = len(start)
        pedal_step, pedal_instrument, pedal_token = self._pedal_events(piece)
        event_step = np.concatenate([end, pedal_step, start])
        event_instrument = np.concatenate([instrument, pedal_instrument, instrument])
        event_class = np.concatenate([np.zeros(count, np.int64), np.ones(len(pedal_step), np.int64),
                                      np.full(count, 2)])
        event_pitch = np.concatenate([pitch, pedal_token, pitch])
        event_bin = np.concatenate([np.full(count + len(pedal_step), -1), velocity_bin])
        order = np.lexsort((event_pitch, event_class, event_instrument, event_step))
        return self._event_tokens(event_step[order], event_instrument[order], event_class[order], event_pitch[order],
                                  event_bin[order], bool(use_program_tokens))

    def _note_rows(self, piece: Piece) -> tuple[np.ndarray, ...]:
        """Onset and end steps, pitch, instrument and velocity bin of each note, overlaps resolved
        per (instrument, pitch): of notes sharing an onset the longest stays, and each ends at the
        next onset of its pitch."""
        notes = piece.notes
        pitch = notes[:, 2].astype(np.int64)
        instrument = piece.programs().astype(np.int64)
        start = self.to_steps(piece, notes[:, 0])
        end = np.maximum(self.to_steps(piece, notes[:, 1]), start + 1)
        velocity_bin = self._velocity_to_bin[np.clip(notes[:, 3], 0, 127).astype(np.int64)]
        order = np.lexsort((end, start, pitch, instrument))
        start, end, pitch = start[order], end[order], pitch[order]
        instrument, velocity_bin = instrument[order], velocity_bin[order]
        same_voice = (pitch[1:] == pitch[:-1]) & (instrument[1:] == instrument[:-1])
        keep = np.ones(len(start), bool)
        keep[:-1] = ~(same_voice & (start[1:] == start[:-1]))
        end = np.where(np.append(same_voice, False), np.minimum(end, np.append(start[1:], np.iinfo(np.int64).max)), end)
        return start[keep], end[keep], pitch[keep], instrument[keep], velocity_bin[keep]

    def _event_tokens(self, event_step: np.ndarray, event_instrument: np.ndarray, event_class: np.ndarray,
                      event_pitch: np.ndarray, event_bin: np.ndarray, use_program_tokens: bool) -> np.ndarray:
        """The ids of sorted events, with their time shifts, PROGRAM and VELOCITY tokens, BOS and EOS."""
        c = self.config
        pitch_index = event_pitch - c.min_pitch
        event_token = np.where(
            event_class == 2, self.note_on_offset + pitch_index,
            np.where(event_class == 0, self.note_off_offset + pitch_index, event_pitch),
        )
        # Time shifts before each event whose step differs from the previous one.
        delta = np.diff(event_step, prepend=0)
        shift_count = -(-delta // c.max_shift_steps)
        # PROGRAM when the instrument changes from the previous event.
        if use_program_tokens:
            has_program = np.diff(event_instrument, prepend=-1) != 0
        else:
            has_program = np.zeros(len(event_step), bool)
        # VELOCITY before a NOTE_ON whose bin differs from the previous NOTE_ON's.
        on_positions = np.flatnonzero(event_class == 2)
        has_velocity = np.zeros(len(event_step), bool)
        has_velocity[on_positions] = np.diff(event_bin[on_positions], prepend=-1) != 0
        per_event = shift_count + has_program + has_velocity + 1
        ends = np.cumsum(per_event) + 1  # +1 for BOS
        ids = np.empty(int(ends[-1]) + 1, dtype=np.int32)  # +1 for EOS
        ids[0], ids[-1] = self.bos_id, self.eos_id
        event_position = ends - 1
        ids[event_position] = event_token
        ids[event_position[has_velocity] - 1] = self.velocity_offset + event_bin[has_velocity]
        if use_program_tokens:
            program_position = event_position - has_velocity - 1
            program_index = np.searchsorted(self.program_values, event_instrument)
            ids[program_position[has_program]] = self.program_offset + program_index[has_program]
        shifting = np.flatnonzero(shift_count)
        if len(shifting):
            counts = shift_count[shifting]
            group_start = np.repeat((ends - per_event)[shifting], counts)
            within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
            steps = np.full(len(within), c.max_shift_steps, dtype=np.int64)
            steps[np.cumsum(counts) - 1] = delta[shifting] - (counts - 1) * c.max_shift_steps
            ids[group_start + within] = self.time_shift_offset + steps - 1
        return ids

    def _pedal_events(self, piece: Piece) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Steps, instruments and token ids of the pedal changes kept as events."""
        empty = np.zeros(0, np.int64)
        if self.config.pedal != "events" or not len(piece.pedals) or not piece.tracks:
            return empty, empty, empty
        programs = np.array([track.program for track in piece.tracks], np.int64)
        pedals = piece.pedals
        instrument = programs[pedals[:, 1].astype(np.int64)]
        keep = instrument != DRUM_PROGRAM
        steps = self.to_steps(piece, pedals[keep, 0])
        tokens = np.where(pedals[keep, 2] > 0, self.id_of(Kind.PEDAL_ON), self.id_of(Kind.PEDAL_OFF))
        return steps, instrument[keep], tokens.astype(np.int64)

    # --------------------------------------------------------------- decoding
    def _decode(self, ids: Any, program: int | None) -> tuple[list, list, int]:
        """Notes ``(start, end, pitch, velocity, program)`` and pedals ``(step, program, down)`` in steps."""
        ids = np.asarray(ids).reshape(-1)
        kinds, values = self.kinds.tolist(), self.values.tolist()
        bin_to_velocity = self._bin_to_velocity.tolist()
        note_on, note_off, time_shift = int(Kind.NOTE_ON), int(Kind.NOTE_OFF), int(Kind.TIME_SHIFT)
        velocity_kind, program_kind, eos = int(Kind.VELOCITY), int(Kind.PROGRAM), int(Kind.EOS)
        pedal_on, pedal_off = int(Kind.PEDAL_ON), int(Kind.PEDAL_OFF)
        instrument = DEFAULT_PROGRAM if program is None else int(program)
        velocity = self.bin_velocity(self.velocity_bin(64))
        step = 0
        sounding: dict[tuple[int, int], tuple[int, int]] = {}
        notes: list[tuple[int, int, int, int, int]] = []
        pedals: list[tuple[int, int, int]] = []
        for token in ids.tolist():
            if not 0 <= token < self.vocab_size:
                continue
            kind = kinds[token]
            if kind == time_shift:
                step += values[token]
            elif kind == note_on or kind == note_off:
                key = (instrument, values[token])
                if key in sounding:
                    begin, note_velocity = sounding.pop(key)
                    notes.append((begin, max(step, begin + 1), key[1], note_velocity, instrument))
                if kind == note_on:
                    sounding[key] = (step, velocity)
            elif kind == velocity_kind:
                velocity = bin_to_velocity[values[token]]
            elif kind == program_kind:
                instrument = values[token]
            elif kind == pedal_on or kind == pedal_off:
                if instrument != DRUM_PROGRAM:
                    pedals.append((step, instrument, int(kind == pedal_on)))
            elif kind == eos:
                break
        for (code, pitch), (begin, note_velocity) in sounding.items():
            notes.append((begin, max(step, begin + 1), pitch, note_velocity, code))
        return notes, pedals, step

    def decode_notes(self, ids: Any, program: int | None = None) -> list[tuple[int, int, int, int, int]]:
        """Decode ids to notes ``(start_step, end_step, pitch, velocity, program)``.

        Total: any integers decode (ids outside the vocabulary are ignored).
        """
        return self._decode(ids, program)[0]

    def decode_piece(self, ids: Any, tempo: float | None = None, time_signature: tuple[int, int] | None = None,
                     program: int | None = None, track_names: dict[int, str] | None = None) -> Piece:
        """Decode ids to a :class:`Piece`: one track per instrument, in program order (drums last)."""
        notes, pedals, _ = self._decode(ids, program)
        tempo = self.config.default_tempo if tempo is None else tempo
        scale = self.step_beats(tempo)
        programs = sorted({note[4] for note in notes} | {pedal[1] for pedal in pedals})
        index = {code: position for position, code in enumerate(programs)}
        rows = np.array([(s * scale, e * scale, p, v, index[code]) for s, e, p, v, code in notes], np.float64)
        pedal_rows = np.array([(s * scale, index[code], down) for s, code, down in pedals], np.float64)
        names = track_names or {}
        numerator, denominator = time_signature or (4, 4)
        return Piece(rows.reshape(-1, 5), tuple(Track(code, names.get(i, "")) for i, code in enumerate(programs)),
                     ((0.0, numerator, denominator),), ((0.0, float(tempo)),), pedal_rows.reshape(-1, 3))
