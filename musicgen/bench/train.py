"""``musicgen bench train``: training tokens/s of musicgen's recurrent layer against Keras's,
and in bfloat16 against float32 (``--precision both``), with the share of the machine's own
matrix-product rate (measured in the same run) that training reaches.

Both models are built with the same architecture and trained with the project's real
step (Adam with ``clipnorm=1.0``, sparse cross-entropy from logits,
``model.train_on_batch``) on random tokens. Their batches are interleaved, so machine
load affects both alike; tokens/s comes from the median batch time after warm-up.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from musicgen.errors import ConfigError

CELLS = ("lstm", "gru", "rnn", "irnn")
IMPLEMENTATIONS = ("custom", "keras")
JIT_CHOICES = ("auto", "true", "false")
_JIT_VALUES = {"auto": "auto", "true": True, "false": False}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this benchmark's options."""
    parser.description = (
        "Time training of a recurrent language model on random tokens with musicgen's fused "
        "recurrent layer ('custom') and Keras's own layer ('keras'), interleaved in one run.\n\n"
        "example: musicgen bench train --cell lstm --steps 10 --json"
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--cell", choices=CELLS, default="lstm", help="recurrent cell (default lstm)")
    parser.add_argument(
        "--implementation",
        choices=(*IMPLEMENTATIONS, "both"),
        default="both",
        help="which layer to time (default both, interleaved)",
    )
    parser.add_argument("--units", type=int, default=512, help="units per layer (default 512)")
    parser.add_argument("--layers", type=int, default=2, help="recurrent layers (default 2)")
    parser.add_argument("--seq-len", type=int, default=256, help="tokens per sequence (default 256)")
    parser.add_argument("--batch-size", type=int, default=32, help="sequences per batch (default 32)")
    parser.add_argument("--vocab-size", type=int, default=400, help="vocabulary size (default 400)")
    parser.add_argument("--embedding-dim", type=int, default=128, help="embedding size (default 128)")
    parser.add_argument("--steps", type=int, default=20, help="timed batches per implementation (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed batches first (default 3)")
    parser.add_argument(
        "--jit-compile",
        choices=JIT_CHOICES,
        default="auto",
        help="model.compile(jit_compile=...) for the custom model (default auto: no XLA on CPU, "
        "measured faster here than XLA for this model)",
    )
    parser.add_argument(
        "--keras-jit-compile",
        choices=JIT_CHOICES,
        default="auto",
        help="model.compile(jit_compile=...) for the Keras model (default auto: Keras's own "
        "choice, no XLA on CPU)",
    )
    parser.add_argument(
        "--precision", choices=("float32", "bfloat16", "both"), default="float32",
        help="precision of musicgen's layer's products; 'both' times the custom layer in each, interleaved "
        "(default float32)",
    )
    parser.add_argument("--no-machine", action="store_true", help="skip measuring the machine's product rates")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def _check(args: argparse.Namespace) -> None:
    for name in ("units", "layers", "seq_len", "batch_size", "vocab_size", "embedding_dim", "steps"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.warmup < 0:
        raise ConfigError(f"--warmup must be at least 0, got {args.warmup}")


def build_model(args: argparse.Namespace, implementation: str):
    """The benchmark's language model, from ``musicgen.models.language`` when that module exists."""
    try:
        from musicgen.models.language import build_language_model
    except ImportError:
        build_language_model = None
    if build_language_model is not None:
        return build_language_model(
            args.vocab_size,
            cell=args.cell,
            units=args.units,
            num_layers=args.layers,
            embedding_dim=args.embedding_dim,
            implementation=implementation,
        )
    return _inline_language_model(args, implementation)


def _inline_language_model(args: argparse.Namespace, implementation: str):
    """The same architecture as ``models.build_language_model``, built from Keras cells."""
    import keras
    from keras import layers

    from musicgen.models.recurrent import Recurrent

    def recurrent(name: str):
        activation = "relu" if args.cell == "irnn" else "tanh"
        recurrent_initializer = "identity" if args.cell == "irnn" else "orthogonal"
        if implementation == "keras":
            if args.cell == "lstm":
                return layers.LSTM(args.units, return_sequences=True, name=name)
            if args.cell == "gru":
                return layers.GRU(args.units, return_sequences=True, name=name)
            return layers.SimpleRNN(
                args.units, activation=activation, recurrent_initializer=recurrent_initializer,
                return_sequences=True, name=name,
            )
        if args.cell == "lstm":
            cell = layers.LSTMCell(args.units)
        elif args.cell == "gru":
            cell = layers.GRUCell(args.units)
        else:
            cell = layers.SimpleRNNCell(
                args.units, activation=activation, recurrent_initializer=recurrent_initializer
            )
        return Recurrent(cell, return_sequences=True, name=name)

    tokens = keras.Input((None,), dtype="int32", name="tokens")
    hidden = layers.Embedding(args.vocab_size, args.embedding_dim, name="embedding")(tokens)
    for index in range(1, args.layers + 1):
        hidden = recurrent(f"rnn_{index}")(hidden)
    logits = layers.Dense(args.vocab_size, name="logits", dtype="float32")(hidden)
    return keras.Model(tokens, logits, name=f"{args.cell}_language_model")


def compile_for_training(model, jit_compile="auto") -> None:
    """The project's training step: Adam(1e-3, clipnorm 1.0) on sparse cross-entropy of logits."""
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=1e-3, clipnorm=1.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )


def run(args: argparse.Namespace) -> dict:
    """Time training steps for each implementation, interleaved; return tokens/s and ratio."""
    _check(args)
    from musicgen.runtime import set_seed

    set_seed(args.seed)
    models, variants = _variants(args)
    seconds, cpu_seconds, losses = _timed_steps(args, models)
    implementations = tuple(models)
    tokens_per_batch = args.batch_size * args.seq_len
    tokens_per_s = {name: tokens_per_batch / statistics.median(seconds[name]) for name in implementations}
    result = {
        "tokens_per_s": {name: round(value, 1) for name, value in tokens_per_s.items()},
        "median_batch_s": {name: round(statistics.median(seconds[name]), 4) for name in implementations},
        # CPU seconds of this process per batch: less sensitive than wall time to other
        # processes on a shared machine (but counts thread-pool spinning).
        "median_batch_cpu_s": {
            name: round(statistics.median(cpu_seconds[name]), 4) for name in implementations
        },
        "final_loss": {name: round(losses[name][-1], 4) for name in implementations},
        "config": {
            "cell": args.cell,
            "units": args.units,
            "layers": args.layers,
            "seq_len": args.seq_len,
            "batch_size": args.batch_size,
            "vocab_size": args.vocab_size,
            "embedding_dim": args.embedding_dim,
            "steps": args.steps,
            "warmup": args.warmup,
            # Whether TensorFlow's oneDNN kernels were on: on an oversubscribed CPU they
            # measured slower in wall time for the fused layer (docs/benchmarks.md).
            "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default"),
            "jit_compile": {name: args.jit_compile if variants[name][0] == "custom" else args.keras_jit_compile
                            for name in implementations},
            "precision": {name: variants[name][1] for name in implementations},
        },
    }
    if "custom" in tokens_per_s and "keras" in tokens_per_s:
        result["ratio"] = round(tokens_per_s["custom"] / tokens_per_s["keras"], 3)
        result["cpu_ratio"] = round(
            statistics.median(cpu_seconds["keras"]) / statistics.median(cpu_seconds["custom"]), 3
        )
    if "custom" in tokens_per_s and "custom_bfloat16" in tokens_per_s:
        result["bfloat16_ratio"] = round(tokens_per_s["custom_bfloat16"] / tokens_per_s["custom"], 3)
    if not args.no_machine:
        result.update(_fractions(args, tokens_per_s, variants))
    return result


