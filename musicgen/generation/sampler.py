"""Compiled, stateful, grammar-aware sampling from a recurrent language model.

The primer is run once; after it one token per step is generated while the recurrent
states are carried, all inside one ``tf.function`` holding a ``tf.while_loop``, for a
batch of sequences at once. What makes a step cheap: the step network's folded input
projection (:mod:`musicgen.models.stepping`), XLA fusing the many small grammar and sampling ops
(see :class:`Sampler`'s ``jit_compile``), and Python never entered inside the loop.

Randomness comes from stateless ops seeded by ``(seed, step)``, so the same seed,
model and options give the same tokens, and so byte-identical MIDI files.

:class:`Sampler` (``sample``, ``sample_tokens``, ``beam_search``) is the token-level entry
point for notebooks and evaluation; :mod:`musicgen.generation.compose` writes MIDI files. The
network itself is :class:`musicgen.models.stepping.StepNetwork`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import tensorflow as tf

from musicgen.errors import CheckpointError, ConfigError
from musicgen.generation.options import check_sampling_options
from musicgen.generation.processors import (
    StepContext,
    draw,
    masked_mass,
    sampling_chain,
    unsure_rows,
)
from musicgen.generation.processors import greedy as greedy_token
from musicgen.models.stepping import StepNetwork
from musicgen.tokens.grammar import Checker, Constraints

if TYPE_CHECKING:
    from musicgen.generation.ensemble import Ensemble
    from musicgen.models.stepping import StepNetwork as StepNetworkType
    from musicgen.tokens import Tokenizer
    from musicgen.training.checkpoint import Checkpoint


class ModelSession(Protocol):
    """What composing and editing need of a loaded model (:class:`musicgen.Session` is one): the
    checkpoint, its compiled samplers and the step network that edits drive token by token."""

    checkpoint: Checkpoint
    tokenizer: Tokenizer

    def sampler(self, precision: str = "auto", jit_compile: bool | str = "auto") -> Sampler: ...

    def step_network(self, precision: str = "auto") -> tuple[StepNetworkType, Any]: ...

# From this many sequences, "auto" leaves the products to TensorFlow's kernels (see Sampler
# and the measurements in docs/benchmarks.md).
WHOLE_LOOP_XLA_MAX_BATCH = 128


@dataclass
class SampleResult:
    """Sampled sequences and the grammar diagnostics of the run."""

    tokens: np.ndarray  # (num, time) int32: BOS first, EOS last, PAD after it
    masked_mass_mean: float  # mean probability mass the grammar removed per sampled step
    masked_mass_max: float  # largest such mass at any step
    sampled_steps: int  # number of (sequence, step) pairs sampled
    loop_steps: int = 0  # iterations of the compiled loop (each advances every sequence)


class Sampler:
    """Samples token sequences from a language model and its tokenizer.

    ``tokenizer`` needs ``kinds`` and ``values`` (a :class:`musicgen.tokens.Tokenizer`).
    Compiled loops are cached per static option set, so repeated calls are fast.

    ``jit_compile`` picks what XLA compiles: ``True`` the whole loop (fuses the many small
    grammar and sampling ops; fastest for small batches, where the products are
    matrix-vector); ``"tokens"`` only the per-step token choice, leaving the products to
    TensorFlow's own (oneDNN) kernels, which beat XLA's on the CPU for large batches;
    ``"auto"`` (default) the first below :data:`WHOLE_LOOP_XLA_MAX_BATCH` sequences, the
    second from there; ``False`` no XLA (starts fastest, runs slowest). Each mode is
    deterministic, but XLA and the plain graph draw different numbers for a seed.
    ``precision`` (``"float32"`` or ``"bfloat16"``) is the step network's products'.
    """

    def __init__(self, model: Any, tokenizer: Tokenizer, jit_compile: bool | str = "auto",
                 constraints: Constraints | None = None, precision: str = "float32") -> None:
        if jit_compile not in (True, False, "tokens", "auto"):
            raise ConfigError(f"jit_compile must be True, False, 'tokens' or 'auto', got {jit_compile!r}")
        self.step = StepNetwork(model, precision)
        self.constraints = constraints
        self.grammar = tokenizer.grammar()
        self.tables = self.grammar.tables
        if self.tables.vocab_size != self.step.vocab_size:
            raise CheckpointError(
                f"the model predicts {self.step.vocab_size} tokens but the tokenizer has "
                f"{self.tables.vocab_size}"
            )
        self.tokenizer = tokenizer
        self.masker = self.grammar.masker()
        self.jit_compile = jit_compile
        self._loops: dict[tuple, Any] = {}

    @classmethod
    def from_checkpoint(cls, checkpoint: Checkpoint, jit_compile: bool | str = "auto",
                        precision: str = "float32", ensemble: Ensemble | None = None) -> Sampler:
        """The sampler of a loaded checkpoint's model, kept to what its training data had (and
        each stand-in of ``ensemble`` to what its asked instrument plays)."""
        constraints = checkpoint.profile.constraints(checkpoint.tokenizer)
        if ensemble is not None:
            constraints = ensemble.constraints(constraints)
        return cls(checkpoint.model, checkpoint.tokenizer, jit_compile=jit_compile, constraints=constraints,
                   precision=precision)

    def sample(
        self,
        num: int = 1,
        length: int = 512,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: int = 0,
        prefix: np.ndarray | None = None,
        max_time_steps: int | None = None,
        max_bars: int | None = None,
        pitch_bias: np.ndarray | None = None,
        every_track: bool = False,
        constraints: Constraints | None = None,
        plans: tuple = (),
    ) -> SampleResult:
        """Sample ``num`` sequences of at most ``length`` tokens after BOS (closing excluded).

        ``prefix`` (BOS first) is fed before sampling starts; ``max_time_steps`` ends a
        sequence once that many grid steps were generated after the prefix (events
        encoding), ``max_bars`` once that many bars were (notes encoding);
        ``temperature == 0`` is greedy decoding. The logits go through the chain of
        :func:`musicgen.generation.processors.sampling_chain`: temperature, the grammar mask,
        ``pitch_bias`` (one value per token, see :func:`musicgen.generation.steering.key_bias`,
        added on tracks that are not drums), top-k and top-p. The masked-mass figures are of the
        model's own distribution.
        Notes still sounding at the end are closed, so every row decodes without dropping
        an event. ``every_track`` (notes encoding): every track of the header plays at least
        once in every two bars, a drum track in every bar (its bar closes only then), so no asked
        instrument stays silent and no groove drops out.
        ``constraints`` replace the sampler's own (what the training data had) for this call; they
        are inputs of the compiled loop, so another set of instruments compiles nothing new.
        ``plans`` are extra logits processors that read where the sequence is (a chord plan,
        :class:`musicgen.generation.processors.ChordPlan`), after the grammar's mask; their
        numbers are inputs of the loop too.
        """
        check_sampling_options(temperature, top_k, top_p)
        if not isinstance(num, int) or num < 1:
            raise ConfigError(f"the number of samples must be a positive integer, got {num!r}")
        prefix = self.check_prefix(prefix, length)
        bias = self._check_bias(pitch_bias)
        key = (int(num), int(length), temperature == 0, top_k > 0, top_p < 1.0, pitch_bias is not None,
               tuple(type(plan) for plan in plans))
        if key not in self._loops:
            self._loops[key] = self._build_loop(*key[:-1], plans=tuple(plans))
        tokens, steps, mass_sum, mass_max, count = self._loops[key](
            tf.constant(prefix),
            tf.constant(max(temperature, 1e-6), tf.float32),
            tf.constant(max(top_k, 1), tf.int32),
            tf.constant(top_p, tf.float32),
            tf.constant(int(seed) % (1 << 63), tf.int64),
            self._time_limit(max_time_steps),
            self._params(constraints, max_bars, every_track),
            tf.constant(bias),
            {plan.name: {name: tf.constant(value) for name, value in plan.inputs().items()} for plan in plans},
        )
        tokens = tokens.numpy()[:, : int(steps.numpy())]
        rows = [self._finish(row, len(prefix)) for row in np.concatenate([np.tile(prefix, (num, 1)), tokens], axis=1)]
        count = int(count.numpy())
        return SampleResult(
            tokens=self._pad(rows),
            masked_mass_mean=float(mass_sum.numpy()) / max(count, 1),
            masked_mass_max=float(mass_max.numpy()),
            sampled_steps=count,
            loop_steps=tokens.shape[1],
        )

    def sample_tokens(self, num: int = 1, length: int = 512, **options: Any) -> np.ndarray:
        """Like :meth:`sample`, returning only the ``(num, time)`` token array."""
        return self.sample(num=num, length=length, **options).tokens

    def beam_search(
        self,
        beam_size: int,
        num: int = 1,
        length: int = 512,
        prefix: np.ndarray | None = None,
        max_time_steps: int | None = None,
        max_bars: int | None = None,
        pitch_bias: np.ndarray | None = None,
        every_track: bool = False,
        constraints: Constraints | None = None,
    ) -> SampleResult:
        """The ``num`` most probable grammatical sequences found by beam search.

        Scores are summed log-probabilities (no length normalisation) of the grammar-masked,
        renormalised distribution (with ``pitch_bias`` added, as in :meth:`sample`); ``num`` must not exceed ``beam_size``. Fewer come back when
        the grammar leaves fewer than ``num`` sequences of non-zero probability.
        """
        if not isinstance(beam_size, int) or beam_size < 1:
            raise ConfigError(f"--beam-size must be a positive integer, got {beam_size!r}")
        if not isinstance(num, int) or not 1 <= num <= beam_size:
            raise ConfigError(f"beam search returns at most --beam-size ({beam_size}) sequences, asked for {num}")
        prefix = self.check_prefix(prefix, length)
        bias = self._check_bias(pitch_bias)
        key = ("beam", beam_size, int(length), pitch_bias is not None)
        if key not in self._loops:
            self._loops[key] = self._build_beam_loop(*key[1:])
        tokens, parents, steps, scores = self._loops[key](
            tf.constant(prefix),
            self._time_limit(max_time_steps),
            self._params(constraints, max_bars, every_track),
            tf.constant(bias),
        )
        steps = int(steps.numpy())
        tokens, parents, scores = tokens.numpy()[:steps], parents.numpy()[:steps], scores.numpy()
        rows = []
        # Beams of probability zero (fewer grammatical continuations than beams) are no answer.
        finite = [beam for beam in np.argsort(-scores, kind="stable") if np.isfinite(scores[beam])]
        for beam in finite[:num]:
            path = []
            for t in range(len(tokens) - 1, -1, -1):  # follow the parents back to the start
                path.append(tokens[t, beam])
                beam = parents[t, beam]
            rows.append(self._finish(np.asarray([self.tables.bos_id, *path[::-1]], np.int32), len(prefix)))
        return SampleResult(self._pad(rows), 0.0, 0.0, 0)

    def check_prefix(self, prefix: np.ndarray | None, length: int) -> np.ndarray:
        """``prefix`` (default: BOS alone) as int32, if it is valid and shorter than ``length``."""
        prefix = np.asarray([self.tables.bos_id] if prefix is None else prefix, np.int32)
        if prefix.ndim != 1 or len(prefix) == 0 or prefix[0] != self.tables.bos_id:
            raise ConfigError("a prefix must be a 1-D token array starting with BOS")
        if not isinstance(length, int) or length < 1:
            raise ConfigError(f"--length must be a positive integer, got {length!r}")
        if len(prefix) - 1 >= length:
            raise ConfigError(
                f"the primer is {len(prefix) - 1} tokens long, not shorter than --length {length}; "
                "raise --length or shorten the primer"
            )
        return prefix

    def _check_bias(self, pitch_bias: np.ndarray | None) -> np.ndarray:
        """``pitch_bias`` as float32 (zeros when None)."""
        if pitch_bias is None:
            return np.zeros(self.tables.vocab_size, np.float32)
        bias = np.asarray(pitch_bias, np.float32)
        if bias.shape != (self.tables.vocab_size,) or not np.isfinite(bias).all():
            raise ConfigError(f"a pitch bias must be {self.tables.vocab_size} finite values, one per token")
        return bias

    def _params(self, constraints: Constraints | None, max_bars: int | None, every_track: bool) -> dict:
        """The rules' figures for a sampling run (:meth:`musicgen.tokens.grammar.Rules.params`), as tensors."""
        constraints = constraints if constraints is not None else (self.constraints or Constraints())
        return self.masker.params(constraints=constraints, bar_limit=-1 if max_bars is None else int(max_bars),
                                  every_track=bool(every_track), sampling=True)

    @staticmethod
    def _time_limit(max_time_steps: int | None) -> Any:
        """Grid steps after the prefix (-1: no limit), as the compiled loops take it."""
        return tf.constant(-1 if max_time_steps is None else int(max_time_steps), tf.int32)

    def _pad(self, rows: list[np.ndarray]) -> np.ndarray:
        padded = np.full((len(rows), max(len(row) for row in rows)), self.tables.pad_id, np.int32)
        for index, row in enumerate(rows):
            padded[index, : len(row)] = row
        return padded

    def _finish(self, row: np.ndarray, prefix_length: int = 1) -> np.ndarray:
        """Cut after EOS; a row that did not end (out of length or time) drops its unfinished last
        bar (:meth:`Tokenizer.whole_prefix`, never cutting into its first ``prefix_length`` tokens)
        and gets the tokens that close its sounding notes."""
        ends = np.flatnonzero(row[prefix_length:] == self.tables.eos_id)
        if len(ends):  # ended by the grammar: nothing to close
            return np.asarray(row[: prefix_length + int(ends[0]) + 1], np.int32)
        kept, checker = self._fed(row)
        if not checker.ended:
            kept, checker = self._fed(np.asarray(kept[:max(self.tokenizer.whole_prefix(kept), prefix_length)]))
        return np.asarray(kept + checker.closing_tokens(), np.int32)

    def _fed(self, row: np.ndarray) -> tuple[list[int], Checker]:
        """The tokens of ``row`` up to its end, and a checker fed with them."""
        checker = self.grammar.checker()
        kept = []
        for token in row.tolist():
            if token == self.tables.pad_id and checker.started:
                break
            checker.feed(token, check=False)
            kept.append(token)
            if checker.ended:
                break
        return kept, checker

    def _run_primer(self, prefix: Any, batch_size: int, params: dict) -> tuple[Any, list, dict]:
        """Feed all but the last prefix token once; return that token, the states and grammar."""
        step, masker = self.step, self.masker
        first = tf.fill([batch_size], prefix[0])
        grammar = masker.update(masker.initial_state(batch_size), first, params, False)

        def body(t, states, grammar):
            _, states = step.step(tf.fill([batch_size], prefix[t]), states)
            return t + 1, states, masker.update(grammar, tf.fill([batch_size], prefix[t + 1]), params, False)

        _, states, grammar = tf.while_loop(
            lambda t, *rest: t < tf.shape(prefix)[0] - 1, body, (0, step.initial_states(batch_size), grammar)
        )
        return tf.fill([batch_size], prefix[-1]), states, grammar

    def loop_mode(self, num: int) -> bool | str:
        """What XLA compiles for ``num`` sequences: ``True``, ``"tokens"`` or ``False``."""
        if self.jit_compile == "auto":
            return True if num < WHOLE_LOOP_XLA_MAX_BATCH else "tokens"
        return self.jit_compile

    def _build_loop(self, num: int, length: int, greedy: bool, use_top_k: bool, use_top_p: bool,
                    use_bias: bool, plans: tuple = ()) -> Any:
        step, masker = self.step, self.masker

        def choose(t, logits, grammar, temperature, top_k, top_p, seed, time_limit, params, bias, extra):
            """Mask, draw and advance the grammar: the many small ops of a step, worth fusing."""
            ended = grammar["ended"]
            allowed = masker.allowed(grammar, params)
            removed = masked_mass(logits, allowed)
            context = StepContext(allowed, masker.drums(grammar), unsure_rows(masker.forced(grammar), removed),
                                  grammar, masker, extra)
            # Diagnostic: the probability mass the grammar removed (finished rows excluded).
            mass = tf.where(ended, 0.0, removed)
            chain = sampling_chain(None if greedy else temperature, top_k if use_top_k and not greedy else None,
                                   top_p if use_top_p and not greedy else None, bias if use_bias else None,
                                   plans=plans)
            scores = chain(logits, context)
            token = greedy_token(scores) if greedy else draw(scores, tf.stack([seed, tf.cast(t, tf.int64)]))
            token = masker.rewrite(grammar, token, params)
            grammar = masker.update(grammar, token, params)
            grammar["ended"] |= (time_limit >= 0) & (grammar["elapsed"] >= time_limit)
            live = tf.reduce_sum(tf.cast(tf.logical_not(ended), tf.int32))
            return token, grammar, tf.reduce_sum(mass), tf.reduce_max(mass), live

        mode = self.loop_mode(num)
        if mode == "tokens":  # the products in the plain graph, the token choice in XLA
            choose = tf.function(choose, jit_compile=True, reduce_retracing=True)

        def loop(prefix, temperature, top_k, top_p, seed, time_limit, params, bias, extra):
            token, states, grammar = self._run_primer(prefix, num, params)
            start = tf.shape(prefix)[0] - 1
            generated = tf.TensorArray(tf.int32, size=length, element_shape=tf.TensorShape([num]))

            def body(t, token, states, grammar, generated, mass_sum, mass_max, count):
                logits, states = step.step(token, states)
                token, grammar, step_sum, step_max, live = choose(
                    t, logits, grammar, temperature, top_k, top_p, seed, time_limit, params, bias, extra
                )
                return (
                    t + 1,
                    token,
                    states,
                    grammar,
                    generated.write(t - start, token),
                    mass_sum + step_sum,
                    tf.maximum(mass_max, step_max),
                    count + live,
                )

            def condition(t, token, states, grammar, *rest):
                return (t < length) & tf.logical_not(tf.reduce_all(grammar["ended"]))

            steps, _, _, _, generated, mass_sum, mass_max, count = tf.while_loop(
                condition, body, (start, token, states, grammar, generated, 0.0, 0.0, 0)
            )
            # The full buffer (static shape, as XLA wants); the caller cuts it to ``steps - start``.
            return tf.transpose(generated.stack()), steps - start, mass_sum, mass_max, count

        return tf.function(loop, jit_compile=mode is True, reduce_retracing=True)

    def _build_beam_loop(self, beam_size: int, length: int, use_bias: bool) -> Any:
        step, masker, vocab = self.step, self.masker, self.tables.vocab_size

        def loop(prefix, time_limit, params, bias):
            prefix_length = tf.shape(prefix)[0]
            first = tf.fill([beam_size], prefix[0])
            grammar = masker.update(masker.initial_state(beam_size), first, params, False)
            # Only beam 0 is live at first, so the beams do not start as copies.
            scores = tf.concat([[0.0], tf.fill([beam_size - 1], -np.inf)], axis=0)
            tokens = tf.TensorArray(tf.int32, size=length, element_shape=tf.TensorShape([beam_size]))
            parents = tf.TensorArray(tf.int32, size=length, element_shape=tf.TensorShape([beam_size]))

            def body(t, token, states, grammar, scores, tokens, parents):
                logits, states = step.step(token, states)
                position = t + 1
                allowed = masker.allowed(grammar, params)
                unsure = unsure_rows(masker.forced(grammar), masked_mass(logits, allowed))
                context = StepContext(allowed, masker.drums(grammar), unsure)
                processed = sampling_chain(bias=bias if use_bias else None)(logits, context)
                log_probs = tf.nn.log_softmax(processed)
                # A finished beam continues with PAD at no cost.
                log_probs = tf.where(grammar["ended"][:, tf.newaxis], tf.where(context.allowed, 0.0, -np.inf), log_probs)
                if_forced = position < prefix_length
                candidates = tf.reshape(scores[:, tf.newaxis] + log_probs, [-1])
                best_scores, best = tf.math.top_k(candidates, beam_size)
                parent = tf.where(if_forced, tf.range(beam_size), best // vocab)
                forced_token = tf.fill([beam_size], prefix[tf.minimum(position, prefix_length - 1)])
                next_token = tf.where(if_forced, forced_token, best % vocab)
                scores = tf.where(if_forced, scores, best_scores)
                states = tf.nest.map_structure(lambda state: tf.gather(state, parent), states)
                grammar = tf.nest.map_structure(lambda value: tf.gather(value, parent), grammar)
                next_token = tf.where(if_forced, next_token, masker.rewrite(grammar, next_token, params))
                grammar = masker.update(grammar, next_token, params, tf.logical_not(if_forced))
                time_up = (time_limit >= 0) & (grammar["elapsed"] >= time_limit)
                grammar["ended"] = grammar["ended"] | time_up
                return position, next_token, states, grammar, scores, tokens.write(t, next_token), parents.write(t, parent)

            def condition(t, token, states, grammar, *rest):
                return (t < length) & tf.logical_not(tf.reduce_all(grammar["ended"]) & (t + 1 >= prefix_length))

            steps, _, _, _, scores, tokens, parents = tf.while_loop(
                condition, body, (tf.constant(0), first, step.initial_states(beam_size), grammar, scores, tokens, parents)
            )
            return tokens.stack(), parents.stack(), steps, scores

        return tf.function(loop, jit_compile=self.jit_compile in (True, "auto"), reduce_retracing=True)
