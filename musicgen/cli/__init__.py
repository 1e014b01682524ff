"""The ``musicgen`` command line: a thin layer over the library API.

Each subcommand lives in its own module here and exposes ``register(subparsers)``,
which adds its parser and sets ``handler`` to a function ``(args) -> int``.
Modules must not import TensorFlow at import time: ``--help`` stays instant and
:func:`musicgen.runtime.quiet_tensorflow` runs before TensorFlow starts.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from musicgen import __version__
from musicgen.errors import MusicgenError
from musicgen.runtime import quiet_tensorflow

COMMANDS = ("generate", "infill", "accompany", "studio", "train", "evaluate", "prepare", "diagnose", "bench",
            "sentiment", "translate")

DESCRIPTION = """\
Train recurrent networks on MIDI and generate new music.

  musicgen generate                     new MIDI from the shipped base model into generated/
  musicgen infill song.mid --bars 9-12  write bars 9 to 12 again (the base model)
  musicgen accompany tune.mid --instruments bass,drums
  musicgen studio                       a local web page: generate, edit, listen (pip install -e ".[studio]")
  musicgen prepare data/midi/bach --out cache/bach
  musicgen train data/midi/bach --out checkpoints/mine
  musicgen evaluate --checkpoint checkpoints/mine data/midi/bach

Run 'musicgen COMMAND --help' for the options of each command.
"""


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="musicgen", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"musicgen {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show TensorFlow's start-up and device logs"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"musicgen.cli.{name}").register(subparsers)
    return parser


def add_verbose(parser: argparse.ArgumentParser) -> None:
    """Let ``--verbose`` also follow a subcommand (``musicgen train --verbose``)."""
    parser.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
        help="show TensorFlow's start-up and device logs",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``musicgen`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    quiet_tensorflow(verbose=getattr(args, "verbose", False))
    try:
        return int(args.handler(args) or 0)
    except MusicgenError as error:
        print(f"musicgen {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"musicgen {args.command}: interrupted", file=sys.stderr)
        return 130
