"""The grammar of the ``events`` encoding: which tokens are possible next, in Python and in TensorFlow.

A sequence is well formed when it decodes without dropping an event:

- PAD and BOS never follow BOS; EOS needs at least one note played before it and no
  note sounding (as in encoded pieces, which close every note before EOS).
- NOTE_ON needs the pitch to be silent on the current instrument (no second onset of a
  sounding note); NOTE_OFF needs it sounding, and sounding for some time (a TIME_SHIFT
  since its NOTE_ON), so that no zero-length note is dropped.
- Notes still sounding when a sampled sequence runs out of length are closed by
  :meth:`GrammarChecker.closing_tokens` (a TIME_SHIFT if needed, NOTE_OFFs, EOS).
- After EOS only PAD may follow.
- What the training data had (:class:`musicgen.tokens.grammar.Constraints`): a piece plays at most
  as many instruments as a training piece did.

:class:`GrammarChecker` is the pure-Python reference (used by tests and by the sampler to
close sequences); :class:`GrammarMasker` is the same rules as tensors for the compiled
sampling loop, where its state (sounding notes per instrument, current instrument) is
carried from step to step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from musicgen.errors import ConfigError
from musicgen.music.instruments import DRUM_PROGRAM
from musicgen.tokens.config import Kind


@dataclass(frozen=True)
class GrammarTables:
    """Per-id lookup tables derived from a tokenizer's ``kinds`` and ``values``."""

    kinds: np.ndarray
    values: np.ndarray
    pad_id: int
    bos_id: int
    eos_id: int
    num_pitches: int
    program_slots: dict[int, int]
    initial_slot: int
    shortest_shift_id: int
    program_ids: dict[int, int]
    max_instruments: int = 1 << 30  # instruments a piece may play (the training data's most)

    @classmethod
    def from_tokenizer(cls, tokenizer: Any, constraints: Any = None) -> GrammarTables:
        """Build the tables from anything with ``kinds`` and ``values`` (a ``Tokenizer``)."""
        kinds = np.asarray(tokenizer.kinds, dtype=np.int64)
        values = np.asarray(tokenizer.values, dtype=np.int64)
        if kinds.shape != values.shape or kinds.ndim != 1:
            raise ConfigError("tokenizer kinds and values must be 1-D arrays of equal length")

        def only(kind: Kind) -> int:
            ids = np.flatnonzero(kinds == kind)
            if len(ids) != 1:
                raise ConfigError(f"the vocabulary needs exactly one {kind.name} token, found {len(ids)}")
            return int(ids[0])

        note_ids = np.flatnonzero((kinds == Kind.NOTE_ON) | (kinds == Kind.NOTE_OFF))
        if len(note_ids) == 0:
            raise ConfigError("the vocabulary has no NOTE_ON/NOTE_OFF tokens")
        shift_ids = np.flatnonzero((kinds == Kind.TIME_SHIFT) & (values > 0))
        if len(shift_ids) == 0:
            raise ConfigError("the vocabulary has no TIME_SHIFT tokens")
        program_ids = {int(values[i]): int(i) for i in np.flatnonzero(kinds == Kind.PROGRAM)}
        programs = sorted(program_ids)
        program_slots = {program: slot for slot, program in enumerate(programs)}
        return cls(
            kinds=kinds,
            values=values,
            pad_id=only(Kind.PAD),
            bos_id=only(Kind.BOS),
            eos_id=only(Kind.EOS),
            num_pitches=int(values[note_ids].max()) + 1,
            program_slots=program_slots,
            initial_slot=program_slots.get(0, 0),
            shortest_shift_id=int(shift_ids[np.argmin(values[shift_ids])]),
            program_ids=program_ids,
            max_instruments=int(constraints.max_tracks) if constraints is not None and constraints.max_tracks
            else 1 << 30,
        )

    @property
    def vocab_size(self) -> int:
        return len(self.kinds)

    @property
    def num_slots(self) -> int:
        return max(1, len(self.program_slots))


