"""Compiled, stateful, grammar-aware sampling from a recurrent language model.

The primer is run once; after it one token per step is generated while the recurrent
states are carried, all inside one ``tf.function`` holding a ``tf.while_loop``, for a
batch of sequences at once. Three things make a step cheap: the first layer's input
projection is folded into the embedding table (``E @ W + b`` looked up by row instead
of a matrix product per step), the input and recurrent products of deeper layers are
one product over ``[x, h]``, and Python is never entered inside the loop.

Randomness comes from stateless ops seeded by ``(seed, step)``, so the same seed,
model and options give the same tokens, and so byte-identical MIDI files.

:class:`Sampler` (``sample``, ``sample_tokens``, ``beam_search``) is the token-level entry
point for notebooks and evaluation; :func:`generate` writes MIDI files.
"""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from musicgen import render
from musicgen.errors import CheckpointError, ConfigError
from musicgen.grammar import GrammarChecker, GrammarMasker, GrammarTables
from musicgen.tokenizer import Kind

_ACTIVATIONS = {"tanh": tf.tanh, "sigmoid": tf.sigmoid, "relu": tf.nn.relu, "linear": tf.identity}


@dataclass
class LayerWeights:
    """One recurrent layer, in Keras's layout (LSTM gates i,f,c,o; GRU z,r,h)."""

    kind: str  # "lstm", "gru" or "rnn"
    kernel: np.ndarray
    recurrent_kernel: np.ndarray
    bias: np.ndarray
    activation: str = "tanh"

    @property
    def units(self) -> int:
        return self.recurrent_kernel.shape[0]


@dataclass
class StepWeights:
    """What a step needs: input table (one-hot when ``None``), layers and output projection."""

    embedding: np.ndarray | None
    layers: list[LayerWeights]
    output_kernel: np.ndarray
    output_bias: np.ndarray

    @property
    def vocab_size(self) -> int:
        return self.output_kernel.shape[1]


def extract_step_weights(model: Any) -> StepWeights:
    """Read the weights of a :func:`musicgen.models.build_language_model` model.

    Works for ``implementation="custom"`` and ``"keras"`` alike: both keep the cell's
    ``kernel``, ``recurrent_kernel`` and ``bias`` in Keras's layout.
    """
    names = {layer.name: layer for layer in model.layers}
    if "logits" not in names or "rnn_1" not in names:
        raise CheckpointError("the model is not a musicgen language model (no rnn_1/logits layers)")
    embedding_layer = names.get("embedding")
    embedding = None
    if embedding_layer is not None and getattr(embedding_layer, "embeddings", None) is not None:
        embedding = np.asarray(embedding_layer.embeddings.numpy(), np.float32)
    layers = []
    index = 1
    while f"rnn_{index}" in names:
        cell = names[f"rnn_{index}"].cell
        kernel = np.asarray(cell.kernel.numpy(), np.float32)
        recurrent = np.asarray(cell.recurrent_kernel.numpy(), np.float32)
        gates = recurrent.shape[1] // recurrent.shape[0]
        kind = {4: "lstm", 3: "gru", 1: "rnn"}.get(gates)
        if kind is None:
            raise CheckpointError(f"rnn_{index}: cannot step a cell with {gates} gate blocks")
        if kind == "gru" and not getattr(cell, "reset_after", True):
            raise CheckpointError(f"rnn_{index}: only GRUs with reset_after=True can be sampled")
        bias_shape = (2, recurrent.shape[1]) if kind == "gru" else (recurrent.shape[1],)
        bias = np.zeros(bias_shape, np.float32) if getattr(cell, "bias", None) is None else cell.bias.numpy()
        activation = getattr(getattr(cell, "activation", None), "__name__", "tanh")
        if activation not in _ACTIVATIONS:
            raise CheckpointError(f"rnn_{index}: unsupported activation {activation!r}")
        recurrent_activation = getattr(getattr(cell, "recurrent_activation", None), "__name__", "sigmoid")
        if recurrent_activation != "sigmoid":
            raise CheckpointError(f"rnn_{index}: unsupported recurrent activation {recurrent_activation!r}")
        layers.append(LayerWeights(kind, kernel, recurrent, np.asarray(bias, np.float32), activation))
        index += 1
    output = names["logits"]
    return StepWeights(
        embedding=embedding,
        layers=layers,
        output_kernel=np.asarray(output.kernel.numpy(), np.float32),
        output_bias=np.asarray(output.bias.numpy(), np.float32),
    )


