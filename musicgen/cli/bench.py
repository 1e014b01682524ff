"""``musicgen bench prepare|train|generate|session``: speed measured against a same-run baseline."""

from __future__ import annotations

import argparse
import importlib
import json

from musicgen.cli import add_verbose

BENCHMARKS = {
    "prepare": "cold prepare of a MIDI folder (notes/s) and cache reload time",
    "train": "training tokens/s of musicgen's recurrent layer against Keras's own",
    "generate": "sampler tokens/s at batch 1 and 64 against a plain while_loop and naive re-feeding",
    "session": "a loaded model asked again (other instruments, another key) against its first request",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench", help="measure speed", description="Measure speed; each benchmark also times a baseline in the same run."
    )
    add_verbose(parser)
    benchmarks = parser.add_subparsers(dest="benchmark", metavar="BENCHMARK", required=True)
    for name, summary in BENCHMARKS.items():
        sub = benchmarks.add_parser(name, help=summary, description=summary)
        sub.add_argument("--json", action="store_true", help="print the result as one JSON object on the last line")
        add_verbose(sub)
        module = importlib.import_module(f"musicgen.bench.{name}")
        module.add_arguments(sub)
        sub.set_defaults(handler=run, bench_module=module)


def run(args: argparse.Namespace) -> int:
    result = args.bench_module.run(args)
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        print(json.dumps(result, indent=2, sort_keys=True))
    return 0