class GrammarChecker:
    """Feed tokens one by one; reports what may come next and how to close the sequence."""

    def __init__(self, tables: GrammarTables) -> None:
        self.tables = tables
        self._kinds = tables.kinds.tolist()  # Python lists: fast per-token lookups
        self._values = tables.values.tolist()
        self.slot = tables.initial_slot
        self.played: set[int] = set()  # instrument slots with a note
        self.sounding: set[tuple[int, int]] = set()
        self.pending: set[tuple[int, int]] = set()
        self.notes_played = 0
        self.elapsed_steps = 0
        self.started = False
        self.ended = False

    def allowed(self, token: int) -> bool:
        """Whether ``token`` may come next."""
        kind = self._kinds[token]
        if not self.started:
            return kind == Kind.BOS
        if self.ended:
            return kind == Kind.PAD
        if kind in (Kind.PAD, Kind.BOS):
            return False
        if kind == Kind.EOS:
            return self.notes_played > 0 and not self.sounding
        key = (self.slot, self._values[token])
        room = len(self.played) < self.tables.max_instruments
        if kind == Kind.PROGRAM:
            return room or self.tables.program_slots[self._values[token]] in self.played
        if kind == Kind.NOTE_ON:
            return key not in self.sounding and (room or self.slot in self.played)
        if kind == Kind.NOTE_OFF:
            return key in self.sounding and key not in self.pending
        return True

    forced = False  # the events grammar forces no kind of token

    def allowed_mask(self) -> np.ndarray:
        """:meth:`allowed` of every token, as booleans over the vocabulary."""
        return np.array([self.allowed(token) for token in range(self.tables.vocab_size)], bool)

    def feed(self, token: int, check: bool = True) -> None:
        """Advance past ``token``; raise ``ValueError`` naming it when it is not allowed (unless not
        ``check``: a token given from a file, which the training data's limits do not bind)."""
        if check and not self.allowed(token):
            raise ValueError(f"token {token} ({Kind(self.tables.kinds[token]).name}) is not allowed here")
        kind, value = self._kinds[token], self._values[token]
        if kind == Kind.BOS:
            self.started = True
        elif kind == Kind.EOS:
            self.ended = True
        elif kind == Kind.NOTE_ON:
            self.sounding.add((self.slot, value))
            self.pending.add((self.slot, value))
            self.played.add(self.slot)
            self.notes_played += 1
        elif kind == Kind.NOTE_OFF:
            self.sounding.discard((self.slot, value))
        elif kind == Kind.TIME_SHIFT:
            self.pending.clear()
            self.elapsed_steps += value
        elif kind == Kind.PROGRAM:
            self.slot = self.tables.program_slots[value]

    def closing_tokens(self) -> list[int]:
        """Tokens that end the sequence cleanly: a time step if needed, NOTE_OFFs, then EOS."""
        if self.ended:
            return []
        tables = self.tables
        tokens: list[int] = []
        if self.pending:
            tokens.append(tables.shortest_shift_id)
        program_of_slot = {slot: program for program, slot in tables.program_slots.items()}
        off_ids = {int(tables.values[i]): int(i) for i in np.flatnonzero(tables.kinds == Kind.NOTE_OFF)}
        slot = self.slot
        for note_slot, pitch in sorted(self.sounding, key=lambda key: (key[0] != self.slot, key)):
            if note_slot != slot:
                tokens.append(tables.program_ids[program_of_slot[note_slot]])
                slot = note_slot
            tokens.append(off_ids[pitch])
        if self.notes_played > 0:
            tokens.append(tables.eos_id)
        return tokens