class FusedStep:
    """One token step of the stacked network, with the first input projection folded in."""

    def __init__(self, weights: StepWeights) -> None:
        first = weights.layers[0]
        table = first.kernel if weights.embedding is None else weights.embedding @ first.kernel
        input_bias = first.bias[0] if first.kind == "gru" else first.bias
        self.input_table = tf.constant(table + input_bias, name="folded_input_table")
        self.layers = weights.layers
        self.kernels = []  # [x; h] stacked for layers after the first
        for index, layer in enumerate(weights.layers):
            if index == 0:
                self.kernels.append(tf.constant(layer.recurrent_kernel))
            else:
                self.kernels.append(tf.constant(np.concatenate([layer.kernel, layer.recurrent_kernel])))
        self.biases = [tf.constant(layer.bias) for layer in weights.layers]
        self.output_kernel = tf.constant(weights.output_kernel)
        self.output_bias = tf.constant(weights.output_bias)

    def initial_states(self, batch_size: Any) -> list:
        states = []
        for layer in self.layers:
            zeros = tf.zeros(tf.stack([batch_size, layer.units]), tf.float32)
            states.append((zeros, zeros) if layer.kind == "lstm" else (zeros,))
        return states

    def __call__(self, tokens: Any, states: list) -> tuple[Any, list]:
        """Feed ``tokens`` (int32 ``(batch,)``); return logits ``(batch, vocab)`` and new states."""
        new_states = []
        inputs = None
        for index, (layer, state) in enumerate(zip(self.layers, states, strict=True)):
            hidden = state[0]
            activation = _ACTIVATIONS[layer.activation]
            if index == 0:
                from_inputs = tf.gather(self.input_table, tokens)
                from_state = tf.matmul(hidden, self.kernels[0])
            if layer.kind == "gru":
                if index > 0:
                    from_inputs = tf.matmul(inputs, self.kernels[index][: -layer.units]) + self.biases[index][0]
                    from_state = tf.matmul(hidden, self.kernels[index][-layer.units :])
                from_state = from_state + self.biases[index][1]
                a_z, a_r, a_h = tf.split(from_inputs, 3, axis=-1)
                m_z, m_r, m_h = tf.split(from_state, 3, axis=-1)
                update = tf.sigmoid(a_z + m_z)
                candidate = activation(a_h + tf.sigmoid(a_r + m_r) * m_h)
                hidden = update * hidden + (1.0 - update) * candidate
                new_states.append((hidden,))
            else:
                if index == 0:
                    z = from_inputs + from_state
                else:
                    z = tf.matmul(tf.concat([inputs, hidden], axis=-1), self.kernels[index]) + self.biases[index]
                if layer.kind == "lstm":
                    z_i, z_f, z_c, z_o = tf.split(z, 4, axis=-1)
                    carry = tf.sigmoid(z_f) * state[1] + tf.sigmoid(z_i) * activation(z_c)
                    hidden = tf.sigmoid(z_o) * activation(carry)
                    new_states.append((hidden, carry))
                else:
                    hidden = activation(z)
                    new_states.append((hidden,))
            inputs = hidden
        return tf.matmul(inputs, self.output_kernel) + self.output_bias, new_states


@dataclass
class SampleResult:
    """Sampled sequences and the grammar diagnostics of the run."""

    tokens: np.ndarray  # (num, time) int32: BOS first, EOS last, PAD after it
    masked_mass_mean: float  # mean probability mass the grammar removed per sampled step
    masked_mass_max: float  # largest such mass at any step
    sampled_steps: int  # number of (sequence, step) pairs sampled
    loop_steps: int = 0  # iterations of the compiled loop (each advances every sequence)


