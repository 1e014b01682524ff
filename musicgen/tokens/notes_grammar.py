"""The grammar of the ``notes`` encoding, in Python and as tensors.

A well-formed sequence (see :mod:`musicgen.tokens.notes`) is BOS, a header of one
PROGRAM per track (at most the data's track count), then bars: BAR, an optional
TIME_SIGNATURE, and per track with something in the bar, in ascending order, TRACK and
the track's events by ascending POSITION (inside the bar); at one position the pedal
(PEDAL_OFF before PEDAL_ON, never on drums) and then notes by ascending PITCH, each
PITCH, VELOCITY (unless there is a single velocity bin) and DURATION. EOS needs a note
played before it and comes where a BAR could. After EOS only PAD follows.

The samplers also keep to what the training data had (:class:`musicgen.tokens.grammar.Constraints`):
the tokens seen, at most as many tracks as a training piece, and no note longer than the
longest of its program. With a bar limit, the BAR that would start one bar too many is
turned into EOS (:meth:`NoteMasker.rewrite`), so ``--bars N`` gives exactly N bars.

:class:`NoteChecker` is the pure-Python reference (tests, closing a sampled sequence);
:class:`NoteMasker` is the same rules as tensors for the compiled sampling loop.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from musicgen.music.instruments import DRUM_PROGRAM, PROGRAM_COUNT
from musicgen.tokens.config import CONTROL_KINDS, Kind

# Phases: what the last token leaves open.
(START, HEADER, BAR, METER, TRACK, POSITION, PEDAL_OFF, PEDAL_ON, PITCH, VELOCITY, NOTE, FILLED, FILLING,
 ENDED) = range(14)
_ENDS = (Kind.EOS, Kind.FILL_START, Kind.FILL_END)  # a piece's end, its infill's start, the infill's end
_AFTER_NOTE = (Kind.PITCH, Kind.POSITION, Kind.TRACK, Kind.BAR, *_ENDS)
_PHASE_KINDS = {
    START: (Kind.BOS,),
    HEADER: (*CONTROL_KINDS, Kind.PROGRAM, Kind.BAR),
    BAR: (Kind.TIME_SIGNATURE, Kind.TRACK, Kind.BAR, *_ENDS),
    METER: (Kind.TRACK, Kind.BAR, *_ENDS),
    TRACK: (Kind.POSITION, Kind.FILL),
    POSITION: (Kind.PEDAL_OFF, Kind.PEDAL_ON, Kind.PITCH),
    PEDAL_OFF: (Kind.PEDAL_ON, *_AFTER_NOTE),
    PEDAL_ON: _AFTER_NOTE,
    PITCH: (Kind.VELOCITY, Kind.DURATION),
    VELOCITY: (Kind.DURATION,),
    NOTE: _AFTER_NOTE,
    FILLED: (Kind.TRACK, Kind.BAR, *_ENDS),
    FILLING: (Kind.BAR,),
    ENDED: (Kind.PAD,),
}
_NEXT_PHASE = {
    Kind.BOS: HEADER, Kind.PROGRAM: HEADER, Kind.BAR: BAR, Kind.TIME_SIGNATURE: METER, Kind.TRACK: TRACK,
    Kind.POSITION: POSITION, Kind.PEDAL_OFF: PEDAL_OFF, Kind.PEDAL_ON: PEDAL_ON, Kind.PITCH: PITCH,
    Kind.VELOCITY: VELOCITY, Kind.DURATION: NOTE, Kind.EOS: ENDED, Kind.PAD: ENDED, Kind.FILL: FILLED,
    Kind.FILL_START: FILLING, Kind.FILL_END: ENDED, **{kind: HEADER for kind in CONTROL_KINDS},
}


class NoteTables:
    """Per-id tables of a :class:`musicgen.tokens.notes.NoteTokenizer` and the data's constraints."""

    def __init__(self, tokenizer: Any, constraints: Any = None) -> None:
        self.tokenizer = tokenizer
        self.kinds = np.asarray(tokenizer.kinds, np.int64)
        self.values = np.asarray(tokenizer.values, np.int64)
        self.vocab_size = len(self.kinds)
        self.pad_id, self.bos_id, self.eos_id = tokenizer.pad_id, tokenizer.bos_id, tokenizer.eos_id
        self.bar_id = tokenizer.id_of(Kind.BAR)
        self.velocity = tokenizer.config.velocity_bins > 1
        self.max_tracks = tokenizer.config.max_tracks
        self.max_duration = np.full(PROGRAM_COUNT, np.iinfo(np.int32).max, np.int64)
        self.pitch_low, self.pitch_high = np.zeros(PROGRAM_COUNT, np.int64), np.full(PROGRAM_COUNT, 127, np.int64)
        self.max_chord = np.full(PROGRAM_COUNT, 128, np.int64)
        if constraints is not None:
            if constraints.max_tracks:
                self.max_tracks = min(self.max_tracks, int(constraints.max_tracks))
            if constraints.max_durations is not None:
                self.max_duration = np.asarray(constraints.max_durations, np.int64)
            if constraints.pitch_ranges is not None:
                self.pitch_low, self.pitch_high = (np.asarray(constraints.pitch_ranges, np.int64)[:, column]
                                                   for column in (0, 1))
            if constraints.max_chords is not None:
                self.max_chord = np.asarray(constraints.max_chords, np.int64)
        self.needs_meter = bool(tokenizer.meters)  # beats timing: a piece states its meter at its first bar
        bar_values = [tokenizer.bar_length(meter) for meter in range(len(tokenizer.meters))]
        self.meter_length = np.array(bar_values or [0], np.int64)
        self.default_bar = tokenizer.bar_length(tokenizer.default_meter)
        # The bar's last beat (a 1/denominator note), which a sampled bar must reach.
        per_quarter = tokenizer.config.steps_per_quarter
        self.meter_beat = np.array([per_quarter * 4 // bottom for _, bottom in tokenizer.meters] or [0], np.int64)
        self.default_beat = per_quarter if tokenizer.meters else 0
        phase_table = np.zeros((ENDED + 1, self.vocab_size), bool)
        for phase, kinds in _PHASE_KINDS.items():
            phase_table[phase] = np.isin(self.kinds, [int(kind) for kind in kinds])
        if not self.velocity:
            phase_table[PITCH] &= self.kinds != Kind.VELOCITY
        else:
            phase_table[PITCH] &= self.kinds != Kind.DURATION
        self.phase_table = phase_table
        self.next_phase = np.array([_NEXT_PHASE.get(Kind(kind), NOTE) for kind in self.kinds], np.int64)
        self.control_rank = np.array([CONTROL_KINDS.index(Kind(kind)) if kind in CONTROL_KINDS else -1
                                      for kind in self.kinds], np.int64)
        self.fill_end_id = tokenizer.id_of(Kind.FILL_END)


class NoteChecker:
    """Feed tokens one by one; says what may come next and how to close the sequence."""

    def __init__(self, tables: NoteTables) -> None:
        self.tables = tables
        self._kinds, self._values = tables.kinds.tolist(), tables.values.tolist()
        self.phase = START
        self.programs: list[int] = []
        self.track = self.position = self.pitch = -1
        self.bar_length = tables.default_bar
        self.notes_played = 0
        self.last_control = -1
        self.filling = False  # after FILL_START: the bars of an infill
        self.meter_set = False  # a TIME_SIGNATURE was given (beats timing wants one at the first bar)
        self.chord = 0  # notes at the current position of the current track

    @property
    def started(self) -> bool:
        return self.phase != START

    @property
    def ended(self) -> bool:
        return self.phase == ENDED

    @property
    def forced(self) -> bool:
        """The first bar must state its meter."""
        return self.phase == BAR and self.tables.needs_meter and not self.meter_set

    def allowed(self, token: int) -> bool:
        """Whether ``token`` may come next."""
        tables = self.tables
        if not tables.phase_table[self.phase, token]:
            return False
        kind, value = self._kinds[token], self._values[token]
        program = self.programs[self.track] if 0 <= self.track < len(self.programs) else 0
        if self.forced:
            return kind == Kind.TIME_SIGNATURE
        if kind == Kind.EOS:
            return self.notes_played > 0 and not self.filling
        if kind == Kind.FILL_END:
            return self.filling
        if kind in (Kind.FILL, Kind.FILL_START):
            return not self.filling
        if kind in CONTROL_KINDS:
            return not self.programs and tables.control_rank[token] > self.last_control
        if kind == Kind.PROGRAM:
            return len(self.programs) < tables.max_tracks
        if kind == Kind.BAR and self.phase == HEADER:
            return bool(self.programs)
        if kind == Kind.TRACK:
            return self.track < value < len(self.programs)
        if kind == Kind.POSITION:
            return self.position < value < self.bar_length
        if kind in (Kind.PEDAL_ON, Kind.PEDAL_OFF):
            return program != DRUM_PROGRAM
        if kind == Kind.PITCH:
            return (value > self.pitch and tables.pitch_low[program] <= value <= tables.pitch_high[program]
                    and self.chord < tables.max_chord[program])
        if kind == Kind.DURATION:
            return value <= tables.max_duration[program]
        return True

    def allowed_mask(self) -> np.ndarray:
        """:meth:`allowed` of every token at once: a boolean array over the vocabulary."""
        tables = self.tables
        kinds, values = tables.kinds, tables.values
        program = self.programs[self.track] if 0 <= self.track < len(self.programs) else 0
        mask = tables.phase_table[self.phase].copy()
        mask[kinds == Kind.EOS] &= self.notes_played > 0 and not self.filling
        mask[kinds == Kind.FILL_END] &= self.filling
        mask[(kinds == Kind.FILL) | (kinds == Kind.FILL_START)] &= not self.filling
        control = tables.control_rank >= 0
        mask[control] &= (not self.programs) & (tables.control_rank[control] > self.last_control)
        mask[kinds == Kind.PROGRAM] &= len(self.programs) < tables.max_tracks
        if self.phase == HEADER:
            mask[kinds == Kind.BAR] &= bool(self.programs)
        track = kinds == Kind.TRACK
        mask[track] &= (values[track] > self.track) & (values[track] < len(self.programs))
        position = kinds == Kind.POSITION
        mask[position] &= (values[position] > self.position) & (values[position] < self.bar_length)
        mask[(kinds == Kind.PEDAL_ON) | (kinds == Kind.PEDAL_OFF)] &= program != DRUM_PROGRAM
        pitch = kinds == Kind.PITCH
        mask[pitch] &= ((values[pitch] > self.pitch) & (values[pitch] >= tables.pitch_low[program])
                        & (values[pitch] <= tables.pitch_high[program]) & (self.chord < tables.max_chord[program]))
        duration = kinds == Kind.DURATION
        mask[duration] &= values[duration] <= tables.max_duration[program]
        if self.forced:
            mask &= kinds == Kind.TIME_SIGNATURE
        return mask

    def feed(self, token: int, check: bool = True) -> None:
        """Advance past ``token``; raise ``ValueError`` naming it when it is not allowed (unless not
        ``check``: a token given from a file, which the training data's limits do not bind)."""
        if check and not self.allowed(token):
            raise ValueError(f"token {token} ({self.tables.tokenizer.token_name(token)}) is not allowed here")
        kind, value = self._kinds[token], self._values[token]
        if kind == Kind.PROGRAM:
            self.programs.append(value)
        elif kind == Kind.BAR:
            self.track = -1  # the bar keeps the meter until a TIME_SIGNATURE changes it
        elif kind == Kind.TIME_SIGNATURE:
            self.bar_length, self.meter_set = int(self.tables.meter_length[value]), True
        elif kind == Kind.TRACK:
            self.track, self.position = value, -1
        elif kind == Kind.POSITION:
            self.position, self.pitch, self.chord = value, -1, 0
        elif kind == Kind.PITCH:
            self.pitch, self.chord = value, self.chord + 1
        elif kind == Kind.DURATION:
            self.notes_played += 1
        elif kind in CONTROL_KINDS:
            self.last_control = int(self.tables.control_rank[token])
        elif kind == Kind.FILL_START:
            self.filling = True
        self.phase = int(self.tables.next_phase[token])

    def closing_tokens(self) -> list[int]:
        """Tokens that end the sequence cleanly: the rest of an unfinished note, then EOS."""
        tokenizer = self.tables.tokenizer
        tokens: list[int] = []
        if self.phase == PITCH and self.tables.velocity:
            tokens.append(tokenizer.offset(Kind.VELOCITY) + tokenizer.config.velocity_bins // 2)
        if self.phase in (PITCH, VELOCITY):
            tokens.append(tokenizer.offset(Kind.DURATION))
            self.notes_played += 1
        if self.filling and self.phase != ENDED:
            tokens.append(self.tables.fill_end_id)
        elif self.notes_played and self.phase != ENDED:
            tokens.append(self.tables.eos_id)
        return tokens


class NoteMasker:
    """The grammar as tensors: an initial state, the allowed-token mask, the update and the bar limit.

    The state is a dict of ``(batch,)`` int32 tensors (``phase``, ``tracks``, ``track``,
    ``position``, ``pitch``, ``chord``, ``bar_length``, ``beat``, ``reach``, ``bars``,
    ``notes_played``, ``elapsed``), the ``(batch, max tracks)`` ``programs`` of the header's
    tracks, and the booleans ``ended``, ``filling`` and ``meter_set``.
    """

    def __init__(self, tables: NoteTables) -> None:
        import tensorflow as tf

        self.tables = tables
        kinds, values = tables.kinds, tables.values
        self.phase_table = tf.constant(tables.phase_table)
        self.next_phase = tf.constant(tables.next_phase.astype(np.int32))
        self.kinds = tf.constant(kinds.astype(np.int32))
        self.values = tf.constant(values.astype(np.int32))
        for kind in (Kind.EOS, Kind.PROGRAM, Kind.TRACK, Kind.POSITION, Kind.PITCH, Kind.DURATION, Kind.BAR):
            setattr(self, f"is_{kind.name.lower()}", tf.constant(kinds == kind))
        self.is_pedal = tf.constant((kinds == Kind.PEDAL_ON) | (kinds == Kind.PEDAL_OFF))
        self.is_fill_end = tf.constant(kinds == Kind.FILL_END)
        self.is_fill = tf.constant((kinds == Kind.FILL) | (kinds == Kind.FILL_START))
        self.control_rank = tf.constant(tables.control_rank.astype(np.int32))
        self.meter_length = tf.constant(tables.meter_length.astype(np.int32))
        self.meter_beat = tf.constant(tables.meter_beat.astype(np.int32))
        self.max_duration = tf.constant(np.minimum(tables.max_duration, np.iinfo(np.int32).max).astype(np.int32))
        self.pitch_low = tf.constant(tables.pitch_low.astype(np.int32))
        self.pitch_high = tf.constant(tables.pitch_high.astype(np.int32))
        self.max_chord = tf.constant(tables.max_chord.astype(np.int32))
        self.is_meter = tf.constant(kinds == Kind.TIME_SIGNATURE)
        self.values64 = tf.constant(values.astype(np.int64))
        self.slots = max(1, tables.max_tracks)

    def initial_state(self, batch_size: Any) -> dict:
        """The state before BOS, for ``batch_size`` sequences."""
        import tensorflow as tf

        zeros = tf.zeros(tf.reshape(batch_size, [1]), tf.int32)
        return {
            "phase": zeros + START, "tracks": zeros, "track": zeros - 1, "position": zeros - 1, "pitch": zeros - 1,
            "bar_length": zeros + self.tables.default_bar, "bars": zeros, "notes_played": zeros, "elapsed": zeros,
            "programs": tf.zeros(tf.stack([batch_size, self.slots]), tf.int32), "ended": tf.cast(zeros, tf.bool),
            "last_control": zeros - 1, "filling": tf.cast(zeros, tf.bool), "meter_set": tf.cast(zeros, tf.bool),
            "chord": zeros, "reach": zeros, "beat": zeros + self.tables.default_beat,
            "heard": tf.cast(zeros, tf.int64), "heard_before": tf.cast(zeros, tf.int64) - 1,
        }

    def allowed(self, state: dict) -> Any:
        """Boolean ``(batch, vocab)``: the tokens that may come next."""
        import tensorflow as tf

        values = self.values[tf.newaxis, :]

        def column(name: str) -> Any:
            return state[name][:, tf.newaxis]

        program = tf.gather(state["programs"], tf.maximum(state["track"], 0), batch_dims=1)
        allowed = tf.gather(self.phase_table, state["phase"])
        filling = state["filling"][:, tf.newaxis]
        allowed &= ~self.is_eos | ((column("notes_played") > 0) & ~filling)
        allowed &= ~self.is_fill_end | filling
        allowed &= ~self.is_fill | ~filling
        control = self.control_rank[tf.newaxis, :] >= 0
        allowed &= ~control | ((self.control_rank[tf.newaxis, :] > column("last_control")) & (column("tracks") == 0))
        allowed &= ~self.is_program | (column("tracks") < self.tables.max_tracks)
        header_bar = tf.equal(column("phase"), HEADER) & self.is_bar
        allowed &= ~header_bar | (column("tracks") > 0)
        allowed &= ~self.is_track | ((values > column("track")) & (values < column("tracks")))
        allowed &= ~self.is_position | ((values > column("position")) & (values < column("bar_length")))
        low, high = (tf.gather(bound, program)[:, tf.newaxis] for bound in (self.pitch_low, self.pitch_high))
        chord_room = column("chord") < tf.gather(self.max_chord, program)[:, tf.newaxis]
        allowed &= ~self.is_pitch | ((values > column("pitch")) & (values >= low) & (values <= high) & chord_room)
        allowed &= ~self.is_pedal | tf.not_equal(program, DRUM_PROGRAM)[:, tf.newaxis]
        longest = tf.gather(self.max_duration, program)[:, tf.newaxis]
        allowed &= ~self.is_duration | (values <= longest)
        return allowed & (~self.forced(state)[:, tf.newaxis] | self.is_meter)

    def forced(self, state: dict) -> Any:
        """``(batch,)``: the first bar must state its meter (beats timing)."""
        import tensorflow as tf

        if not self.tables.needs_meter:
            return tf.zeros_like(state["ended"])
        return tf.equal(state["phase"], BAR) & ~state["meter_set"]

    def drums(self, state: dict) -> Any:
        """``(batch,)``: the current track plays drums."""
        import tensorflow as tf

        program = tf.gather(state["programs"], tf.maximum(state["track"], 0), batch_dims=1)
        return tf.equal(program, DRUM_PROGRAM)

    def limit(self, state: dict, allowed: Any, bar_limit: Any, every_track: Any = False) -> Any:
        """``allowed`` as sampling wants it: a sampled bar (beats timing) ends only once a note
        sounds into its last beat, so every bar is full; under a limit of ``bar_limit`` bars
        after the prefix (-1: none) no EOS comes before the last bar; and with ``every_track``
        a bar closes only once every track played in it or in the bar before, and no TRACK
        skips a track that still owes its note, so each plays at least once in any two bars."""
        import tensorflow as tf

        sampled = ~state["filling"] & (state["phase"] != START) & (state["phase"] != HEADER)
        unfilled = sampled & (state["beat"] > 0) & (state["reach"] <= state["bar_length"] - state["beat"])
        early = (bar_limit >= 0) & ~state["filling"] & (state["bars"] < bar_limit)
        closing = self.is_bar | self.is_eos
        allowed &= ~(early[:, tf.newaxis] & self.is_eos) & ~(unfilled[:, tf.newaxis] & closing)
        owed = tf.bitwise.bitwise_and(_bits_below(state["tracks"]),
                                      tf.bitwise.invert(tf.bitwise.bitwise_or(state["heard"], state["heard_before"])))
        owed = tf.where(sampled & tf.cast(every_track, tf.bool), owed, tf.zeros_like(owed))
        # A TRACK v skips tracks track..v-1 (from 0 after BAR): none of them may still owe a note.
        skipped = tf.bitwise.bitwise_and(_bits_below(self.values64[tf.newaxis, :]),
                                         tf.bitwise.invert(_bits_below(tf.maximum(state["track"], 0)))[:, tf.newaxis])
        skips_owed = tf.not_equal(tf.bitwise.bitwise_and(skipped, owed[:, tf.newaxis]), 0)
        allowed &= ~(self.is_track & skips_owed)
        return allowed & ~(tf.not_equal(owed, 0)[:, tf.newaxis] & closing)

    def rewrite(self, state: dict, tokens: Any, bar_limit: Any) -> Any:
        """``tokens`` with a BAR beyond ``bar_limit`` bars (after the prefix; -1: none) turned into EOS."""
        import tensorflow as tf

        over = (bar_limit >= 0) & (state["bars"] >= bar_limit) & tf.equal(tokens, self.tables.bar_id)
        end = tf.where(state["filling"], self.tables.fill_end_id, self.tables.eos_id)
        return tf.where(over & ((state["notes_played"] > 0) | state["filling"]), end, tokens)

    def update(self, state: dict, tokens: Any, count_time: Any = True) -> dict:
        """The state after each sequence's next token ``tokens`` (int32 ``(batch,)``)."""
        import tensorflow as tf

        kinds = tf.gather(self.kinds, tokens)
        values = tf.gather(self.values, tokens)

        def is_kind(kind: Kind) -> Any:
            return tf.equal(kinds, int(kind))

        bar, track, position = is_kind(Kind.BAR), is_kind(Kind.TRACK), is_kind(Kind.POSITION)
        meter = is_kind(Kind.TIME_SIGNATURE)
        program = is_kind(Kind.PROGRAM)
        rows = tf.range(tf.shape(tokens)[0])
        slot = tf.minimum(state["tracks"], self.slots - 1)
        programs = tf.tensor_scatter_nd_update(
            state["programs"], tf.stack([rows, slot], axis=1),
            tf.where(program, values, tf.gather(state["programs"], slot, batch_dims=1)),
        )
        bar_length = tf.where(meter, tf.gather(self.meter_length, tf.where(meter, values, 0)), state["bar_length"])
        counted = tf.cast(bar, tf.int32) * tf.cast(count_time, tf.int32)
        return {
            "phase": tf.gather(self.next_phase, tokens),
            "tracks": state["tracks"] + tf.cast(program, tf.int32),
            "track": tf.where(bar, -1, tf.where(track, values, state["track"])),
            "position": tf.where(track, -1, tf.where(position, values, state["position"])),
            "pitch": tf.where(position, -1, tf.where(is_kind(Kind.PITCH), values, state["pitch"])),
            "chord": tf.where(position, 0, state["chord"] + tf.cast(is_kind(Kind.PITCH), tf.int32)),
            "reach": tf.where(bar, 0, tf.where(is_kind(Kind.DURATION), tf.maximum(state["reach"], state["position"] + values),
                                               state["reach"])),
            "beat": tf.where(meter, tf.gather(self.meter_beat, tf.where(meter, values, 0)), state["beat"]),
            "meter_set": state["meter_set"] | meter,
            "bar_length": bar_length,
            "bars": state["bars"] + counted,
            "notes_played": state["notes_played"] + tf.cast(is_kind(Kind.DURATION), tf.int32),
            "elapsed": state["elapsed"] + counted,
            "programs": programs,
            "ended": state["ended"] | is_kind(Kind.EOS) | is_kind(Kind.FILL_END) | (is_kind(Kind.PAD) & (state["phase"] != START)),
            "last_control": tf.where(tf.gather(self.control_rank, tokens) >= 0, tf.gather(self.control_rank, tokens),
                                     state["last_control"]),
            "filling": state["filling"] | is_kind(Kind.FILL_START),
            # Tracks with a note in this bar and in the bar before, as bits (the every_track rule).
            "heard": tf.where(bar, tf.zeros_like(state["heard"]), tf.bitwise.bitwise_or(state["heard"], tf.where(
                is_kind(Kind.DURATION), _bits_below(state["track"] + 1) - _bits_below(state["track"]), 0))),
            "heard_before": tf.where(bar & (state["phase"] != HEADER), state["heard"], state["heard_before"]),
        }


def _bits_below(count: Any) -> Any:
    """int64 ``2**count - 1``: the bits of tracks ``0..count-1`` (all bits from 63 on)."""
    import tensorflow as tf

    count = tf.cast(count, tf.int64)
    return tf.where(count >= 63, tf.constant(-1, tf.int64),
                    tf.bitwise.left_shift(tf.constant(1, tf.int64), tf.clip_by_value(count, 0, 62)) - 1)