class GrammarMasker:
    """The grammar as tensors: an initial state, the allowed-token mask and the update.

    The state is a dict of tensors with batch first. ``onset`` (int32, ``(batch, slots,
    pitches)``) holds, per instrument slot and pitch, the number of TIME_SHIFTs seen when
    the sounding note started, or -1 when silent; ``epoch`` counts TIME_SHIFTs, so a note
    is still "pending" (no time since its onset) when ``onset == epoch``. Each step reads
    one slot's row and writes one entry per sequence, never the whole tensor, so the cost
    does not grow with the 129 instrument slots. ``slot``, ``sounding``, ``notes_played``,
    ``elapsed`` (int32) and ``ended`` (bool) are ``(batch,)``.
    """

    def __init__(self, tables: GrammarTables) -> None:
        import tensorflow as tf

        self.tables = tables
        kinds, values = tables.kinds, tables.values
        is_note = np.isin(kinds, [Kind.NOTE_ON, Kind.NOTE_OFF])
        self.pitch_of = tf.constant(np.where(is_note, values, 0).astype(np.int32))
        self.is_note_on = tf.constant(kinds == Kind.NOTE_ON)
        self.is_note_off = tf.constant(kinds == Kind.NOTE_OFF)
        always = ~np.isin(kinds, [Kind.PAD, Kind.BOS, Kind.EOS, Kind.NOTE_ON, Kind.NOTE_OFF])
        self.always_allowed = tf.constant(always)
        self.is_eos = tf.constant(kinds == Kind.EOS)
        self.is_pad = tf.constant(kinds == Kind.PAD)
        self.kinds = tf.constant(kinds.astype(np.int32))
        slot_of = np.full(len(kinds), tables.initial_slot, np.int32)
        for program, slot in tables.program_slots.items():
            slot_of[tables.program_ids[program]] = slot
        self.slot_of = tf.constant(slot_of)
        self.is_program = tf.constant(kinds == Kind.PROGRAM)
        self.shift_of = tf.constant(np.where(kinds == Kind.TIME_SHIFT, values, 0).astype(np.int32))

    def initial_state(self, batch_size: Any) -> dict:
        """The state right after BOS, for ``batch_size`` sequences."""
        import tensorflow as tf

        shape = tf.stack([batch_size, self.tables.num_slots, self.tables.num_pitches])
        zeros = tf.zeros(tf.reshape(batch_size, [1]), tf.int32)
        return {
            "onset": tf.fill(shape, -1),
            "epoch": zeros,
            "slot": zeros + self.tables.initial_slot,
            "sounding": zeros,
            "notes_played": zeros,
            "elapsed": zeros,
            "played": tf.zeros(tf.stack([batch_size, self.tables.num_slots]), tf.bool),
            "ended": tf.cast(zeros, tf.bool),
        }

    def allowed(self, state: dict) -> Any:
        """Boolean ``(batch, vocab)``: the tokens that may come next."""
        import tensorflow as tf

        row = tf.gather(state["onset"], state["slot"], batch_dims=1)  # (batch, pitches)
        by_token = tf.gather(row, self.pitch_of, axis=1)  # (batch, vocab)
        sounding = by_token >= 0
        settled = sounding & (by_token != state["epoch"][:, tf.newaxis])
        allowed = (self.is_note_on & ~sounding) | (self.is_note_off & settled) | self.always_allowed
        # No instrument beyond the most a training piece played.
        room = tf.reduce_sum(tf.cast(state["played"], tf.int32), axis=1) < self.tables.max_instruments
        played_slot = tf.gather(state["played"], self.slot_of, axis=1)  # (batch, vocab): the token's slot played
        current = tf.gather(state["played"], state["slot"], batch_dims=1)
        allowed &= ~self.is_program | played_slot | room[:, tf.newaxis]
        allowed &= ~self.is_note_on | (current | room)[:, tf.newaxis]
        eos_ok = (state["notes_played"] > 0) & (state["sounding"] == 0)
        allowed |= eos_ok[:, tf.newaxis] & self.is_eos
        return tf.where(state["ended"][:, tf.newaxis], self.is_pad, allowed)

    def update(self, state: dict, tokens: Any, count_time: Any = True) -> dict:
        """The state after each sequence's next token ``tokens`` (int32 ``(batch,)``)."""
        import tensorflow as tf

        kinds = tf.gather(self.kinds, tokens)
        slot = tf.where(kinds == int(Kind.PROGRAM), tf.gather(self.slot_of, tokens), state["slot"])
        rows = tf.range(tf.shape(tokens)[0])
        where = tf.stack([rows, slot, tf.gather(self.pitch_of, tokens)], axis=1)
        current = tf.gather_nd(state["onset"], where)
        starts = (kinds == int(Kind.NOTE_ON)) & (current < 0)
        stops = (kinds == int(Kind.NOTE_OFF)) & (current >= 0)
        new = tf.where(starts, state["epoch"], tf.where(stops, -1, current))
        is_shift = tf.cast(kinds == int(Kind.TIME_SHIFT), tf.int32)
        shift = tf.gather(self.shift_of, tokens)
        return {
            "onset": tf.tensor_scatter_nd_update(state["onset"], where, new),
            "epoch": state["epoch"] + is_shift,
            "slot": slot,
            "sounding": state["sounding"] + tf.cast(starts, tf.int32) - tf.cast(stops, tf.int32),
            "notes_played": state["notes_played"] + tf.cast(kinds == int(Kind.NOTE_ON), tf.int32),
            "elapsed": state["elapsed"] + tf.where(count_time, shift, tf.zeros_like(shift)),
            "played": state["played"] | (starts[:, tf.newaxis] & tf.one_hot(slot, self.tables.num_slots, on_value=True,
                                                                            off_value=False)),
            "ended": state["ended"] | (kinds == int(Kind.EOS)),
        }

    def limit(self, state: dict, allowed: Any, bar_limit: Any, every_track: Any = False) -> Any:
        """``allowed`` as it is: the events encoding has no bars and no tracks."""
        return allowed

    def rewrite(self, state: dict, tokens: Any, bar_limit: Any) -> Any:
        """Sampled tokens as they are: the events encoding has no bars."""
        return tokens

    def forced(self, state: dict) -> Any:
        """``(batch,)``: never: the events grammar forces no kind of token."""
        import tensorflow as tf

        return tf.zeros_like(state["ended"])

    def drums(self, state: dict) -> Any:
        """``(batch,)``: the current instrument is the drum kit."""
        import tensorflow as tf

        return tf.equal(state["slot"], self.tables.program_slots.get(DRUM_PROGRAM, -1))