def filter_logits(logits: Any, top_k: Any, top_p: Any, use_top_k: bool, use_top_p: bool) -> Any:
    """Keep the ``top_k`` largest logits and the nucleus of mass ``top_p``; the rest -inf."""
    if not (use_top_k or use_top_p):
        return logits
    ranked = tf.sort(logits, axis=-1, direction="DESCENDING")
    threshold = tf.fill(tf.shape(logits[:, :1]), -np.inf)
    if use_top_k:
        k = tf.minimum(top_k, tf.shape(logits)[-1])
        threshold = tf.maximum(threshold, tf.gather(ranked, [k - 1], axis=1))
    if use_top_p:
        before = tf.math.cumsum(tf.nn.softmax(ranked), axis=-1, exclusive=True)
        nucleus = tf.where(before < top_p, ranked, np.inf)
        threshold = tf.maximum(threshold, tf.reduce_min(nucleus, axis=-1, keepdims=True))
    return tf.where(logits >= threshold, logits, -np.inf)


def sample_categorical(logits: Any, seed: Any) -> Any:
    """One draw per row from ``softmax(logits)`` by the Gumbel-max trick.

    ``argmax(logits + Gumbel noise)`` is an exact categorical sample; unlike
    ``tf.random.stateless_categorical`` it also compiles under XLA on the CPU. XLA draws
    other (equally deterministic) numbers than the plain graph for the same seed.
    """
    uniform = tf.random.stateless_uniform(
        tf.shape(logits), seed, minval=np.finfo(np.float32).tiny, maxval=1.0, alg="philox"
    )
    return tf.argmax(logits - tf.math.log(-tf.math.log(uniform)), axis=-1, output_type=tf.int32)


