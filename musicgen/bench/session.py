"""``musicgen bench session``: asking a loaded model again against loading it for every request.

In one process, after TensorFlow has started (a throwaway model is built and run first), with
the shipped base model (or ``--checkpoint``), ``--bars`` bars per request:

- ``first``: ``Session(checkpoint)`` plus its first ``generate`` (loading the checkpoint, tracing
  and compiling the sampling loop): what the first request of a page or a notebook costs;
- ``again_other_instruments``: the same session's next ``generate`` with another instrument set
  and seed (no loading, no compiling: the instruments are inputs of the compiled loop);
- ``again_other_key``: the next one with a key asked for instead;
- ``one_shot``: :func:`musicgen.generation.compose.generate_files` with yet other instruments, a
  new session per call (what every call cost before sessions), the baseline of the same run.

Each figure is the median of ``--repeats`` rounds (the first once per round, in a fresh
session); ``ratio_again`` is ``again_other_instruments / first``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time

INSTRUMENT_SETS = ("piano,bass,drums", "violin,viola,cello", "flute,piano", "strings")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this benchmark's options."""
    parser.add_argument("--checkpoint", metavar="DIR", help="the model (default: checkpoints/base)")
    parser.add_argument("--bars", type=int, default=4, help="bars per request (default: 4)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds; the median counts (default: 3)")


def run(args: argparse.Namespace) -> dict:
    import keras
    import numpy as np

    from musicgen.generation.session import Session, generate_files

    warm = keras.Sequential([keras.layers.Input((4,)), keras.layers.Dense(4)])  # TensorFlow started, not timed
    warm.predict(np.zeros((1, 4)), verbose=0)
    seconds: dict[str, list[float]] = {"first": [], "again_other_instruments": [], "again_other_key": [], "one_shot": []}
    with tempfile.TemporaryDirectory() as out:
        for round_ in range(args.repeats):
            sets = INSTRUMENT_SETS[round_ % 2:] + INSTRUMENT_SETS[:round_ % 2]
            start = time.perf_counter()
            session = Session(args.checkpoint)
            session.generate(bars=args.bars, instruments=sets[0], seed=round_)
            seconds["first"].append(time.perf_counter() - start)
            start = time.perf_counter()
            session.generate(bars=args.bars, instruments=sets[1], seed=round_ + 1)
            seconds["again_other_instruments"].append(time.perf_counter() - start)
            start = time.perf_counter()
            session.generate(bars=args.bars, key="D minor", seed=round_ + 2)
            seconds["again_other_key"].append(time.perf_counter() - start)
            start = time.perf_counter()
            generate_files(args.checkpoint, bars=args.bars, instruments=sets[2], seed=round_ + 3, out_dir=out)
            seconds["one_shot"].append(time.perf_counter() - start)
            print(f"round {round_ + 1}: " + ", ".join(f"{name} {values[-1]:.2f} s" for name, values in seconds.items()),
                  file=sys.stderr)
    median = {name: round(statistics.median(values), 3) for name, values in seconds.items()}
    return {
        "seconds": median,
        "ratio_again": round(median["again_other_instruments"] / median["first"], 3),
        "ratio_one_shot": round(median["one_shot"] / median["first"], 3),
        "bars": args.bars,
        "repeats": args.repeats,
        "checkpoint": args.checkpoint or "checkpoints/base",
    }

