"""What ``musicgen infill`` and ``musicgen accompany`` share: the file, the checkpoint, the flags, the report."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from musicgen.generation.options import SamplingOptions
from musicgen.options import add_options, given

if TYPE_CHECKING:
    from musicgen.generation.results import Result

SAMPLING = ("temperature", "top_k", "top_p", "seed", "precision", "chord_guidance", "groove", "voice_leading")
OUTPUT = ("out_dir", "plot")


def add_common(parser: argparse.ArgumentParser, options: type[SamplingOptions], own: tuple[str, ...]) -> None:
    """The input file, the checkpoint, the command's ``own`` options, sampling and output."""
    parser.add_argument("file", metavar="FILE", help="the MIDI (or MusicXML, ABC) file to edit")
    parser.add_argument("--checkpoint", metavar="DIR",
                        help="checkpoint directory, a model in the notes encoding (default: checkpoints/base)")
    add_options(parser, options, own)
    add_options(parser.add_argument_group("sampling"), options, SAMPLING)
    add_options(parser.add_argument_group("output"), options, OUTPUT)
    parser.add_argument("--json", action="store_true", help="print a JSON summary as the last line")


def options_of(args: argparse.Namespace, options: type[SamplingOptions]) -> SamplingOptions:
    """The command's options dataclass from its parsed flags."""
    return options(**given(args, options))


def report(args: argparse.Namespace, result: Result) -> int:
    """Print what was written and how to reproduce it."""
    print(f"{result.path}  ({result.summary})")
    for remark in result.remarks:
        print(f"note: {remark}", file=sys.stderr)
    for path in result.extra_paths:
        print(path)
    print(f"seed {result.seed} (pass --seed {result.seed} to reproduce)", file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_dict(), sort_keys=True))
    return 0