def _variants(args: argparse.Namespace) -> tuple[dict, dict]:
    """The compiled models to time, by name, and each one's (implementation, precision)."""
    from musicgen.models.precision import apply_precision

    layers = IMPLEMENTATIONS if args.implementation == "both" else (args.implementation,)
    precisions = ("float32", "bfloat16") if args.precision == "both" else (args.precision,)
    jit_settings = {"custom": _JIT_VALUES[args.jit_compile], "keras": _JIT_VALUES[args.keras_jit_compile]}
    models, variants = {}, {}
    for implementation in layers:
        for precision in precisions if implementation == "custom" else ("float32",):
            name = implementation if precision == "float32" else f"{implementation}_{precision}"
            model = build_model(args, implementation)
            apply_precision(model, precision)
            compile_for_training(model, jit_settings[implementation])
            models[name], variants[name] = model, (implementation, precision)
    return models, variants


def _timed_steps(args: argparse.Namespace, models: dict) -> tuple[dict, dict, dict]:
    """Wall and CPU seconds and losses of each model's training steps, in turns, after warm-up."""
    import numpy as np
    from tqdm import tqdm

    implementations = tuple(models)
    rng = np.random.default_rng(args.seed)
    shape = (args.batch_size, args.seq_len)
    inputs = rng.integers(0, args.vocab_size, size=shape, dtype=np.int32)
    targets = rng.integers(0, args.vocab_size, size=shape, dtype=np.int32)
    seconds = {name: [] for name in implementations}
    cpu_seconds = {name: [] for name in implementations}
    losses = {name: [] for name in implementations}
    total = (args.warmup + args.steps) * len(implementations)
    with tqdm(total=total, desc=f"bench train {args.cell}", unit="batch", file=sys.stderr) as progress:
        for step in range(args.warmup + args.steps):
            # Alternate which implementation goes first, so neither always follows the other.
            order = implementations if step % 2 == 0 else implementations[::-1]
            for name in order:
                start, cpu_start = time.perf_counter(), time.process_time()
                loss = models[name].train_on_batch(inputs, targets)
                elapsed = time.perf_counter() - start
                if step >= args.warmup:
                    seconds[name].append(elapsed)
                    cpu_seconds[name].append(time.process_time() - cpu_start)
                    losses[name].append(float(np.asarray(loss).reshape(-1)[0]))
                progress.update(1)
    return seconds, cpu_seconds, losses


