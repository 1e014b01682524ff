"""``musicgen bench generate``: sampler tokens/s against a plain loop and naive re-feeding.

The model is a 2 x 512 LSTM (vocab 400, embedding 128) with random weights. Measured in
one run, all on the same weights:

- ``batch1`` / ``batch64``: :class:`musicgen.generation.sampler.Sampler` as shipped (folded input
  table, grammar mask, ``jit_compile="auto"``: the whole loop under XLA
  at batch 1, only the per-step token choice under XLA at batch 64); ``*_no_xla`` the
  same loop as a plain TensorFlow graph; ``batch64_whole_loop_xla`` the whole loop under
  XLA at batch 64;
- ``reference_batch1`` / ``reference_batch64``: a plain compiled ``tf.while_loop`` over
  Keras's own ``keras.layers.LSTMCell``s, embedding lookup and Dense, no grammar;
- ``naive_refeed``: the TensorFlow music tutorial's method, ``model.predict`` over the
  last 64 tokens for every new token (batch 1).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import numpy as np

from musicgen.bench import time_calls

VOCAB_SIZE, UNITS, LAYERS, EMBEDDING_DIM, WINDOW = 400, 512, 2, 128, 64


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this benchmark's options."""
    parser.add_argument("--tokens", type=int, default=256, help="tokens generated per timed call (default: 256)")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (each calls every variant once); the median counts (default: 5)")
    parser.add_argument("--naive-tokens", type=int, default=12, help="tokens for the slow naive method")
    parser.add_argument("--skip-plain", action="store_true", help="skip the variants without XLA")
    parser.add_argument("--precision", choices=("float32", "bfloat16", "both"), default="float32",
                        help="the step network's products; 'both' adds the shipped sampler in bfloat16 beside "
                        "float32, interleaved (default float32)")
    parser.add_argument("--no-machine", action="store_true", help="skip measuring the machine's product rates")
    parser.add_argument("--encoding", choices=("events", "notes"), default="events",
                        help="whose grammar the sampler runs: the events encoding (400 tokens, as first measured) or "
                        "the notes encoding with chords and repeated parts (439 tokens) (default events)")


NOTES = dict(velocity_bins=8, max_tracks=8, use_programs=False, chords=True, repeats=(1, 2, 4, 8), min_pitch=36,
             max_pitch=96)


def build_benchmark_model(encoding: str = "events") -> tuple[Any, Any]:
    """The random 2 x 512 LSTM language model and its tokenizer: the events encoding with exactly
    400 ids (as when the benchmark was first measured: ratios stay comparable), or the notes
    encoding with chords and repeated parts (439 ids)."""
    import keras

    from musicgen.models.language import build_language_model
    from musicgen.tokens import Tokenizer, TokenizerConfig

    keras.utils.set_random_seed(0)
    default_vocab = Tokenizer(TokenizerConfig(encoding="events")).vocab_size
    configs = {"notes": TokenizerConfig(**NOTES),
               "events": TokenizerConfig(encoding="events", max_shift_steps=48 + VOCAB_SIZE - default_vocab)}
    tokenizer = Tokenizer(configs[encoding])
    model = build_language_model(
        tokenizer.vocab_size, cell="lstm", units=UNITS, num_layers=LAYERS, embedding_dim=EMBEDDING_DIM,
        implementation="keras",
    )
    return model, tokenizer


def reference_loop(model: Any, length: int) -> Any:
    """A plain compiled ``tf.while_loop`` over ``keras.layers.LSTMCell``s with ``model``'s weights."""
    import keras
    import tensorflow as tf

    embedding = model.get_layer("embedding").embeddings
    cells = []
    for index in range(1, LAYERS + 1):
        source = model.get_layer(f"rnn_{index}").cell
        cell = keras.layers.LSTMCell(UNITS)
        cell.build((None, source.kernel.shape[0]))
        cell.set_weights(source.get_weights())
        cells.append(cell)
    output = model.get_layer("logits")

    @tf.function
    def loop(batch_size: Any, seed: Any) -> Any:
        states = [[tf.zeros([batch_size, UNITS]), tf.zeros([batch_size, UNITS])] for _ in cells]
        tokens = tf.TensorArray(tf.int32, size=length)

        def body(t, token, states, tokens):
            hidden = tf.gather(embedding, token)
            new_states = []
            for cell, state in zip(cells, states, strict=True):
                hidden, state = cell(hidden, state)
                new_states.append(state)
            logits = output(hidden)
            token = tf.random.stateless_categorical(logits, 1, tf.stack([seed, tf.cast(t, tf.int64)]), tf.int32)[:, 0]
            return t + 1, token, new_states, tokens.write(t, token)

        _, _, _, tokens = tf.while_loop(
            lambda t, *rest: t < length, body, (tf.constant(0), tf.ones([batch_size], tf.int32), states, tokens)
        )
        return tokens.stack()

    return loop


