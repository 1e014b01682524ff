"""Which tokens may come next: each encoding's grammar, written once, run in NumPy and in TensorFlow.

An encoding's grammar is one :class:`Rules` subclass: its state (a dict of ``(batch, ...)``
arrays), what may come next from it (:meth:`Rules.allowed`) and how a token changes it
(:meth:`Rules.update`), written once against :class:`Ops`, a handful of array operations
that :class:`NumpyOps` and :class:`TensorOps` both provide. So the same rules are:

- the pure-Python :class:`Checker` (one sequence, batch of one, in NumPy): tests, the guided
  sampler behind infilling and accompaniment, and closing sampled sequences;
- the :class:`Masker` (a batch, in TensorFlow): the compiled sampler and beam search.

A rule cannot hold in one and not the other, and ``generate``, ``infill`` and ``accompany``
sample under the same rules.

What a sampler may choose also depends on the run, and those figures are *inputs* of the
rules, not part of them (:meth:`Rules.params`): what the training data had
(:class:`Constraints`: tokens seen, most tracks, each program's longest note, pitch range and
largest stack of notes at one onset), a bar limit, whether each track must play in every two
bars, and whether bars are being sampled (a sampled bar must be full). A compiled loop takes
them as tensors, so a new set of instruments does not recompile it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from musicgen.music.instruments import PROGRAM_COUNT
from musicgen.tokens.config import Kind

UNBOUNDED = 1 << 30  # an interval bound that admits every value


class NumpyOps:
    """The array operations rules are written in, for NumPy arrays (the :class:`Checker`)."""

    int32, int64, bool = np.int32, np.int64, np.bool_

    def const(self, array: Any, dtype: Any = None) -> np.ndarray:
        return np.asarray(array, dtype)

    def where(self, condition: Any, a: Any, b: Any) -> np.ndarray:
        return np.where(condition, a, b)

    def take(self, table: Any, index: Any) -> np.ndarray:
        """``table[index]`` along the first axis."""
        return np.asarray(table)[index]

    def columns(self, rows: Any, index: Any) -> np.ndarray:
        """``rows[:, index]``: per-row tables read at each of ``index``."""
        return rows[:, index]

    def pick(self, rows: Any, index: Any) -> np.ndarray:
        """``rows[b, index[b]]`` for each row ``b``."""
        return rows[np.arange(len(index)), index]

    def put(self, rows: Any, index: Any, value: Any) -> np.ndarray:
        """``rows`` with ``rows[b, index[b]] = value[b]``."""
        rows = rows.copy()
        rows[np.arange(len(index)), index] = value
        return rows

    def pick2(self, cube: Any, first: Any, second: Any) -> np.ndarray:
        return cube[np.arange(len(first)), first, second]

    def put2(self, cube: Any, first: Any, second: Any, value: Any) -> np.ndarray:
        cube = cube.copy()
        cube[np.arange(len(first)), first, second] = value
        return cube

    def at_step(self, cube: Any, index: Any) -> np.ndarray:
        """``cube[b, :, index[b]]`` for each row ``b``."""
        return cube[np.arange(len(index)), :, index]

    def stack(self, items: list) -> np.ndarray:
        return np.stack(items, axis=1)

    def concat(self, items: list) -> np.ndarray:
        """Arrays joined along their second axis."""
        return np.concatenate(items, axis=1)

    def full(self, batch: Any, value: Any, dtype: Any, *dims: int) -> np.ndarray:
        """A ``(batch, *dims)`` array of ``value``."""
        return np.full((int(batch), *dims), value, dtype)

    def one_hot(self, index: Any, depth: int) -> np.ndarray:
        """``(batch, depth)`` booleans, true at each row's ``index``."""
        return np.arange(depth)[None, :] == np.asarray(index)[:, None]

    def cast(self, array: Any, dtype: Any) -> np.ndarray:
        return np.asarray(array).astype(dtype)

    def minimum(self, a: Any, b: Any) -> np.ndarray:
        return np.minimum(a, b)

    def maximum(self, a: Any, b: Any) -> np.ndarray:
        return np.maximum(a, b)

    def count(self, flags: Any) -> np.ndarray:
        """Per row, the true entries of ``(batch, n, ...)`` booleans along the second axis."""
        return np.count_nonzero(flags, axis=1).astype(np.int32)

    def bits_below(self, count: Any) -> np.ndarray:
        """int64 ``2**count - 1`` (all bits from 63 on)."""
        count = np.asarray(count, np.int64)
        return np.where(count >= 63, np.int64(-1), (np.int64(1) << np.clip(count, 0, 62)) - 1)

    def lowest_bit(self, bits: Any) -> np.ndarray:
        """The index of each row's lowest set bit (64 where none is set)."""
        bits = np.asarray(bits, np.int64)
        low = (bits & -bits).astype(np.float64)
        return np.where(bits == 0, 64, np.round(np.log2(np.maximum(np.abs(low), 1.0)))).astype(np.int32)


