"""``musicgen accompany``: write new tracks under the tracks of a file."""

from __future__ import annotations

import argparse

from musicgen.cli import add_verbose, editing
from musicgen.generation.options import AccompanyOptions

DESCRIPTION = """\
Write new tracks under FILE's tracks with a model in the notes encoding (by default the
shipped base model). Each bar, the file's own part comes first and the model writes the
new instruments' part having seen it; the file's notes stay exactly as they are.

examples:
  musicgen accompany melody.mid --instruments bass,drums
  musicgen accompany melody.abc --instruments piano --seed 7 --plot
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("accompany", help="write new tracks under a file's tracks",
                                   description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_verbose(parser)
    editing.add_common(parser, AccompanyOptions, ("instruments", "chords"))
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from musicgen.generation.session import accompany

    return editing.report(args, accompany(args.file, editing.options_of(args, AccompanyOptions), args.checkpoint))
