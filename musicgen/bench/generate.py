"""``musicgen bench generate``: sampler tokens/s against a plain loop and naive re-feeding.

The model is a 2 x 512 LSTM (vocab 400, embedding 128) with random weights. Measured in
one run, all on the same weights:

- ``batch1`` / ``batch64``: :class:`musicgen.sampling.Sampler` as shipped (folded input
  table, fused products, grammar mask, ``tf.while_loop`` compiled with XLA);
  ``*_no_xla`` the same loop as a plain TensorFlow graph;
- ``reference_batch1`` / ``reference_batch64``: a plain compiled ``tf.while_loop`` over
  Keras's own ``keras.layers.LSTMCell``s, embedding lookup and Dense, no grammar;
- ``naive_refeed``: the TensorFlow music tutorial's method, ``model.predict`` over the
  last 64 tokens for every new token (batch 1).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from musicgen.bench import time_calls

VOCAB_SIZE, UNITS, LAYERS, EMBEDDING_DIM, WINDOW = 400, 512, 2, 128, 64


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this benchmark's options."""
    parser.add_argument("--tokens", type=int, default=256, help="tokens generated per timed call (default: 256)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per variant; the median counts")
    parser.add_argument("--naive-tokens", type=int, default=12, help="tokens for the slow naive method")
    parser.add_argument("--skip-plain", action="store_true", help="skip the variants without XLA")


def build_benchmark_model() -> tuple[Any, Any]:
    """The random 2 x 512 LSTM language model and a tokenizer with exactly 400 ids."""
    import keras

    from musicgen.models import build_language_model
    from musicgen.tokenizer import Tokenizer, TokenizerConfig

    keras.utils.set_random_seed(0)
    default_vocab = Tokenizer().vocab_size
    tokenizer = Tokenizer(TokenizerConfig(max_shift_steps=48 + VOCAB_SIZE - default_vocab))
    model = build_language_model(
        VOCAB_SIZE, cell="lstm", units=UNITS, num_layers=LAYERS, embedding_dim=EMBEDDING_DIM, implementation="keras"
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


def run(args: argparse.Namespace) -> dict:
    import tensorflow as tf

    from musicgen.sampling import Sampler

    model, tokenizer = build_benchmark_model()
    length, repeats = args.tokens, args.repeats
    result: dict[str, float] = {}
    variants = [("", Sampler(model, tokenizer, jit_compile=True))]
    if not args.skip_plain:
        variants.append(("_no_xla", Sampler(model, tokenizer, jit_compile=False)))
    reference = reference_loop(model, length)
    for batch in (1, 64):
        for suffix, sampler in variants:
            steps = []

            def call(sampler: Sampler = sampler, steps: list = steps, batch: int = batch) -> None:
                steps.append(sampler.sample(num=batch, length=length, seed=len(steps)).loop_steps)

            timing = time_calls(call, repeats=repeats, warmup=1)
            # Sequences that end early (EOS) stop the loop early: count the steps run.
            per_call = sorted(steps[1:])[len(steps[1:]) // 2]
            result[f"batch{batch}{suffix}"] = round(batch * per_call / timing.median, 1)
            print(f"sampler{suffix} batch {batch}: {result[f'batch{batch}{suffix}']} tokens/s", file=sys.stderr)
        timing = time_calls(lambda batch=batch: reference(tf.constant(batch), tf.constant(0, tf.int64)), repeats)
        result[f"reference_batch{batch}"] = round(batch * length / timing.median, 1)
        print(f"reference batch {batch}: {result[f'reference_batch{batch}']} tokens/s", file=sys.stderr)
    timing = time_calls(lambda: naive_refeed(model, args.naive_tokens), repeats=1, warmup=1)
    result["naive_refeed"] = round(args.naive_tokens / timing.median, 2)
    print(f"naive re-feeding batch 1: {result['naive_refeed']} tokens/s", file=sys.stderr)
    return {
        "tokens_per_s": result,
        "model": f"{LAYERS} x {UNITS} LSTM, vocab {VOCAB_SIZE}, embedding {EMBEDDING_DIM}, random weights",
        "tokens_per_call": length,
        "repeats": repeats,
    }