class TensorOps:
    """The same operations on TensorFlow tensors (the :class:`Masker` and the compiled loops)."""

    def __init__(self) -> None:
        import tensorflow as tf

        self.tf = tf
        self.int32, self.int64, self.bool = tf.int32, tf.int64, tf.bool

    def const(self, array: Any, dtype: Any = None) -> Any:
        return self.tf.constant(np.asarray(array), dtype)

    def where(self, condition: Any, a: Any, b: Any) -> Any:
        return self.tf.where(condition, a, b)

    def take(self, table: Any, index: Any) -> Any:
        return self.tf.gather(table, index)

    def columns(self, rows: Any, index: Any) -> Any:
        return self.tf.gather(rows, index, axis=1)

    def pick(self, rows: Any, index: Any) -> Any:
        return self.tf.gather(rows, index, batch_dims=1)

    def put(self, rows: Any, index: Any, value: Any) -> Any:
        tf = self.tf
        where = tf.stack([tf.range(tf.shape(index)[0], dtype=index.dtype), index], axis=1)
        return tf.tensor_scatter_nd_update(rows, where, value)

    def pick2(self, cube: Any, first: Any, second: Any) -> Any:
        tf = self.tf
        return tf.gather_nd(cube, tf.stack([tf.range(tf.shape(first)[0], dtype=first.dtype), first, second], axis=1))

    def put2(self, cube: Any, first: Any, second: Any, value: Any) -> Any:
        tf = self.tf
        where = tf.stack([tf.range(tf.shape(first)[0], dtype=first.dtype), first, second], axis=1)
        return tf.tensor_scatter_nd_update(cube, where, value)

    def at_step(self, cube: Any, index: Any) -> Any:
        return self.tf.gather(cube, index, axis=2, batch_dims=1)

    def stack(self, items: list) -> Any:
        return self.tf.stack(items, axis=1)

    def concat(self, items: list) -> Any:
        return self.tf.concat(items, axis=1)

    def full(self, batch: Any, value: Any, dtype: Any, *dims: int) -> Any:
        tf = self.tf
        shape = tf.concat([tf.reshape(tf.cast(batch, tf.int32), [1]), tf.constant(dims, tf.int32)], 0)
        return tf.fill(shape, tf.constant(value, dtype))

    def one_hot(self, index: Any, depth: int) -> Any:
        return self.tf.one_hot(index, depth, on_value=True, off_value=False)

    def cast(self, array: Any, dtype: Any) -> Any:
        return self.tf.cast(array, dtype)

    def minimum(self, a: Any, b: Any) -> Any:
        return self.tf.minimum(a, b)

    def maximum(self, a: Any, b: Any) -> Any:
        return self.tf.maximum(a, b)

    def count(self, flags: Any) -> Any:
        return self.tf.reduce_sum(self.tf.cast(flags, self.tf.int32), axis=1)

    def bits_below(self, count: Any) -> Any:
        tf = self.tf
        count = tf.cast(count, tf.int64)
        return tf.where(count >= 63, tf.constant(-1, tf.int64),
                        tf.bitwise.left_shift(tf.constant(1, tf.int64), tf.clip_by_value(count, 0, 62)) - 1)

    def lowest_bit(self, bits: Any) -> Any:
        tf = self.tf
        bits = tf.cast(bits, tf.int64)
        low = tf.abs(tf.cast(bits & -bits, tf.float64))
        index = tf.round(tf.math.log(tf.maximum(low, 1.0)) / np.log(2.0))
        return tf.where(bits == 0, 64, tf.cast(index, tf.int32))


