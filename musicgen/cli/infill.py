"""``musicgen infill``: write bars of a file again, so that they join both sides."""

from __future__ import annotations

import argparse

from musicgen.cli import add_verbose, editing
from musicgen.generation.options import InfillOptions

DESCRIPTION = """\
Write bars of FILE again with a model trained for infilling (the notes encoding; by
default the shipped base model): the model sees the bars on both sides of the region and
writes bars that join them. With --tracks only those tracks are written again and the
others stay. Every note outside the region, and of the other tracks, is the file's own.

examples:
  musicgen infill song.mid --bars 9-12
  musicgen infill song.mid --bars 9-12 --tracks bass --seed 3 --plot
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("infill", help="write bars of a file again (all tracks or some)",
                                   description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_verbose(parser)
    editing.add_common(parser, InfillOptions, ("bars", "tracks"))
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from musicgen.generation.session import infill

    return editing.report(args, infill(args.file, editing.options_of(args, InfillOptions), args.checkpoint))
