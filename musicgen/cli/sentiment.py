"""``musicgen sentiment``: not yet available (placeholder until its issue lands)."""

from __future__ import annotations

import argparse
import sys

from musicgen.cli import add_verbose


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("sentiment", help="(not yet available)")
    add_verbose(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    print("musicgen sentiment: not yet available in this version.", file=sys.stderr)
    return 1