@dataclass(frozen=True)
class Constraints:
    """What training pieces had, and what their instruments can play: the tokens seen, the most
    tracks (instruments) in one piece, and per program (129 rows, drums last) the longest note
    in steps, the ``(lowest, highest)`` pitch and the most notes a track starts at one onset
    (its largest *stack*; ``None``: no limit). ``pitched``: a new piece opens with at least this many
    tracks, each a pitched instrument (a piece asked to play chords is never drums alone);
    ``one_meter``: once a meter is stated, no bar states another (a new piece keeps its meter)."""

    allowed: np.ndarray | None = None
    max_tracks: int | None = None
    max_durations: np.ndarray | None = None
    pitch_ranges: np.ndarray | None = None
    max_stacks: np.ndarray | None = None
    pitched: int = 0
    one_meter: bool = False

    def sampleable(self, kinds: np.ndarray) -> np.ndarray:
        """Booleans over the vocabulary (of per-id ``kinds``): the tokens a sampler may ever
        choose. Those the training data had, PAD and EOS (the grammar decides those), and never
        a fill-in-the-middle marker: those are only ever given (:mod:`musicgen.generation.infill`)."""
        kinds = np.asarray(kinds)
        allowed = np.ones(len(kinds), bool) if self.allowed is None else np.asarray(self.allowed, bool).copy()
        allowed[np.isin(kinds, [int(Kind.PAD), int(Kind.EOS)])] = True
        allowed[np.isin(kinds, [int(Kind.FILL), int(Kind.FILL_START), int(Kind.FILL_END)])] = False
        return allowed


