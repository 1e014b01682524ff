"""``musicgen studio``: a local web page to generate, steer, edit and listen (needs the ``studio`` extra)."""

from __future__ import annotations

import argparse

from musicgen.cli import add_verbose

DESCRIPTION = """\
Start a local web page (Gradio) where the options of 'musicgen generate', 'infill' and
'accompany' are controls: press Generate, see the piano roll, hear it (FluidSynth and a
General MIDI soundfont), download the .mid, keep what you like in the history, and copy
the command that makes a piece again. The model is loaded once and its sampler compiled
once, before the address is printed. Nothing is fetched from the network and no share
link is made; by default only this machine can open the page.

Needs Gradio: pip install -e ".[studio]"

examples:
  musicgen studio                                   the base model, http://127.0.0.1:7860
  musicgen studio --checkpoint checkpoints/mine --port 8000
  musicgen studio --host 0.0.0.0                    let other machines on the network in
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("studio", help="a local web page to generate, edit and listen",
                                   description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_verbose(parser)
    parser.add_argument("--checkpoint", metavar="DIR",
                        help="checkpoint directory (default: checkpoints/base, the shipped base model)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0: every interface)")
    parser.add_argument("--port", type=int, metavar="N", help="port (default: the first free one from 7860)")
    parser.add_argument("--out", dest="out_dir", default="generated", metavar="DIR",
                        help="where the pieces are written (default: generated)")
    parser.add_argument("--soundfont", metavar="PATH",
                        help="General MIDI .sf2 soundfont for the audio (default: $MUSICGEN_SOUNDFONT or a system one)")
    parser.add_argument("--warm-up", action=argparse.BooleanOptionalAction, default=True,
                        help="compile the sampler before serving, so the first Generate is fast (default: on)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from musicgen.studio.server import serve

    serve(args.checkpoint, args.host, args.port, args.out_dir, args.soundfont, args.warm_up,
          announce=lambda line: print(line, flush=True))
    return 0