class Sampler:
    """Samples token sequences from a language model and its tokenizer.

    ``tokenizer`` needs ``kinds`` and ``values`` (a :class:`musicgen.tokenizer.Tokenizer`).
    Compiled loops are cached per static option set, so repeated calls are fast. The loops
    are XLA-compiled by default (``jit_compile``), which fuses the many small grammar
    and sampling ops of a step; ``jit_compile=False`` starts faster but runs slower.
    """

    def __init__(self, model: Any, tokenizer: Any, jit_compile: bool = True) -> None:
        self.weights = extract_step_weights(model)
        self.tables = GrammarTables.from_tokenizer(tokenizer)
        if self.tables.vocab_size != self.weights.vocab_size:
            raise CheckpointError(
                f"the model predicts {self.weights.vocab_size} tokens but the tokenizer has "
                f"{self.tables.vocab_size}"
            )
        self.tokenizer = tokenizer
        self.step = FusedStep(self.weights)
        self.masker = GrammarMasker(self.tables)
        self.jit_compile = jit_compile
        self._loops: dict[tuple, Any] = {}

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
        disallow_programs: bool = False,
    ) -> SampleResult:
        """Sample ``num`` sequences of at most ``length`` tokens after BOS (closing excluded).

        ``prefix`` (BOS first) is fed before sampling starts; ``max_time_steps`` ends a
        sequence once that many grid steps were generated after the prefix;
        ``temperature == 0`` is greedy decoding. Notes still sounding at the end are
        closed, so every row decodes without dropping an event.
        """
        check_sampling_options(temperature, top_k, top_p)
        if not isinstance(num, int) or num < 1:
            raise ConfigError(f"the number of samples must be a positive integer, got {num!r}")
        prefix = self.check_prefix(prefix, length)
        key = (int(num), int(length), temperature == 0, top_k > 0, top_p < 1.0)
        if key not in self._loops:
            self._loops[key] = self._build_loop(*key)
        tokens, steps, mass_sum, mass_max, count = self._loops[key](
            tf.constant(prefix),
            tf.constant(max(temperature, 1e-6), tf.float32),
            tf.constant(max(top_k, 1), tf.int32),
            tf.constant(top_p, tf.float32),
            tf.constant(int(seed) % (1 << 63), tf.int64),
            tf.constant(-1 if max_time_steps is None else int(max_time_steps), tf.int32),
            tf.constant(self._allowed_base(disallow_programs)),
        )
        tokens = tokens.numpy()[:, : int(steps.numpy())]
        rows = [self._finish(row) for row in np.concatenate([np.tile(prefix, (num, 1)), tokens], axis=1)]
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
        disallow_programs: bool = False,
    ) -> SampleResult:
        """The ``num`` most probable grammatical sequences found by beam search.

        Scores are summed log-probabilities (no length normalisation) of the grammar-masked,
        renormalised distribution; ``num`` must not exceed ``beam_size``.
        """
        if not isinstance(beam_size, int) or beam_size < 1:
            raise ConfigError(f"--beam-size must be a positive integer, got {beam_size!r}")
        if not isinstance(num, int) or not 1 <= num <= beam_size:
            raise ConfigError(f"beam search returns at most --beam-size ({beam_size}) sequences, asked for {num}")
        prefix = self.check_prefix(prefix, length)
        key = ("beam", beam_size, int(length))
        if key not in self._loops:
            self._loops[key] = self._build_beam_loop(beam_size, int(length))
        tokens, parents, steps, scores = self._loops[key](
            tf.constant(prefix),
            tf.constant(-1 if max_time_steps is None else int(max_time_steps), tf.int32),
            tf.constant(self._allowed_base(disallow_programs)),
        )
        steps = int(steps.numpy())
        tokens, parents, scores = tokens.numpy()[:steps], parents.numpy()[:steps], scores.numpy()
        rows = []
        for beam in np.argsort(-scores, kind="stable")[:num]:
            path = []
            for t in range(len(tokens) - 1, -1, -1):  # follow the parents back to the start
                path.append(tokens[t, beam])
                beam = parents[t, beam]
            rows.append(self._finish(np.asarray([self.tables.bos_id, *path[::-1]], np.int32)))
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

    def _allowed_base(self, disallow_programs: bool) -> np.ndarray:
        allowed = np.ones(self.tables.vocab_size, bool)
        if disallow_programs:
            allowed[self.tables.kinds == Kind.PROGRAM] = False
        return allowed

    def _pad(self, rows: list[np.ndarray]) -> np.ndarray:
        padded = np.full((len(rows), max(len(row) for row in rows)), self.tables.pad_id, np.int32)
        for index, row in enumerate(rows):
            padded[index, : len(row)] = row
        return padded

    def _finish(self, row: np.ndarray) -> np.ndarray:
        """Cut after EOS and append the tokens that close sounding notes."""
        checker = GrammarChecker(self.tables)
        kept = []
        for token in row.tolist():
            if token == self.tables.pad_id and checker.started:
                break
            checker.feed(token)
            kept.append(token)
            if checker.ended:
                break
        return np.asarray(kept + checker.closing_tokens(), np.int32)

    def _run_primer(self, prefix: Any, batch_size: int) -> tuple[Any, list, dict]:
        """Feed all but the last prefix token once; return that token, the states and grammar."""
        step, masker = self.step, self.masker
        first = tf.fill([batch_size], prefix[0])
        grammar = masker.update(masker.initial_state(batch_size), first, False)

        def body(t, states, grammar):
            _, states = step(tf.fill([batch_size], prefix[t]), states)
            return t + 1, states, masker.update(grammar, tf.fill([batch_size], prefix[t + 1]), False)

        _, states, grammar = tf.while_loop(
            lambda t, *rest: t < tf.shape(prefix)[0] - 1, body, (0, step.initial_states(batch_size), grammar)
        )
        return tf.fill([batch_size], prefix[-1]), states, grammar

    def _build_loop(self, num: int, length: int, greedy: bool, use_top_k: bool, use_top_p: bool) -> Any:
        step, masker = self.step, self.masker

        def loop(prefix, temperature, top_k, top_p, seed, max_time_steps, allowed_base):
            token, states, grammar = self._run_primer(prefix, num)
            start = tf.shape(prefix)[0] - 1
            generated = tf.TensorArray(tf.int32, size=length, element_shape=tf.TensorShape([num]))

            def body(t, token, states, grammar, generated, mass_sum, mass_max, count):
                logits, states = step(token, states)
                scaled = logits if greedy else logits / temperature
                ended = grammar["ended"]
                allowed = masker.allowed(grammar) & (allowed_base | ended[:, tf.newaxis])
                masked = tf.where(allowed, scaled, -np.inf)
                # Diagnostic: the probability mass the grammar removed (finished rows excluded).
                mass = tf.reduce_sum(tf.where(allowed | ended[:, tf.newaxis], 0.0, tf.nn.softmax(scaled)), -1)
                if greedy:
                    token = tf.argmax(masked, axis=-1, output_type=tf.int32)
                else:
                    filtered = filter_logits(masked, top_k, top_p, use_top_k, use_top_p)
                    token = sample_categorical(filtered, tf.stack([seed, tf.cast(t, tf.int64)]))
                grammar = masker.update(grammar, token)
                grammar["ended"] |= (max_time_steps >= 0) & (grammar["elapsed"] >= max_time_steps)
                return (
                    t + 1,
                    token,
                    states,
                    grammar,
                    generated.write(t - start, token),
                    mass_sum + tf.reduce_sum(mass),
                    tf.maximum(mass_max, tf.reduce_max(mass)),
                    count + tf.reduce_sum(tf.cast(tf.logical_not(ended), tf.int32)),
                )

            def condition(t, token, states, grammar, *rest):
                return (t < length) & tf.logical_not(tf.reduce_all(grammar["ended"]))

            steps, _, _, _, generated, mass_sum, mass_max, count = tf.while_loop(
                condition, body, (start, token, states, grammar, generated, 0.0, 0.0, 0)
            )
            # The full buffer (static shape, as XLA wants); the caller cuts it to ``steps - start``.
            return tf.transpose(generated.stack()), steps - start, mass_sum, mass_max, count

        return tf.function(loop, jit_compile=self.jit_compile, reduce_retracing=True)

    def _build_beam_loop(self, beam_size: int, length: int) -> Any:
        step, masker, vocab = self.step, self.masker, self.tables.vocab_size

        def loop(prefix, max_time_steps, allowed_base):
            prefix_length = tf.shape(prefix)[0]
            first = tf.fill([beam_size], prefix[0])
            grammar = masker.update(masker.initial_state(beam_size), first, False)
            # Only beam 0 is live at first, so the beams do not start as copies.
            scores = tf.concat([[0.0], tf.fill([beam_size - 1], -np.inf)], axis=0)
            tokens = tf.TensorArray(tf.int32, size=length, element_shape=tf.TensorShape([beam_size]))
            parents = tf.TensorArray(tf.int32, size=length, element_shape=tf.TensorShape([beam_size]))

            def body(t, token, states, grammar, scores, tokens, parents):
                logits, states = step(token, states)
                position = t + 1
                allowed = masker.allowed(grammar) & (allowed_base | grammar["ended"][:, tf.newaxis])
                log_probs = tf.nn.log_softmax(tf.where(allowed, logits, -np.inf))
                # A finished beam continues with PAD at no cost.
                log_probs = tf.where(grammar["ended"][:, tf.newaxis], tf.where(allowed, 0.0, -np.inf), log_probs)
                if_forced = position < prefix_length
                candidates = tf.reshape(scores[:, tf.newaxis] + log_probs, [-1])
                best_scores, best = tf.math.top_k(candidates, beam_size)
                parent = tf.where(if_forced, tf.range(beam_size), best // vocab)
                forced_token = tf.fill([beam_size], prefix[tf.minimum(position, prefix_length - 1)])
                next_token = tf.where(if_forced, forced_token, best % vocab)
                scores = tf.where(if_forced, scores, best_scores)
                states = tf.nest.map_structure(lambda state: tf.gather(state, parent), states)
                grammar = tf.nest.map_structure(lambda value: tf.gather(value, parent), grammar)
                grammar = masker.update(grammar, next_token, tf.logical_not(if_forced))
                time_up = (max_time_steps >= 0) & (grammar["elapsed"] >= max_time_steps)
                grammar["ended"] = grammar["ended"] | time_up
                return position, next_token, states, grammar, scores, tokens.write(t, next_token), parents.write(t, parent)

            def condition(t, token, states, grammar, *rest):
                return (t < length) & tf.logical_not(tf.reduce_all(grammar["ended"]) & (t + 1 >= prefix_length))

            steps, _, _, _, scores, tokens, parents = tf.while_loop(
                condition, body, (tf.constant(0), first, step.initial_states(beam_size), grammar, scores, tokens, parents)
            )
            return tokens.stack(), parents.stack(), steps, scores

        return tf.function(loop, jit_compile=self.jit_compile, reduce_retracing=True)


def check_sampling_options(temperature: float, top_k: int, top_p: float) -> None:
    """Raise :class:`ConfigError` for out-of-range sampling options."""
    if not temperature >= 0.0:
        raise ConfigError(f"--temperature must be >= 0 (0 means greedy), got {temperature}")
    if not isinstance(top_k, int) or top_k < 0:
        raise ConfigError(f"--top-k must be a non-negative integer (0 disables it), got {top_k}")
    if not 0.0 < top_p <= 1.0:
        raise ConfigError(f"--top-p must be in (0, 1] (1 disables it), got {top_p}")


DEFAULT_LENGTH = 512
TIMED_LENGTH_CAP = 8192  # token cap when --bars/--seconds decide the length
XLA_MIN_TOKENS = 16384  # generate() XLA-compiles the loop from this many tokens (num x length)


@dataclass
class GenerationResult:
    """What :func:`generate_files` wrote, with the settings needed to reproduce it."""

    paths: list[Path]
    seed: int
    summaries: list[str]
    extra_paths: list[Path] = field(default_factory=list)
    masked_mass_mean: float = 0.0
    masked_mass_max: float = 0.0

    def to_dict(self) -> dict:
        return {
            "files": [str(path) for path in self.paths],
            "extra_files": [str(path) for path in self.extra_paths],
            "summaries": self.summaries,
            "seed": self.seed,
            "masked_mass": {"mean": self.masked_mass_mean, "max": self.masked_mass_max},
        }


def resolve_checkpoint(checkpoint: Any = None) -> Any:
    """A loaded checkpoint: ``checkpoint`` itself if loaded, else loaded from its directory.

    ``None`` means the shipped model, :data:`musicgen.paths.DEFAULT_CHECKPOINT`.
    """
    if checkpoint is not None and hasattr(checkpoint, "model") and hasattr(checkpoint, "tokenizer"):
        return checkpoint
    from musicgen.checkpoint import load_checkpoint
    from musicgen.paths import DEFAULT_CHECKPOINT

    if checkpoint is None:
        if not DEFAULT_CHECKPOINT.exists():
            raise CheckpointError(
                f"no shipped model at {DEFAULT_CHECKPOINT}; train one with "
                f"'musicgen train data/midi/bach --out {DEFAULT_CHECKPOINT}' or pass --checkpoint DIR"
            )
        checkpoint = DEFAULT_CHECKPOINT
    return load_checkpoint(checkpoint)


def generate_files(
    checkpoint: Any = None,
    num: int = 1,
    length: int | None = None,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    seed: int | None = None,
    primer: str | os.PathLike | None = None,
    tempo: float | None = None,
    program: int | None = None,
    out_dir: str | os.PathLike = "generated",
    bars: float | None = None,
    seconds: float | None = None,
    beam_size: int = 0,
    wav: bool = False,
    soundfont: str | os.PathLike | None = None,
    plot: bool = False,
    sampler: Sampler | None = None,
) -> GenerationResult:
    """Sample ``num`` pieces and write one ``.mid`` each to ``out_dir``; see :func:`generate`."""
    check_sampling_options(temperature, top_k, top_p)
    if seed is None:
        seed = secrets.randbelow(1 << 31)
    if not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"--seed must be a non-negative integer, got {seed!r}")
    if tempo is not None and not 0 < tempo < 10_000:
        raise ConfigError(f"--tempo must be in (0, 10000) beats per minute, got {tempo}")
    if program is not None and not (isinstance(program, int) and 0 <= program <= 127):
        raise ConfigError(f"--program must be a General MIDI program 0..127, got {program!r}")
    if bars is not None and seconds is not None:
        raise ConfigError("give --bars or --seconds, not both")
    for label, value in (("--bars", bars), ("--seconds", seconds)):
        if value is not None and not value > 0:
            raise ConfigError(f"{label} must be positive, got {value}")
    if length is None:
        length = TIMED_LENGTH_CAP if (bars or seconds) else DEFAULT_LENGTH
    if not isinstance(length, int) or length < 1:
        raise ConfigError(f"--length must be a positive integer, got {length!r}")
    soundfont_path = render.check_wav_support(soundfont) if wav else None

    loaded = resolve_checkpoint(checkpoint)
    tokenizer = loaded.tokenizer
    # XLA compiling takes seconds; it pays off only on long runs.
    sampler = sampler or Sampler(loaded.model, tokenizer, jit_compile=num * length >= XLA_MIN_TOKENS)
    prefix, meter = _read_primer(primer, tokenizer)
    numerator, denominator = (meter.numerator, meter.denominator) if meter else (4, 4)
    if tempo is None:
        tempo = meter.tempo if meter else tokenizer.config.default_tempo
    steps_per_quarter = tokenizer.config.steps_per_quarter
    max_time_steps = None
    if bars is not None:
        max_time_steps = round(bars * numerator * 4 / denominator * steps_per_quarter)
    elif seconds is not None:
        max_time_steps = round(seconds * tempo / 60.0 * steps_per_quarter)
    if max_time_steps is not None:
        max_time_steps = max(1, max_time_steps)

    prefix = sampler.check_prefix(prefix, length)
    options = dict(length=length, prefix=prefix, max_time_steps=max_time_steps, disallow_programs=program is not None)
    print(f"sampling {num} x {length} tokens (seed {seed})...", file=sys.stderr)
    if beam_size and beam_size > 1:
        result = sampler.beam_search(beam_size, num=num, **options)
    else:
        result = sampler.sample(num=num, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed, **options)

    stem = Path(loaded.directory).name if getattr(loaded, "directory", None) else "sample"
    paths = render.reserve_paths(out_dir, stem, num, seed)
    summaries, extra = [], []
    for path, row in zip(paths, result.tokens, strict=True):
        pm = tokenizer.decode(row, tempo=tempo, time_signature=(numerator, denominator), program=program)
        render.write_midi(pm, path)
        summaries.append(render.describe_midi(pm))
        if plot:
            extra.append(render.write_piano_roll(pm, path.with_suffix(".png")))
        if soundfont_path is not None:
            extra.append(render.write_wav(path, soundfont_path))
    return GenerationResult(paths, seed, summaries, extra, result.masked_mass_mean, result.masked_mass_max)