class Rules:
    """An encoding's grammar, written once against ``self.x`` (an :class:`Ops`).

    A subclass sets up its tables in :meth:`setup` (NumPy arrays; :meth:`const` turns them into
    the backend's constants) and implements :meth:`initial_state`, :meth:`allowed` and
    :meth:`update`; :meth:`rewrite`, :meth:`forced`, :meth:`drums` and :meth:`closing_tokens`
    have defaults for an encoding without bars or tracks. The state holds at least the
    ``(batch,)`` booleans ``started`` and ``ended`` and the int32 ``elapsed`` (what counts
    against a limit: grid steps, or bars).
    """

    def __init__(self, tokenizer: Any, ops: Any) -> None:
        self.tokenizer = tokenizer
        self.x = ops
        self.kinds = np.asarray(tokenizer.kinds, np.int64)
        self.values = np.asarray(tokenizer.values, np.int64)
        self.vocab_size = len(self.kinds)
        self.pad_id, self.bos_id, self.eos_id = tokenizer.pad_id, tokenizer.bos_id, tokenizer.eos_id
        self.setup()

    def setup(self) -> None:
        """Build the tables the rules read."""

    def const(self, array: Any, dtype: Any = None) -> Any:
        return self.x.const(array, dtype)

    def is_kind(self, *kinds: Kind) -> np.ndarray:
        """Booleans over the vocabulary: the ids of ``kinds``."""
        return np.isin(self.kinds, [int(kind) for kind in kinds])

    # ------------------------------------------------------------ the rules
    def initial_state(self, batch: Any) -> dict:
        raise NotImplementedError

    def allowed(self, state: dict, params: dict) -> Any:
        """``(batch, vocab)`` booleans: the tokens that may come next (``params``: :meth:`params`)."""
        raise NotImplementedError

    def update(self, state: dict, tokens: Any, params: dict, count_time: Any = True) -> dict:
        """The state after ``tokens`` (``(batch,)`` int32); ``count_time`` false feeds a prefix
        without counting it against the limits."""
        raise NotImplementedError

    def rewrite(self, state: dict, tokens: Any, params: dict) -> Any:
        """Sampled ``tokens`` as the run's limits want them (a bar past the limit becomes the end)."""
        return tokens

    def forced(self, state: dict) -> Any:
        """``(batch,)``: the grammar, not the model, decides the next token's kind."""
        return state["ended"] & False

    def drums(self, state: dict) -> Any:
        """``(batch,)``: the next token belongs to a drum track."""
        return state["ended"] & False

    def closing_tokens(self, state: dict) -> list[int]:
        """The tokens that end the (one-row, NumPy) sequence of ``state`` cleanly."""
        return [] if state["ended"][0] else [self.eos_id]

    def harmony(self, state: dict) -> tuple[Any, Any, Any, Any] | None:
        """Where a bar's chords are written, for a chord plan (None: this encoding writes none);
        see :meth:`musicgen.tokens.notes_grammar.NoteRules.harmony`."""
        return None

    def harmony_now(self, state: dict) -> tuple[Any, Any, Any] | None:
        """The chord sounding at the next note, its track's program and, per REPEAT distance,
        whether that bar had this bar's chords (None: no chords here)."""
        return None

    def part_now(self, state: dict) -> tuple[Any, Any, Any] | None:
        """The bar of the piece (1 in the first, a prompt's or primer's bars counted), the program of
        the track the next token belongs to, and ``(batch, bars back)`` whether each bar before
        stated this bar's chords (true where either states none; None: this encoding has no bars
        and tracks)."""
        return None

    def loop_now(self, state: dict) -> tuple[Any, Any, Any, Any, Any] | None:
        """Where a bar's harmony is written (what a returning progression reads): ``(open, count,
        bar, firsts, changes)``: whether a harmony token may come next, how many the bar has, the
        bar (1 in the first) and, ``(batch, bars kept)``, the first chord (-1: none) and the number
        of chord changes of each bar before, the last bar first (None: this encoding has no chords)."""
        return None

    def voices_now(self, state: dict) -> tuple[Any, Any, Any, Any] | None:
        """Where the next note's voice stands among the others (what voice leading reads):
        ``(before, after, track, program)``: ``(batch, tracks)`` the top pitch each track sounds
        just before the current position and at it (-1: none, or not yet written), the current
        track and its program (None: this encoding has no bars and tracks)."""
        return None

    def held_now(self, state: dict) -> tuple[Any, Any, Any, Any, Any, Any] | None:
        """Where the next note's length would carry it (what held-note guidance reads): ``(pitch,
        position, bar_length, bar, change_at, change_chord)``: its pitch and onset, the bar's length
        and count, and ``(batch, changes)`` the bar's chord changes (None: no chords here)."""
        return None

    # ------------------------------------------------------------- the run
    def params(self, constraints: Constraints | None = None, bar_limit: int = -1, every_track: bool = False,
               sampling: bool = False) -> dict:
        """The run's figures as the rules read them (NumPy; a compiled loop takes them as tensors).

        ``constraints`` (default: none) bound what may be sampled; ``bar_limit`` bars may be
        written after the prefix (-1: any); ``every_track`` asks each track to play in every
        two bars (a drum track in every bar); ``sampling`` says the bars are being sampled (each must be full).
        """
        constraints = constraints or Constraints()
        unbounded = np.full(PROGRAM_COUNT, UNBOUNDED, np.int32)
        ranges = (np.asarray(constraints.pitch_ranges, np.int64) if constraints.pitch_ranges is not None
                  else np.array([[0, 127]] * PROGRAM_COUNT, np.int64))
        return {
            "allowed": constraints.sampleable(self.kinds) if sampling or constraints.allowed is not None
            else np.ones(self.vocab_size, bool),
            "max_tracks": np.int32(min(int(constraints.max_tracks or UNBOUNDED), UNBOUNDED)),
            "max_duration": (np.minimum(np.asarray(constraints.max_durations, np.int64), UNBOUNDED).astype(np.int32)
                             if constraints.max_durations is not None else unbounded),
            "pitch_low": ranges[:, 0].astype(np.int32),
            "pitch_high": ranges[:, 1].astype(np.int32),
            "max_stack": (np.asarray(constraints.max_stacks, np.int32) if constraints.max_stacks is not None
                          else np.full(PROGRAM_COUNT, 128, np.int32)),
            "bar_limit": np.int32(bar_limit),
            "every_track": np.bool_(every_track),
            "sampling": np.bool_(sampling),
            "pitched": np.int32(constraints.pitched),
            "one_meter": np.bool_(constraints.one_meter),
        }

    def tensor_params(self, params: dict) -> dict:
        """``params`` as the backend's constants."""
        return {name: self.const(value) for name, value in params.items()}