def training_flops_per_token(args: argparse.Namespace) -> float:
    """Matrix-product FLOPs of one training token: forward products times three (the backward
    pass does two more of each size), recurrent layers and logits."""
    gates = {"lstm": 4, "gru": 3}.get(args.cell, 1)
    macs = sum(gates * args.units * ((args.embedding_dim if index == 0 else args.units) + args.units)
               for index in range(args.layers)) + args.units * args.vocab_size
    return 3 * 2 * macs


def _fractions(args: argparse.Namespace, tokens_per_s: dict, variants: dict) -> dict:
    """The machine's product rates, and the share of them each variant's training reaches."""
    from musicgen.bench import machine_report

    gates = {"lstm": 4, "gru": 3}.get(args.cell, 1) * args.units
    machine = machine_report({"square_2048": (2048, 2048, 2048),
                              "input_projection": (args.batch_size * args.seq_len, args.units, gates),
                              "recurrent_step": (args.batch_size, args.units, gates)})
    flops = training_flops_per_token(args)
    square = machine["matmul_gflops"]["square_2048"]
    reached = {name: round(rate * flops / 1e9 / square[variants[name][1]], 3) for name, rate in tokens_per_s.items()}
    return {"machine": machine, "training_gflops": {name: round(rate * flops / 1e9, 1)
                                                    for name, rate in tokens_per_s.items()},
            "share_of_square_product_rate": reached}