def generate(
    checkpoint: Any = None,
    num: int = 1,
    length: int | None = DEFAULT_LENGTH,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    seed: int | None = None,
    primer: str | os.PathLike | None = None,
    tempo: float | None = None,
    program: int | None = None,
    out_dir: str | os.PathLike = "generated",
    **options: Any,
) -> list[Path]:
    """Generate ``num`` MIDI files and return their paths.

    ``checkpoint``: a directory or a loaded checkpoint (default: the shipped Bach model).
    ``length`` counts tokens after BOS, primer included; with ``bars=`` or ``seconds=``
    (of new music after the primer) and ``length=None`` the length is time-based.
    ``temperature=0`` is greedy decoding; ``top_k=0`` and ``top_p=1`` disable those filters.
    ``seed=None`` draws a random seed (see :func:`generate_files` for it and the summaries).
    Further options: ``bars``, ``seconds``, ``beam_size``, ``wav``, ``soundfont``, ``plot``.
    """
    return generate_files(
        checkpoint, num, length, temperature, top_k, top_p, seed, primer, tempo, program, out_dir, **options
    ).paths


def _read_primer(primer: Any, tokenizer: Any) -> tuple[np.ndarray | None, Any]:
    """The primer's tokens without EOS and its meter (tempo, time signature), or ``None``s."""
    if primer is None:
        return None, None
    from musicgen import midi_io

    pm = midi_io.load_midi(primer)
    tokens = np.asarray(tokenizer.encode(pm), np.int32)
    if len(tokens) and tokens[-1] == tokenizer.eos_id:
        tokens = tokens[:-1]
    return tokens, midi_io.read_meter(pm, tokenizer.config.default_tempo)