class Checker:
    """One sequence, fed token by token, under an encoding's :class:`Rules` in NumPy."""

    def __init__(self, rules: Rules, params: dict) -> None:
        self.rules, self.params = rules, params
        self.state = rules.initial_state(1)
        self.tables = rules

    @property
    def started(self) -> bool:
        return bool(self.state["started"][0])

    @property
    def ended(self) -> bool:
        return bool(self.state["ended"][0])

    @property
    def forced(self) -> bool:
        """The grammar, not the model, decides the next token's kind."""
        return bool(self.rules.forced(self.state)[0])

    def value(self, name: str) -> int:
        """A field of the state (``"track"``, ``"stack"``, ...)."""
        return int(self.state[name][0])

    def allowed_mask(self) -> np.ndarray:
        """What may come next, as booleans over the vocabulary."""
        return np.asarray(self.rules.allowed(self.state, self.params))[0]

    def allowed(self, token: int) -> bool:
        """Whether ``token`` may come next."""
        return bool(self.allowed_mask()[int(token)])

    def feed(self, token: int, check: bool = True) -> None:
        """Advance past ``token``; ``ValueError`` naming it when it is not allowed here (unless not
        ``check``: a token given from a file, which the training data's limits do not bind)."""
        token = int(token)
        if check and not (0 <= token < self.rules.vocab_size and self.allowed(token)):
            name = self.rules.tokenizer.token_name(token)
            raise ValueError(f"token {token} ({name}) is not allowed here")
        self.state = self.rules.update(self.state, np.array([token], np.int64), self.params)

    def closing_tokens(self) -> list[int]:
        """The tokens that end the sequence cleanly from here."""
        return self.rules.closing_tokens(self.state)


class Masker:
    """A batch of sequences under an encoding's :class:`Rules` in TensorFlow, for compiled loops:
    the rules' methods with the run's ``params`` (tensors) passed in."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.tables = rules

    def params(self, **figures: Any) -> dict:
        """:meth:`Rules.params` as tensors."""
        return self.rules.tensor_params(self.rules.params(**figures))

    def initial_state(self, batch: Any) -> dict:
        return self.rules.initial_state(batch)

    def allowed(self, state: dict, params: dict) -> Any:
        return self.rules.allowed(state, params)

    def update(self, state: dict, tokens: Any, params: dict, count_time: Any = True) -> dict:
        return self.rules.update(state, tokens, params, count_time)

    def rewrite(self, state: dict, tokens: Any, params: dict) -> Any:
        return self.rules.rewrite(state, tokens, params)

    def forced(self, state: dict) -> Any:
        return self.rules.forced(state)

    def drums(self, state: dict) -> Any:
        return self.rules.drums(state)

    def harmony(self, state: dict) -> tuple[Any, Any, Any, Any] | None:
        return self.rules.harmony(state)



@dataclass(frozen=True)
class Grammar:
    """An encoding's grammar: its :class:`Rules` class, for a tokenizer, with default constraints."""

    tokenizer: Any
    rules_class: type
    constraints: Constraints | None = None

    @property
    def tables(self) -> Rules:
        """The rules' tables (ids, kinds, values), in NumPy."""
        return self.numpy_rules()

    def numpy_rules(self) -> Rules:
        cache = self.tokenizer.__dict__.setdefault("_numpy_rules", {})
        if self.rules_class not in cache:
            cache[self.rules_class] = self.rules_class(self.tokenizer, NumpyOps())
        return cache[self.rules_class]

    def checker(self, constraints: Constraints | None = None, **figures: Any) -> Checker:
        """A :class:`Checker` (``constraints`` default to the grammar's; ``figures``: see :meth:`Rules.params`)."""
        rules = self.numpy_rules()
        return Checker(rules, rules.params(constraints or self.constraints, **figures))

    def masker(self) -> Masker:
        return Masker(self.rules_class(self.tokenizer, TensorOps()))


def check_tokens(tokens: np.ndarray, grammar: Grammar) -> Checker:
    """Run a whole sequence (BOS first, PAD after EOS allowed) through a checker; return it."""
    checker = grammar.checker()
    for token in np.asarray(tokens).tolist():
        checker.feed(int(token))
    return checker


def interval_mask(rules: Rules, state: dict, slots: Any, ordinals: Any, enabled: list, low: list,
                  high: list) -> Any:
    """``(batch, vocab)`` booleans from per-slot rules: token ``t`` (in rule slot ``slots[t]``) is
    allowed where its slot is enabled and ``low < ordinals[t] < high`` for its slot's bounds.

    ``enabled``, ``low`` and ``high`` hold one ``(batch,)`` array per slot (``None``: always,
    no bound), so a grammar states each kind's rule once and the mask costs three gathers.
    """
    x = rules.x
    zero = x.cast(state["ended"], x.int32) * 0
    true = zero == 0
    on = x.stack([true if item is None else item for item in enabled])
    lows = x.stack([zero - UNBOUNDED if item is None else x.cast(item, x.int32) for item in low])
    highs = x.stack([zero + UNBOUNDED if item is None else x.cast(item, x.int32) for item in high])
    return x.columns(on, slots) & (ordinals > x.columns(lows, slots)) & (ordinals < x.columns(highs, slots))
