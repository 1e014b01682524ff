"""The grammar of the ``notes`` encoding, written once (:class:`NoteRules`).

A well-formed sequence (see :mod:`musicgen.tokens.notes`) is BOS, a header of controls (in
header order, each at most once) and one PROGRAM per track (at most the data's track count),
then bars: BAR, an optional TIME_SIGNATURE, and per track with something in the bar, in
ascending order, TRACK and the track's events by ascending POSITION (inside the bar); at one
position the pedal (PEDAL_OFF before PEDAL_ON, never on drums) and then notes by ascending
PITCH, each PITCH, VELOCITY (unless there is a single velocity bin) and DURATION. EOS needs a
note played before it and comes where a BAR could. After EOS only PAD follows.

The run's figures (:meth:`musicgen.tokens.grammar.Rules.params`) add what sampling keeps to:
the tokens the data had, at most as many tracks as a training piece, each program's pitch
range, longest note and largest stack of notes at one onset; while sampling, a bar ends only
once a note sounds into its last beat (every bar is full), and with ``every_track`` only once
every track played in it or in the bar before (a drum track: in it); under a bar limit no EOS
comes before the last bar and the BAR that would start one bar too many is turned into EOS
(:meth:`NoteRules.rewrite`), so ``--bars N`` gives exactly N bars. The bars of an infill (after FILL_START) are bound by
their own limits (:mod:`musicgen.generation.infill`), not the bar rules.

Each kind's rule is one line of :meth:`NoteRules.allowed`: an on/off switch and an open
interval for the token's value (:func:`musicgen.tokens.grammar.interval_mask`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from musicgen.music.instruments import DRUM_PROGRAM
from musicgen.tokens.config import Kind
from musicgen.tokens.grammar import Rules, interval_mask

# Phases: what the last token leaves open.
(START, HEADER, BAR, METER, TRACK, POSITION, PEDAL_OFF, PEDAL_ON, PITCH, VELOCITY, NOTE, FILLED, FILLING,
 HARMONY, HARMONY_POSITION, ENDED) = range(16)
_ENDS = (Kind.EOS, Kind.FILL_START, Kind.FILL_END)  # a piece's end, its infill's start, the infill's end
_AFTER_NOTE = (Kind.PITCH, Kind.POSITION, Kind.TRACK, Kind.BAR, *_ENDS)
_PHASE_KINDS = {
    START: (Kind.BOS,),
    HEADER: (Kind.CONTROL, Kind.PROGRAM, Kind.BAR),
    BAR: (Kind.TIME_SIGNATURE, Kind.CHORD, Kind.TRACK, Kind.BAR, *_ENDS),
    METER: (Kind.CHORD, Kind.TRACK, Kind.BAR, *_ENDS),
    HARMONY: (Kind.POSITION, Kind.TRACK, Kind.BAR, *_ENDS),
    HARMONY_POSITION: (Kind.CHORD,),
    TRACK: (Kind.POSITION, Kind.FILL, Kind.REPEAT),
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
    Kind.BOS: HEADER, Kind.CONTROL: HEADER, Kind.PROGRAM: HEADER, Kind.BAR: BAR, Kind.TIME_SIGNATURE: METER,
    Kind.TRACK: TRACK, Kind.POSITION: POSITION, Kind.PEDAL_OFF: PEDAL_OFF, Kind.PEDAL_ON: PEDAL_ON,
    Kind.PITCH: PITCH, Kind.VELOCITY: VELOCITY, Kind.DURATION: NOTE, Kind.EOS: ENDED, Kind.PAD: ENDED,
    Kind.FILL: FILLED, Kind.FILL_START: FILLING, Kind.FILL_END: ENDED, Kind.CHORD: HARMONY, Kind.REPEAT: FILLED,
}
# The rule slots of :meth:`NoteRules.allowed`: the kinds with a rule of their own (others: slot 0, free).
_SLOTS = ((Kind.EOS,), (Kind.FILL_END,), (Kind.FILL, Kind.FILL_START), (Kind.CONTROL,), (Kind.PROGRAM,),
          (Kind.BAR,), (Kind.TRACK,), (Kind.POSITION,), (Kind.PEDAL_ON, Kind.PEDAL_OFF), (Kind.PITCH,),
          (Kind.DURATION,), (Kind.TIME_SIGNATURE,), (Kind.CHORD, Kind.REPEAT))
(FREE, S_EOS, S_FILL_END, S_FILL, S_CONTROL, S_PROGRAM, S_BAR, S_TRACK, S_POSITION, S_PEDAL, S_PITCH, S_DURATION,
 S_METER, S_PLAN) = range(len(_SLOTS) + 1)
HISTORY = 16  # bars of each track's playing kept for REPEAT (the longest REPEAT a config may have)
CHANGES = 8  # chord changes of a bar kept, for the chord sounding at a note (chord guidance)
KEYED = 1024  # above every chord number: a bar's harmony key is changes * KEYED + its first chord
NOWHERE = 1 << 20  # the position of a change slot not used


class NoteRules(Rules):
    """The notes grammar (see the module docstring), in NumPy or TensorFlow.

    The state is a dict of ``(batch,)`` arrays: ``phase``, ``tracks`` (in the header),
    ``track``, ``position``, ``pitch``, ``stack`` (notes at this position of this track),
    ``bar_length``, ``beat`` (the last beat's length), ``reach`` (how far into the bar a note
    sounds), ``bars`` (after the prefix), ``bar_number`` (in the piece, the prefix's included),
    ``notes_played``, ``elapsed``, ``last_control``, the int64 bits ``heard``
    and ``heard_before`` (tracks with a note in this bar and the one before), the booleans
    ``started``, ``ended``, ``filling`` and ``meter_set``, and the ``(batch, max tracks)``
    ``programs`` of the header's tracks; chord changes, sounding pitches and the bars' harmony
    are described where they are kept (:meth:`initial_state`).
    """

    def setup(self) -> None:
        tokenizer, kinds, values = self.tokenizer, self.kinds, self.values
        self.bar_id = tokenizer.id_of(Kind.BAR)
        self.fill_end_id = tokenizer.id_of(Kind.FILL_END)
        self.velocity = tokenizer.config.velocity_bins > 1
        self.slots_count = max(1, tokenizer.config.max_tracks)
        self.needs_meter = bool(tokenizer.meters)  # beats timing: a piece states its meter at its first bar
        self.default_bar = tokenizer.bar_length(tokenizer.default_meter)
        per_quarter = tokenizer.config.steps_per_quarter
        self.default_beat = per_quarter if tokenizer.meters else 0
        meter_length = [tokenizer.bar_length(meter) for meter in range(len(tokenizer.meters))] or [0]
        meter_beat = [per_quarter * 4 // bottom for _, bottom in tokenizer.meters] or [0]  # a 1/denominator note
        phase_table = np.zeros((ENDED + 1, self.vocab_size), bool)
        for phase, allowed_kinds in _PHASE_KINDS.items():
            phase_table[phase] = self.is_kind(*allowed_kinds)
        phase_table[PITCH] &= ~self.is_kind(Kind.VELOCITY if not self.velocity else Kind.DURATION)
        control_rank = np.asarray(tokenizer.control_of, np.int64)
        slots = np.zeros(self.vocab_size, np.int32)
        for slot, slot_kinds in enumerate(_SLOTS, start=1):
            slots[self.is_kind(*slot_kinds)] = slot
        const = self.const
        self.phase_table = const(phase_table)
        self.next_phase = const(np.array([_NEXT_PHASE.get(Kind(kind), NOTE) for kind in kinds], np.int32))
        self.kind_of = const(kinds.astype(np.int32))
        self.value_of = const(values.astype(np.int32))
        self.slots = const(slots)
        self.ordinals = const(np.where(control_rank >= 0, control_rank, values).astype(np.int32))
        self.control_rank = const(control_rank.astype(np.int32))
        self.meter_length = const(np.asarray(meter_length, np.int32))
        self.meter_beat = const(np.asarray(meter_beat, np.int32))
        self.steps = const(np.arange(max([*meter_length, self.default_bar, 1]), dtype=np.int32))  # a bar's grid
        self.slot_index = const(np.arange(self.slots_count, dtype=np.int32))
        self.repeats = bool(tokenizer.config.repeats)
        self.is_repeat = const(kinds == Kind.REPEAT)
        self.repeat_column = const(np.where(kinds == Kind.REPEAT, np.maximum(values - 1, 0), 0).astype(np.int32))
        self.is_position = const(kinds == Kind.POSITION)
        self.is_chord = const(kinds == Kind.CHORD)

    def initial_state(self, batch: Any) -> dict:
        x = self.x
        zeros = x.full(batch, 0, x.int32)
        false = zeros > 0
        return {
            "phase": zeros + START, "tracks": zeros, "track": zeros - 1, "position": zeros - 1, "pitch": zeros - 1,
            "stack": zeros, "bar_length": zeros + self.default_bar, "beat": zeros + self.default_beat, "reach": zeros,
            "bars": zeros, "bar_number": zeros, "notes_played": zeros, "elapsed": zeros, "last_control": zeros - 1,
            "heard": x.cast(zeros, x.int64), "heard_before": x.cast(zeros, x.int64) - 1,
            "drum_tracks": x.cast(zeros, x.int64),  # one bit per drum track
            "started": false, "ended": false, "filling": false, "meter_set": false,
            "programs": x.full(batch, 0, x.int32, self.slots_count),
            # Tracks that played in each of the last bars, one int64 of bits a bar (REPEAT).
            "history": x.full(batch, 0, x.int64, HISTORY if self.repeats else 1),
            "harmony": zeros,  # the bar's harmony tokens so far (CHORD, and POSITION before a change)
            # The bar's chord changes (position, chord) and the chord sounding at the current note's position.
            "change_at": x.full(batch, NOWHERE, x.int32, CHANGES), "change_chord": x.full(batch, -1, x.int32, CHANGES),
            "changes": zeros, "chord": zeros - 1,
            # Per track, the top pitch sounding at each step of this bar (-1: none, or not yet written)
            # and at the last step of the bar before: where each voice goes (voice leading).
            "sounding": x.full(batch, -1, x.int32, self.slots_count, int(self.steps.shape[0])),
            "carried": x.full(batch, -1, x.int32, self.slots_count),
            # The harmony of each of the last bars (-1: none stated), for REPEAT: is it the same there?
            "bar_chords": x.full(batch, -1, x.int32, HISTORY if self.repeats else 1),
        }

    def _program(self, state: dict) -> Any:
        """The program of the current track."""
        return self.x.pick(state["programs"], self.x.maximum(state["track"], 0))

    def _owed(self, state: dict, params: dict) -> Any:
        """int64 bits of the tracks that owe a note (``every_track``, while sampling bars)."""
        x = self.x
        bars = ~state["filling"] & (state["phase"] != START) & (state["phase"] != HEADER)
        # A track that played in the bar before may rest in this one; a drum track keeps the beat every bar.
        owed = x.bits_below(state["tracks"]) & ~(state["heard"] | (state["heard_before"] & ~state["drum_tracks"]))
        return x.where(bars & params["every_track"], owed, owed * 0)

    def allowed(self, state: dict, params: dict) -> Any:
        x = self.x
        program = self._program(state)
        phase, filling, track = state["phase"], state["filling"], state["track"]
        bars = ~filling & (phase != START) & (phase != HEADER)
        unfilled = params["sampling"] & bars & (state["beat"] > 0) & (state["reach"] <= state["bar_length"] - state["beat"])
        early = (params["bar_limit"] >= 0) & ~filling & (state["bars"] < params["bar_limit"])
        owed = self._owed(state, params)
        may_close = ~unfilled & (owed == 0)
        # The first owing track at or after the current one bounds the next TRACK: none is skipped.
        first_owed = x.lowest_bit(owed & ~x.bits_below(x.maximum(track, 0)))
        forced = self.forced(state)
        enabled = [
            None,
            (state["notes_played"] > 0) & ~filling & ~early & may_close,  # EOS
            filling,  # FILL_END
            ~filling,  # FILL, FILL_START
            state["tracks"] == 0,  # controls: before the tracks, in header order
            state["tracks"] < x.minimum(params["max_tracks"], self.slots_count),  # PROGRAM: the data's most, the config's
            x.where(phase == HEADER, state["tracks"] >= x.maximum(params["pitched"], 1), may_close),  # BAR
            None, None,  # TRACK, POSITION
            program != DRUM_PROGRAM,  # a pedal, never on drums
            state["stack"] < x.take(params["max_stack"], program),  # PITCH
            None,  # DURATION
            ~(params["one_meter"] & state["meter_set"]),  # TIME_SIGNATURE: once, where the piece keeps one
            ~filling,  # CHORD, REPEAT: never in the bars of an infill
        ]
        low = [None] * (len(_SLOTS) + 1)
        high = [None] * (len(_SLOTS) + 1)
        low[S_CONTROL] = state["last_control"]
        high[S_PROGRAM] = x.where(state["tracks"] < params["pitched"], DRUM_PROGRAM, DRUM_PROGRAM + 1)
        low[S_TRACK], high[S_TRACK] = track, x.minimum(state["tracks"], first_owed + 1)
        low[S_POSITION], high[S_POSITION] = state["position"], state["bar_length"]
        low[S_PITCH] = x.maximum(state["pitch"], x.take(params["pitch_low"], program) - 1)
        high[S_PITCH] = x.take(params["pitch_high"], program) + 1
        high[S_DURATION] = x.take(params["max_duration"], program) + 1
        # A forced meter: only a TIME_SIGNATURE may come.
        enabled = [item if slot == S_METER else ~forced if item is None else item & ~forced
                   for slot, item in enumerate(enabled)]
        mask = interval_mask(self, state, self.slots, self.ordinals, enabled, low, high)
        allowed = x.take(self.phase_table, phase) & mask
        if self.repeats:  # REPEAT(n): the track played n bars back
            bit = x.bits_below(x.maximum(track, 0) + 1) - x.bits_below(x.maximum(track, 0))
            played = (x.columns(state["history"], self.repeat_column) & bit[:, None]) != 0
            allowed &= ~self.is_repeat | played
        return allowed & (params["allowed"] | state["ended"][:, None])

    def forced(self, state: dict) -> Any:
        """``(batch,)``: the first bar must state its meter (beats timing)."""
        if not self.needs_meter:
            return state["ended"] & False
        return (state["phase"] == BAR) & ~state["meter_set"]

    def drums(self, state: dict) -> Any:
        return self._program(state) == DRUM_PROGRAM

    def rewrite(self, state: dict, tokens: Any, params: dict) -> Any:
        """``tokens`` with a BAR beyond ``bar_limit`` bars (after the prefix; -1: none) turned into EOS."""
        x = self.x
        limit = params["bar_limit"]
        over = (limit >= 0) & (state["bars"] >= limit) & (tokens == self.bar_id)
        end = x.where(state["filling"], x.cast(tokens * 0 + self.fill_end_id, tokens.dtype),
                      x.cast(tokens * 0 + self.eos_id, tokens.dtype))
        return x.where(over & ((state["notes_played"] > 0) | state["filling"]), end, tokens)

    def update(self, state: dict, tokens: Any, params: dict, count_time: Any = True) -> dict:
        x = self.x
        tokens = x.cast(tokens, x.int32)
        kinds, values = x.take(self.kind_of, tokens), x.take(self.value_of, tokens)

        def kind(which: Kind) -> Any:
            return kinds == int(which)

        bar, track, position, pitch = kind(Kind.BAR), kind(Kind.TRACK), kind(Kind.POSITION), kind(Kind.PITCH)
        meter, program, duration = kind(Kind.TIME_SIGNATURE), kind(Kind.PROGRAM), kind(Kind.DURATION)
        chord, repeat = kind(Kind.CHORD), kind(Kind.REPEAT)
        new_bar = bar & (state["phase"] != HEADER)
        slot = x.minimum(state["tracks"], self.slots_count - 1)
        programs = x.put(state["programs"], slot, x.where(program, values, x.pick(state["programs"], slot)))
        counted = x.cast(bar, x.int32) * x.cast(count_time, x.int32)
        rank = x.take(self.control_rank, tokens)
        this_track = x.bits_below(state["track"] + 1) - x.bits_below(state["track"])
        phase = x.take(self.next_phase, tokens)
        phase = x.where((state["phase"] == HARMONY) & position, phase * 0 + HARMONY_POSITION, phase)
        plays = duration | repeat
        harmonic = chord | (position & (state["phase"] == HARMONY))
        changes = self._changes(state, bar, chord, position, values)
        voices = self._voices(state, new_bar, duration & (self._program(state) != DRUM_PROGRAM), values)
        return {
            **changes,
            **voices,
            "harmony": x.where(bar, state["harmony"] * 0, state["harmony"] + x.cast(harmonic, x.int32)),
            "phase": phase,
            "tracks": state["tracks"] + x.cast(program, x.int32),
            "track": x.where(bar, -1, x.where(track, values, state["track"])),
            "position": x.where(track | bar, -1, x.where(position, values,
                                                         x.where(chord, x.maximum(state["position"], 0),
                                                                 state["position"]))),
            "pitch": x.where(position, -1, x.where(pitch, values, state["pitch"])),
            "stack": x.where(position, 0, state["stack"] + x.cast(pitch, x.int32)),
            "bar_length": x.where(meter, x.take(self.meter_length, x.where(meter, values, 0)), state["bar_length"]),
            "beat": x.where(meter, x.take(self.meter_beat, x.where(meter, values, 0)), state["beat"]),
            "reach": x.where(bar, 0, x.where(duration, x.maximum(state["reach"], state["position"] + values),
                                             x.where(repeat, state["bar_length"], state["reach"]))),
            "bars": state["bars"] + counted,
            "bar_number": state["bar_number"] + x.cast(bar, x.int32),  # the prefix's bars too: the piece's own count
            "notes_played": state["notes_played"] + x.cast(duration, x.int32),
            "elapsed": state["elapsed"] + counted,
            "last_control": x.where(rank >= 0, rank, state["last_control"]),
            "heard": x.where(bar, state["heard"] * 0, state["heard"] | x.where(plays, this_track, this_track * 0)),
            "heard_before": x.where(new_bar, state["heard"], state["heard_before"]),
            "history": self._history(state, new_bar),
            "bar_chords": self._bar_chords(state, new_bar),
            "started": state["started"] | kind(Kind.BOS),
            "ended": state["ended"] | kind(Kind.EOS) | kind(Kind.FILL_END) | (kind(Kind.PAD) & (state["phase"] != START)),
            "filling": state["filling"] | kind(Kind.FILL_START),
            "meter_set": state["meter_set"] | meter,
            "programs": programs,
            "drum_tracks": state["drum_tracks"] | x.where(program & (values == DRUM_PROGRAM), x.bits_below(
                state["tracks"] + 1) - x.bits_below(state["tracks"]), state["drum_tracks"] * 0),
        }

    def _voices(self, state: dict, new_bar: Any, note: Any, values: Any) -> dict:
        """Each track's sounding pitches after this token: a pitched note (``note``, its duration
        in ``values``) marks its steps with its pitch (the highest wins); a new bar keeps the last
        step's pitches as ``carried`` and starts empty. A note held over the bar line, and a
        REPEAT's bar, are not marked."""
        x, sounding = self.x, state["sounding"]
        start = x.maximum(state["position"], 0)
        covered = (self.steps[None, :] >= start[:, None]) & (self.steps[None, :] < (start + values)[:, None])
        track = self.slot_index[None, :] == state["track"][:, None]
        mark = note[:, None, None] & track[:, :, None] & covered[:, None, :]
        sounding = x.where(mark, x.maximum(sounding, state["pitch"][:, None, None]), sounding)
        last = x.at_step(sounding, self._step(state["bar_length"] - 1))
        return {"sounding": x.where(new_bar[:, None, None], sounding * 0 - 1, sounding),
                "carried": x.where(new_bar[:, None], last, state["carried"])}

    def voices_now(self, state: dict) -> tuple[Any, Any, Any, Any]:
        x, position = self.x, state["position"]
        before = x.where((position > 0)[:, None], x.at_step(state["sounding"], self._step(position - 1)),
                         state["carried"])
        return before, x.at_step(state["sounding"], self._step(position)), state["track"], self._program(state)

    def _step(self, index: Any) -> Any:
        """``index`` kept to a bar's grid (a step a sounding pitch is read at)."""
        return self.x.minimum(self.x.maximum(index, 0), int(self.steps.shape[0]) - 1)

    def harmony(self, state: dict) -> tuple[Any, Any, Any, Any]:
        """Where the bar's harmony is being written: ``(open, count, bar, tokens)``: whether a harmony
        token may come next, how many the bar has, the bar (counted after the prefix) and, as
        ``(batch, vocab)`` booleans, which tokens would be harmony tokens here."""
        phase = state["phase"]
        open_ = ((phase == BAR) | (phase == METER) | (phase == HARMONY) | (phase == HARMONY_POSITION)) & ~state["filling"]
        tokens = self.is_chord | (self.is_position & (phase == HARMONY)[:, None])
        return open_ & ~self.forced(state), state["harmony"], state["bars"], tokens

    def _changes(self, state: dict, bar: Any, chord: Any, position: Any, values: Any) -> dict:
        """The bar's chord changes after this token, and the chord sounding where a note is placed."""
        x = self.x
        slot = x.minimum(state["changes"], CHANGES - 1)
        at = x.put(state["change_at"], slot, x.maximum(state["position"], 0))
        chords = x.put(state["change_chord"], slot, values)
        at = x.where(chord[:, None], at, state["change_at"])
        chords = x.where(chord[:, None], chords, state["change_chord"])
        at = x.where(bar[:, None], at * 0 + NOWHERE, at)
        chords = x.where(bar[:, None], chords * 0 - 1, chords)
        placed = position & (state["phase"] != HARMONY)
        index = x.count(at <= values[:, None]) - 1
        sounding = x.where(index >= 0, x.pick(chords, x.maximum(index, 0)), index * 0 - 1)
        return {"change_at": at, "change_chord": chords,
                "changes": x.where(bar, state["changes"] * 0, state["changes"] + x.cast(chord, x.int32)),
                "chord": x.where(placed, sounding, x.where(bar, state["chord"] * 0 - 1, state["chord"]))}

    def part_now(self, state: dict) -> tuple[Any, Any, Any]:
        return state["bar_number"], self._program(state), self.same_harmony(state)

    def _harmony_key(self, state: dict) -> Any:
        """One number for the bar's chord changes so far, ``changes * KEYED + first chord`` (-1: none
        stated): what a later bar asks of it (:meth:`same_harmony`, :meth:`loop_now`)."""
        x, changes = self.x, state["changes"]
        return x.where(changes > 0, x.minimum(changes, CHANGES) * KEYED + state["change_chord"][:, 0], changes * 0 - 1)

    def _bar_chords(self, state: dict, new_bar: Any) -> Any:
        """The harmony of each of the last bars, moved on by one where a bar begins."""
        x, kept = self.x, state["bar_chords"]
        if not self.repeats:
            return kept
        return x.where(new_bar[:, None], x.concat([self._harmony_key(state)[:, None], kept[:, :-1]]), kept)

    def loop_now(self, state: dict) -> tuple[Any, Any, Any, Any, Any]:
        x = self.x
        open_, count, _, _ = self.harmony(state)
        kept = state["bar_chords"]
        firsts = x.where(kept >= 0, kept % KEYED, kept * 0 - 1)
        return open_, count, state["bar_number"], firsts, x.where(kept >= 0, kept // KEYED, kept * 0)

    def same_harmony(self, state: dict) -> Any:
        """``(batch, HISTORY)``: column i, whether the bar i + 1 back stated this bar's chords (what chord
        guidance reads before a REPEAT: a part played again under another chord clashes); true
        where either bar states none."""
        key, kept = self._harmony_key(state), state["bar_chords"]
        return (key[:, None] < 0) | (kept < 0) | (kept % KEYED == (key % KEYED)[:, None])

    def harmony_now(self, state: dict) -> tuple[Any, Any, Any]:
        """The chord sounding where the current track's notes are placed (-1: none stated), the
        track's program and :meth:`same_harmony`: what chord guidance reads."""
        return state["chord"], self._program(state), self.same_harmony(state)

    def held_now(self, state: dict) -> tuple[Any, Any, Any, Any, Any, Any]:
        return (state["pitch"], state["position"], state["bar_length"], state["bars"], state["change_at"],
                state["change_chord"])

    def _history(self, state: dict, new_bar: Any) -> Any:
        """The tracks that played in each of the last bars, moved on by one where a bar begins."""
        x, history = self.x, state["history"]
        if not self.repeats:
            return history
        moved = x.concat([state["heard"][:, None], history[:, :-1]])
        return x.where(new_bar[:, None], moved, history)

    def closing_tokens(self, state: dict) -> list[int]:
        """The rest of an unfinished note or chord change, then EOS (FILL_END in an infill)."""
        tokenizer = self.tokenizer
        phase, filling = int(state["phase"][0]), bool(state["filling"][0])
        tokens: list[int] = []
        if phase == HARMONY_POSITION:
            tokens.append(tokenizer.id_of(Kind.CHORD, -1))
        notes = int(state["notes_played"][0])
        if phase == PITCH and self.velocity:
            tokens.append(tokenizer.offset(Kind.VELOCITY) + tokenizer.config.velocity_bins // 2)
        if phase in (PITCH, VELOCITY):
            tokens.append(tokenizer.offset(Kind.DURATION))
            notes += 1
        if filling and phase != ENDED:
            tokens.append(self.fill_end_id)
        elif notes and phase != ENDED:
            tokens.append(self.eos_id)
        return tokens
