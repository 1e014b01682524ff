"""The grammar of the ``events`` encoding, written once (:class:`EventRules`).

A sequence is well formed when it decodes without dropping an event:

- PAD and BOS never follow BOS; EOS needs at least one note played before it and no
  note sounding (as in encoded pieces, which close every note before EOS).
- NOTE_ON needs the pitch to be silent on the current instrument (no second onset of a
  sounding note); NOTE_OFF needs it sounding, and sounding for some time (a TIME_SHIFT
  since its NOTE_ON), so that no zero-length note is dropped.
- Notes still sounding when a sampled sequence runs out of length are closed by
  :meth:`EventRules.closing_tokens` (a TIME_SHIFT if needed, NOTE_OFFs, EOS).
- After EOS only PAD may follow.
- What the training data had (:class:`musicgen.tokens.grammar.Constraints`): a piece plays at most
  as many instruments as a training piece did.

The state (:meth:`EventRules.initial_state`) holds, per instrument slot and pitch, the number of
TIME_SHIFTs seen when the sounding note started, or -1 when silent; ``epoch`` counts
TIME_SHIFTs, so a note is still "pending" (no time since its onset) when ``onset == epoch``.
Each step reads one slot's row and writes one entry per sequence, never the whole array.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from musicgen.errors import ConfigError
from musicgen.music.instruments import DRUM_PROGRAM
from musicgen.tokens.config import Kind
from musicgen.tokens.grammar import Rules


class EventRules(Rules):
    """The events grammar (see the module docstring), in NumPy or TensorFlow.

    The state: ``onset`` (``(batch, slots, pitches)``), ``played`` (``(batch, slots)``
    booleans: instruments with a note), and the ``(batch,)`` ``epoch``, ``slot``,
    ``sounding``, ``notes_played``, ``elapsed`` (grid steps), ``started`` and ``ended``.
    """

    def setup(self) -> None:
        kinds, values = self.kinds, self.values
        note = self.is_kind(Kind.NOTE_ON, Kind.NOTE_OFF)
        if not note.any():
            raise ConfigError("the vocabulary has no NOTE_ON/NOTE_OFF tokens")
        shifts = np.flatnonzero((kinds == Kind.TIME_SHIFT) & (values > 0))
        if not len(shifts):
            raise ConfigError("the vocabulary has no TIME_SHIFT tokens")
        self.program_ids = {int(values[i]): int(i) for i in np.flatnonzero(kinds == Kind.PROGRAM)}
        self.program_slots = {program: slot for slot, program in enumerate(sorted(self.program_ids))}
        self.num_slots = max(1, len(self.program_slots))
        self.num_pitches = int(values[note].max()) + 1
        self.initial_slot = self.program_slots.get(0, 0)
        self.shortest_shift_id = int(shifts[np.argmin(values[shifts])])
        self.drum_slot = self.program_slots.get(DRUM_PROGRAM, -1)
        slot_of = np.full(len(kinds), self.initial_slot, np.int32)
        for program, slot in self.program_slots.items():
            slot_of[self.program_ids[program]] = slot
        always = ~self.is_kind(Kind.PAD, Kind.BOS, Kind.EOS, Kind.NOTE_ON, Kind.NOTE_OFF)
        const = self.const
        self.pitch_of = const(np.where(note, values, 0).astype(np.int32))
        self.kind_of = const(kinds.astype(np.int32))
        self.slot_of = const(slot_of)
        self.shift_of = const(np.where(kinds == Kind.TIME_SHIFT, values, 0).astype(np.int32))
        self.is_note_on, self.is_note_off = const(kinds == Kind.NOTE_ON), const(kinds == Kind.NOTE_OFF)
        self.is_program, self.is_eos = const(kinds == Kind.PROGRAM), const(kinds == Kind.EOS)
        self.is_pad, self.is_bos, self.always = const(kinds == Kind.PAD), const(kinds == Kind.BOS), const(always)

    def initial_state(self, batch: Any) -> dict:
        x = self.x
        zeros = x.full(batch, 0, x.int32)
        return {
            "onset": x.full(batch, -1, x.int32, self.num_slots, self.num_pitches),
            "epoch": zeros, "slot": zeros + self.initial_slot, "sounding": zeros, "notes_played": zeros,
            "elapsed": zeros, "played": x.full(batch, False, x.bool, self.num_slots),
            "started": zeros > 0, "ended": zeros > 0,
        }

    def allowed(self, state: dict, params: dict) -> Any:
        x = self.x
        row = x.pick(state["onset"], state["slot"])  # (batch, pitches)
        by_token = x.columns(row, self.pitch_of)  # (batch, vocab)
        sounding = by_token >= 0
        settled = sounding & (by_token != state["epoch"][:, None])
        allowed = (self.is_note_on & ~sounding) | (self.is_note_off & settled) | self.always
        # No instrument beyond the most a training piece played.
        room = x.count(state["played"]) < params["max_tracks"]
        played_slot = x.columns(state["played"], self.slot_of)
        current = x.pick(state["played"], state["slot"])
        allowed &= ~self.is_program | played_slot | room[:, None]
        allowed &= ~self.is_note_on | (current | room)[:, None]
        eos_ok = (state["notes_played"] > 0) & (state["sounding"] == 0)
        allowed |= eos_ok[:, None] & self.is_eos
        allowed = x.where(state["started"][:, None], allowed, self.is_bos[None, :])
        allowed = x.where(state["ended"][:, None], self.is_pad[None, :], allowed)
        return allowed & (params["allowed"] | state["ended"][:, None])

    def update(self, state: dict, tokens: Any, params: dict, count_time: Any = True) -> dict:
        x = self.x
        tokens = x.cast(tokens, x.int32)
        kinds = x.take(self.kind_of, tokens)
        slot = x.where(kinds == int(Kind.PROGRAM), x.take(self.slot_of, tokens), state["slot"])
        pitch = x.take(self.pitch_of, tokens)
        current = x.pick2(state["onset"], slot, pitch)
        starts = (kinds == int(Kind.NOTE_ON)) & (current < 0)
        stops = (kinds == int(Kind.NOTE_OFF)) & (current >= 0)
        new = x.where(starts, state["epoch"], x.where(stops, current * 0 - 1, current))
        shift = x.take(self.shift_of, tokens)
        return {
            "onset": x.put2(state["onset"], slot, pitch, new),
            "epoch": state["epoch"] + x.cast(kinds == int(Kind.TIME_SHIFT), x.int32),
            "slot": slot,
            "sounding": state["sounding"] + x.cast(starts, x.int32) - x.cast(stops, x.int32),
            "notes_played": state["notes_played"] + x.cast(kinds == int(Kind.NOTE_ON), x.int32),
            "elapsed": state["elapsed"] + x.where(count_time, shift, shift * 0),
            "played": state["played"] | (starts[:, None] & x.one_hot(slot, self.num_slots)),
            "started": state["started"] | (kinds == int(Kind.BOS)),
            "ended": state["ended"] | (kinds == int(Kind.EOS)),
        }

    def drums(self, state: dict) -> Any:
        return state["slot"] == self.drum_slot

    def closing_tokens(self, state: dict) -> list[int]:
        """A time step if a note has not sounded yet, NOTE_OFFs (the current instrument's first), EOS."""
        if state["ended"][0]:
            return []
        onset, epoch, slot = np.asarray(state["onset"][0]), int(state["epoch"][0]), int(state["slot"][0])
        tokens: list[int] = []
        if np.any(onset == epoch):
            tokens.append(self.shortest_shift_id)
        program_of_slot = {index: program for program, index in self.program_slots.items()}
        off_ids = {int(self.values[i]): int(i) for i in np.flatnonzero(self.kinds == Kind.NOTE_OFF)}
        sounding = sorted(zip(*np.nonzero(onset >= 0), strict=True), key=lambda key: (key[0] != slot, key))
        for note_slot, pitch in sounding:
            if note_slot != slot:
                tokens.append(self.program_ids[program_of_slot[int(note_slot)]])
                slot = int(note_slot)
            tokens.append(off_ids[int(pitch)])
        if int(state["notes_played"][0]) > 0:
            tokens.append(self.eos_id)
        return tokens