def naive_refeed(model: Any, tokens: int) -> None:
    """The music tutorial's loop: predict on the last 64 tokens, sample one, append, repeat."""
    import numpy as np
    import tensorflow as tf

    sequence = [1]
    for _ in range(tokens):
        window = np.asarray(sequence[-WINDOW:], np.int32)[np.newaxis]
        logits = model.predict(window, verbose=0)[:, -1]
        sequence.append(int(tf.random.categorical(logits, 1)[0, 0]))


def interleaved_rates(calls: dict[str, Any], repeats: int) -> dict[str, float]:
    """Median tokens/s of each ``call`` (returning its token count), timed in turns.

    One warm-up call each (tracing, XLA compiling), then ``repeats`` rounds that call every
    variant once: on a shared machine the load then falls on all variants alike.
    """
    for call in calls.values():
        call()
    rates: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            tokens = call()
            rates[name].append(tokens / (time.perf_counter() - start))
    return {name: round(float(np.median(values)), 1) for name, values in rates.items()}


def run(args: argparse.Namespace) -> dict:
    import tensorflow as tf

    from musicgen.generation.sampler import Sampler

    model, tokenizer = build_benchmark_model(args.encoding)
    length, repeats = args.tokens, args.repeats
    precisions = ("float32", "bfloat16") if args.precision == "both" else (args.precision,)
    samplers = {"" if precision == "float32" else f"_{precision}": Sampler(model, tokenizer, precision=precision)
                for precision in precisions}
    if not args.skip_plain:
        samplers["_no_xla"] = Sampler(model, tokenizer, jit_compile=False)
        samplers["_whole_loop_xla"] = Sampler(model, tokenizer, jit_compile=True)
    reference = reference_loop(model, length)
    result: dict[str, float] = {}
    for batch in (1, 64):
        calls: dict[str, Any] = {}
        for suffix, sampler in samplers.items():
            if suffix == "_whole_loop_xla" and next(iter(samplers.values())).loop_mode(batch) is True:
                continue  # the shipped sampler already runs this
            seeds = iter(range(1_000_000))

            # Sequences that end early (EOS) stop the loop early: count the steps run.
            def call(sampler: Sampler = sampler, seeds: Any = seeds, batch: int = batch) -> int:
                return batch * sampler.sample(num=batch, length=length, seed=next(seeds)).loop_steps

            calls[f"batch{batch}{suffix}"] = call

        def reference_call(batch: int = batch) -> int:
            reference(tf.constant(batch), tf.constant(0, tf.int64)).numpy()
            return batch * length

        calls[f"reference_batch{batch}"] = reference_call
        for name, rate in interleaved_rates(calls, repeats).items():
            result[name] = rate
            print(f"{name}: {rate} tokens/s", file=sys.stderr)
    timing = time_calls(lambda: naive_refeed(model, args.naive_tokens), repeats=1, warmup=1)
    result["naive_refeed"] = round(args.naive_tokens / timing.median, 2)
    print(f"naive re-feeding batch 1: {result['naive_refeed']} tokens/s", file=sys.stderr)
    extra: dict[str, Any] = {"vs_reference": {
        name: round(rate / result[f"reference_{name.split('_')[0]}"], 3) for name, rate in result.items()
        if name.startswith("batch")}}
    if "batch1_bfloat16" in result and "batch1" in result:
        extra["bfloat16_ratio"] = {f"batch{batch}": round(result[f"batch{batch}_bfloat16"] / result[f"batch{batch}"], 3)
                                   for batch in (1, 64)}
    if not args.no_machine:
        from musicgen.bench import machine_report

        machine = machine_report({"square_2048": (2048, 2048, 2048), "step_batch1": (1, UNITS, 4 * UNITS),
                                  "step_batch64": (64, UNITS, 4 * UNITS)})
        flops = 2 * (4 * UNITS * (UNITS + UNITS) * (LAYERS - 1) + 4 * UNITS * UNITS + UNITS * tokenizer.vocab_size)
        rates = machine["matmul_gflops"]
        extra["machine"] = machine
        extra["share_of_step_product_rate"] = {
            name: round(rate * flops / 1e9 / rates[f"step_{name.split('_')[0]}"][
                "bfloat16" if name.endswith("bfloat16") else "float32"], 3)
            for name, rate in result.items() if name.startswith("batch")}
    return {
        **extra,
        "tokens_per_s": result,
        "model": f"{LAYERS} x {UNITS} LSTM, vocab {tokenizer.vocab_size}, embedding {EMBEDDING_DIM}, random weights",
        "encoding": args.encoding,
        "tokens_per_call": length,
        "repeats": repeats,
        "timing": "interleaved: each round calls every variant once; median over rounds",
    }
