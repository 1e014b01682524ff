"""Logits processors: each change to the next token's logits is one small class, and they chain.

Every way musicgen picks a token (the compiled sampler, beam search, and the guided sampler
behind infilling and accompaniment) runs the model's logits through a
:class:`LogitsProcessorList`, after ``transformers``' ``generation/logits_process.py``:

- :class:`Temperature` divides the logits (sharper below 1, flatter above);
- :class:`GrammarMask` removes what may not come next (the encoding's grammar, the training
  data's constraints, the caller's own limits): those logits become ``-inf``;
- :class:`PitchBias` adds a bias per token on pitched tracks (key guidance, see
  :func:`musicgen.generation.steering.key_bias`);
- :class:`TopK` and :class:`TopP` keep the ``k`` most likely tokens, or the smallest set of
  probability ``p``;
- :class:`BestWhereUnsure` keeps only the best token on rows where the grammar forced a choice
  the model did not expect to make (a meter it never meant to state: see :func:`unsure_rows`).

A processor is ``processor(logits, context) -> logits`` in TensorFlow ops on ``(batch,
vocab)`` float32 logits, so a chain runs inside ``tf.function``, ``tf.while_loop`` and XLA;
:class:`StepContext` carries what a processor reads besides the logits. Then
:func:`draw` picks a token (an exact categorical sample by the Gumbel-max trick, seeded per
step) or :func:`greedy` the most likely one, and :func:`masked_mass` measures what the mask
removed from the model's own distribution.

Example::

    chain = LogitsProcessorList([Temperature(0.9), GrammarMask(), TopP(0.95)])
    token = draw(chain(logits, StepContext(allowed)), seed=tf.constant([7, 0], tf.int64))
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf


@dataclass
class StepContext:
    """What the processors of one step may read besides the logits.

    ``allowed`` is ``(batch, vocab)`` booleans (the grammar's and the caller's limits);
    ``drums`` is ``(batch,)`` booleans, true where the token to come belongs to a drum track;
    ``unsure`` is ``(batch,)`` booleans, true where the model's choice is only its ranking;
    ``state`` is the grammar's state and ``masker`` its rules (what a plan reads of where the
    sequence is); ``inputs`` holds each extra processor's tensors by its name.
    """

    allowed: Any
    drums: Any = None
    unsure: Any = None
    state: Any = None
    masker: Any = None
    inputs: Any = None


class LogitsProcessor:
    """One transform of the logits; subclasses implement :meth:`__call__`."""

    def __call__(self, logits: Any, context: StepContext) -> Any:
        raise NotImplementedError

    def shifted(self, bars: int) -> LogitsProcessor:
        """The processor for a run whose prefix holds ``bars`` more bars (a form's later section):
        itself, but where it counts bars from the prefix's end."""
        return self


class LogitsProcessorList(list):
    """Processors applied in order: ``chain(logits, context)``."""

    def __call__(self, logits: Any, context: StepContext) -> Any:
        for processor in self:
            logits = processor(logits, context)
        return logits


class Temperature(LogitsProcessor):
    """``logits / temperature`` (a positive number or scalar tensor; 0 is greedy: use :func:`greedy`)."""

    def __init__(self, temperature: Any) -> None:
        self.temperature = temperature

    def __call__(self, logits: Any, context: StepContext) -> Any:
        return logits / self.temperature


class GrammarMask(LogitsProcessor):
    """``-inf`` wherever ``context.allowed`` is false."""

    def __call__(self, logits: Any, context: StepContext) -> Any:
        return tf.where(context.allowed, logits, -np.inf)


class PitchBias(LogitsProcessor):
    """``bias`` (one value per token) added on rows whose track is not a drum track."""

    def __init__(self, bias: Any) -> None:
        self.bias = bias

    def __call__(self, logits: Any, context: StepContext) -> Any:
        bias = tf.cast(self.bias, logits.dtype)[tf.newaxis, :]
        if context.drums is None:
            return logits + bias
        return logits + tf.where(context.drums[:, tf.newaxis], tf.zeros_like(bias), bias)


class TopK(LogitsProcessor):
    """Only the ``k`` largest logits of each row stay (ties at the ``k``-th all stay)."""

    def __init__(self, k: Any) -> None:
        self.k = k

    def __call__(self, logits: Any, context: StepContext) -> Any:
        k = tf.minimum(tf.cast(self.k, tf.int32), tf.shape(logits)[-1])
        kth = tf.gather(tf.sort(logits, axis=-1, direction="DESCENDING"), [k - 1], axis=1)
        return tf.where(logits >= kth, logits, -np.inf)


class TopP(LogitsProcessor):
    """The nucleus: the most likely tokens whose probability, before each, is under ``p``."""

    def __init__(self, p: Any) -> None:
        self.p = p

    def __call__(self, logits: Any, context: StepContext) -> Any:
        ranked = tf.sort(logits, axis=-1, direction="DESCENDING")
        before = tf.math.cumsum(tf.nn.softmax(ranked), axis=-1, exclusive=True)
        smallest = tf.reduce_min(tf.where(before < tf.cast(self.p, before.dtype), ranked, np.inf), -1, keepdims=True)
        return tf.where(logits >= smallest, logits, -np.inf)


class BestWhereUnsure(LogitsProcessor):
    """On ``context.unsure`` rows only the largest logit stays: where the grammar forces a choice
    (a meter) that the model gave almost no probability, its ranking is all it says, and a draw
    from the rest of its tail would be noise."""

    def __call__(self, logits: Any, context: StepContext) -> Any:
        if context.unsure is None:
            return logits
        best = tf.reduce_max(logits, axis=-1, keepdims=True)
        return tf.where(context.unsure[:, tf.newaxis] & (logits < best), -np.inf, logits)


class ChordPlan(LogitsProcessor):
    """The chords of each bar as given (``--chords``): where the grammar opens a bar's harmony, the
    plan's next harmony token is the only choice, and once the bar's plan is written no other
    harmony token may come. ``plan`` is :meth:`Tokenizer.chord_plan`'s ``(bars, tokens)`` array,
    cycled; ``first`` is the grammar's bar count at the plan's first bar. Its numbers are the
    compiled loop's inputs, so another progression compiles nothing new."""

    name = "chord_plan"

    def __init__(self, plan: np.ndarray, first: int = 0) -> None:
        self.plan, self.first = np.asarray(plan, np.int32), int(first)

    def inputs(self) -> dict[str, np.ndarray]:
        return {"plan": self.plan, "first": np.int32(self.first)}

    def shifted(self, bars: int) -> ChordPlan:
        return ChordPlan(self.plan, self.first - bars)

    def __call__(self, logits: Any, context: StepContext) -> Any:
        harmony = context.masker.harmony(context.state)
        if harmony is None:
            return logits
        open_, count, bar, tokens = harmony
        plan, first = context.inputs[self.name]["plan"], context.inputs[self.name]["first"]
        rows, width = tf.shape(plan)[0], tf.shape(plan)[1]
        index = tf.stack([tf.math.floormod(tf.maximum(bar - first, 0), rows), tf.minimum(count, width - 1)], axis=1)
        wanted = tf.where(count < width, tf.gather_nd(plan, index), -1)
        chosen = tf.one_hot(tf.maximum(wanted, 0), tf.shape(logits)[-1], on_value=True, off_value=False)
        force = open_ & (wanted >= 0) & tf.reduce_any(chosen & context.allowed, axis=-1)
        done = open_ & (wanted < 0)
        logits = tf.where(force[:, tf.newaxis] & ~chosen, -np.inf, logits)
        return tf.where(done[:, tf.newaxis] & tokens, -np.inf, logits)


class Guidance(LogitsProcessor):
    """A pull on the logits that depends on where the sequence is: :meth:`reads` takes what it
    needs of the grammar's state, :meth:`bias` turns it into ``(batch, vocab)`` additions with the
    array operations ``x`` of the rules (:mod:`musicgen.tokens.grammar`), so the compiled sampler
    and the token-by-token one (infill, accompaniment) add the same numbers. Its tables are the
    compiled loop's inputs."""

    name = "guidance"
    tables: dict[str, np.ndarray]

    def inputs(self) -> dict[str, np.ndarray]:
        return self.tables

    def reads(self, rules: Any, state: dict) -> Any:
        raise NotImplementedError

    def bias(self, tables: dict, now: Any, drums: Any, x: Any) -> Any:
        raise NotImplementedError

    def __call__(self, logits: Any, context: StepContext) -> Any:
        rules = context.masker.rules
        now = self.reads(rules, context.state)
        if now is None:
            return logits
        drums = context.drums if context.drums is not None else rules.drums(context.state)
        bias = self.bias(context.inputs[self.name], now, drums, rules.x)
        return logits + tf.cast(bias, logits.dtype)


class ChordGuidance(Guidance):
    """The chord sounding where a note is placed pulls the note's pitch: each pitched track's pitch
    logits get the row of ``chord`` (``(chords + 1, vocab)``, row 0 for no chord) of the chord the
    grammar says is sounding, and a bass instrument's (``bass``, per program) also gets its row of
    ``root`` (the root and fifth, in the bass's register); a "this part again" token (``again``,
    its penalty, and ``distance``, its column of the grammar's bar history) gets its penalty where
    that bar's chords are not this bar's; drums get nothing
    (:func:`musicgen.generation.steering.chord_guidance` builds the tables)."""

    name = "chord_guidance"

    def __init__(self, chord: np.ndarray, root: np.ndarray, bass: np.ndarray, again: np.ndarray,
                 distance: np.ndarray) -> None:
        self.tables = {"chord": np.asarray(chord, np.float32), "root": np.asarray(root, np.float32),
                       "bass": np.asarray(bass, bool), "again": np.asarray(again, np.float32),
                       "distance": np.asarray(distance, np.int32)}

    def reads(self, rules: Any, state: dict) -> Any:
        return rules.harmony_now(state)

    def bias(self, tables: dict, now: Any, drums: Any, x: Any) -> Any:
        chord, program, same = now
        row = chord + 1
        bias = x.take(tables["chord"], row) + x.where(x.take(tables["bass"], program)[:, None],
                                                      x.take(tables["root"], row), 0.0)
        # A part played again from a bar under other chords would sound those chords here.
        bias = bias + x.where(x.columns(same, tables["distance"]), 0.0, tables["again"][None, :])
        return x.where(drums[:, None], 0.0, bias)


class HeldNotes(Guidance):
    """A note not held into a chord it is no tone of: at a note's length, each length that would
    carry it past a chord change of its bar (the bar's harmony is written before its notes) or
    over the bar line into the next bar's chord, where that chord lacks the note's pitch class,
    gets ``strength`` less. ``length`` is each token's length in steps (-1: not a length);
    ``tones``, ``(chords + 1, 12)``, whether each pitch class is a tone of each chord (row 0: no
    chord, every class; kept flat); ``starts`` the chord each bar begins with (-1: not known),
    cycled as a chord plan's from the grammar's bar ``first``. Drums get nothing
    (:func:`musicgen.generation.steering.held_notes` builds the tables)."""

    name = "held_notes"
    UNBOUNDED = 1 << 20  # a reach beyond any note's length

    def __init__(self, length: np.ndarray, tones: np.ndarray, starts: np.ndarray, first: int, strength: float) -> None:
        self.tables = {"length": np.asarray(length, np.int32), "tones": np.asarray(tones, bool).reshape(-1),
                       "starts": np.asarray(starts, np.int32), "first": np.array([first, len(starts)], np.int32),
                       "strength": np.float32(strength)}

    def shifted(self, bars: int) -> HeldNotes:
        shifted = copy.copy(self)
        shifted.tables = {**self.tables, "first": self.tables["first"] - np.array([bars, 0], np.int32)}
        return shifted

    def reads(self, rules: Any, state: dict) -> Any:
        return rules.held_now(state)

    def bias(self, tables: dict, now: Any, drums: Any, x: Any) -> Any:
        pitch, position, bar_length, bar, change_at, change_chord = now
        pitch_class, length, tones = x.maximum(pitch, 0) % 12, tables["length"], tables["tones"]
        first, rows = tables["first"][0], tables["first"][1]
        following = x.take(tables["starts"], x.maximum(bar + 1 - first, 0) % rows)
        # How far the note may sound: to the bar line where the next bar's chord lacks it, else on,
        # but never past a later change of its bar to a chord that lacks it.
        reach = x.where(x.take(tones, (following + 1) * 12 + pitch_class), bar_length * 0 + self.UNBOUNDED, bar_length)
        lacking = ~x.take(tones, (x.maximum(change_chord, -1) + 1) * 12 + pitch_class[:, None])
        for slot in range(int(change_at.shape[1])):
            clash = lacking[:, slot] & (change_at[:, slot] > position)
            reach = x.minimum(reach, x.where(clash, change_at[:, slot], reach))
        bad = (position[:, None] + length[None, :] > reach[:, None]) & (length >= 0)[None, :]
        bad = bad & ((pitch >= 0) & ~drums)[:, None]
        return x.where(bad, -tables["strength"], 0.0 * tables["strength"])


class VoiceLeading(Guidance):
    """Voices that keep their independence: where another track moves, at the current position,
    from a perfect fifth or octave (unison, compound, above or below) with this track's last pitch,
    the pitches that would move this track the same way into the same interval (consecutive fifths
    and octaves, :func:`musicgen.evaluation.music_figures.parallel_motion`) get ``strength`` less.
    A bass instrument keeps its roots (``bass``, per program); drums get nothing
    (:func:`musicgen.generation.steering.voice_leading` builds the tables)."""

    name = "voice_leading"

    def __init__(self, pitch: np.ndarray, bass: np.ndarray, strength: float) -> None:
        self.tables = {"pitch": np.asarray(pitch, np.int32), "bass": np.asarray(bass, bool),
                       "strength": np.float32(strength)}

    def reads(self, rules: Any, state: dict) -> Any:
        return rules.voices_now(state)

    def bias(self, tables: dict, now: Any, drums: Any, x: Any) -> Any:
        before, after, track, program = now
        pitch = tables["pitch"][None, None, :]  # -1: not a pitch token
        own = x.pick(before, x.maximum(track, 0))[:, None, None]
        low, high = before[:, :, None], after[:, :, None]
        interval = x.maximum(own - low, low - own) % 12  # a fifth or octave, above or below, compound or not
        moves = (low >= 0) & (high >= 0) & (low != high) & (own >= 0) & ((interval == 0) | (interval == 7))
        other = x.const(np.arange(before.shape[1], dtype=np.int32))[None, :, None] != track[:, None, None]
        parallel = (x.maximum(pitch - high, high - pitch) % 12 == interval) & ((pitch > own) == (high > low)) & (
            pitch != own)
        bad = moves & other & parallel & (pitch >= 0)
        penalty = x.where(x.count(bad) > 0, -tables["strength"], 0.0 * tables["strength"])
        return x.where((drums | x.take(tables["bass"], program))[:, None], 0.0 * penalty, penalty)


class HarmonyLoop(Guidance):
    """A progression that returns, as a song's does: where a bar's harmony is written, the chord
    that began the bar ``strength[1]`` bars back (a phrase) gets ``strength[0]`` more, and where that
    bar held one chord, a second change (a harmony ``position`` token) as much less; but in the last
    bar of each phrase the harmony is left free to turn (``chord``: each token's chord value, -2
    for other tokens; :func:`musicgen.generation.steering.harmony_loop` builds the tables)."""

    name = "harmony_loop"

    def __init__(self, chord: np.ndarray, position: np.ndarray, strength: float, phrase: int) -> None:
        self.tables = {"chord": np.asarray(chord, np.int32), "position": np.asarray(position, bool),
                       "strength": np.array([strength, phrase], np.float32)}

    def reads(self, rules: Any, state: dict) -> Any:
        return rules.loop_now(state)

    def bias(self, tables: dict, now: Any, drums: Any, x: Any) -> Any:
        open_, count, bar, firsts, changes = now
        strength, phrase = tables["strength"][0], x.cast(tables["strength"][1], x.int32)
        back = bar * 0 + phrase - 1
        first, held = x.pick(firsts, back), x.pick(changes, back) == 1
        pulled = open_ & (first >= 0) & (x.cast(bar, x.int32) % phrase != 0)
        wanted = (pulled & (count == 0))[:, None] & (tables["chord"][None, :] == first[:, None])
        again = (pulled & (count > 0) & held)[:, None] & tables["position"][None, :]
        return x.where(wanted, strength, 0.0 * strength) - x.where(again, strength, 0.0 * strength)


class GroovePull(Guidance):
    """Parts that settle into a pattern: the "this part again" tokens (``repeat``: 1 on them) get
    ``strength[0]`` more on a drum track and a bass instrument's (``bass``, per program) and half
    that on another pitched one, in every bar but the last of each ``phrase`` (``strength[1]``
    bars), where the part is left free to vary, as a drummer fills at a section's end; a pitched
    part only where the bar it would play again (``distance``: each token's column of the grammar's
    bar history) stated this bar's chords: elsewhere it would sound the old ones
    (:func:`musicgen.generation.steering.groove_pull` builds the tables)."""

    name = "groove_pull"

    def __init__(self, repeat: np.ndarray, bass: np.ndarray, strength: float, phrase: int,
                 distance: np.ndarray) -> None:
        self.tables = {"repeat": np.asarray(repeat, np.float32), "bass": np.asarray(bass, bool),
                       "strength": np.array([strength, phrase], np.float32),
                       "distance": np.asarray(distance, np.int32)}

    def reads(self, rules: Any, state: dict) -> Any:
        return rules.part_now(state)

    def bias(self, tables: dict, now: Any, drums: Any, x: Any) -> Any:
        bar, program, same = now
        strength = tables["strength"]
        weight = x.where(drums | x.take(tables["bass"], program), strength[0], strength[0] * 0.5)
        phrase_end = x.cast(bar, x.int32) % x.cast(strength[1], x.int32) == 0
        weight = x.where(phrase_end, weight * 0.0, weight)
        pulled = x.columns(same, tables["distance"]) | drums[:, None]  # drums sound no chord
        return x.where(pulled, weight[:, None] * tables["repeat"][None, :], 0.0 * tables["repeat"][None, :])


UNSURE_MASS = 0.5  # a forced choice is the model's own when it gave it at least this probability


def unsure_rows(forced: Any, mass: Any) -> Any:
    """``(batch,)``: rows where the grammar forces the next token's kind (``forced``) and removed
    more than :data:`UNSURE_MASS` of the model's probability (``mass``) doing so."""
    return forced & (mass > UNSURE_MASS)


def sampling_chain(temperature: Any = None, top_k: Any = None, top_p: Any = None, bias: Any = None,
                   mask: bool = True, plans: tuple = ()) -> LogitsProcessorList:
    """The chain of a sampling step: temperature, the mask (and the best only where unsure), the
    ``plans`` (extra processors such as :class:`ChordPlan`), the bias, top-k, top-p (each left
    out when its argument is ``None``)."""
    chain: list[LogitsProcessor] = [] if temperature is None else [Temperature(temperature)]
    chain += [GrammarMask(), BestWhereUnsure()] if mask else []
    chain += list(plans)
    chain += [] if bias is None else [PitchBias(bias)]
    chain += [] if top_k is None else [TopK(top_k)]
    chain += [] if top_p is None else [TopP(top_p)]
    return LogitsProcessorList(chain)


def masked_mass(logits: Any, allowed: Any) -> Any:
    """``(batch,)``: the probability the mask removed from ``softmax(logits)``, the model's own
    distribution, from the two log-normalisers."""
    kept = tf.exp(tf.reduce_logsumexp(tf.where(allowed, logits, -np.inf), -1) - tf.reduce_logsumexp(logits, -1))
    return tf.maximum(1.0 - kept, 0.0)


def draw(logits: Any, seed: Any) -> Any:
    """One token per row from ``softmax(logits)`` by the Gumbel-max trick, seeded by ``seed``
    (two int64 numbers, e.g. the run's seed and the step).

    ``argmax(logits + Gumbel noise)`` is an exact categorical sample; unlike
    ``tf.random.stateless_categorical`` it also compiles under XLA on the CPU. XLA draws
    other (equally deterministic) numbers than the plain graph for the same seed.
    """
    uniform = tf.random.stateless_uniform(
        tf.shape(logits), seed, minval=np.finfo(np.float32).tiny, maxval=1.0, alg="philox"
    )
    return tf.argmax(logits - tf.math.log(-tf.math.log(uniform)), axis=-1, output_type=tf.int32)


def greedy(logits: Any) -> Any:
    """The most likely token of each row."""
    return tf.argmax(logits, axis=-1, output_type=tf.int32)
