"""``musicgen generate``: sample new MIDI files from a trained model."""

from __future__ import annotations

import argparse
import json
import sys

from musicgen.cli import add_verbose
from musicgen.generation.options import GenerationOptions
from musicgen.options import add_options, given

DESCRIPTION = """\
Sample new music from a trained model and write one MIDI file per sample.

The sampler runs the primer (or BOS) once, then generates token by token in one
compiled loop, masking tokens that are impossible in context (in the notes encoding a
duration before a pitch, a track the header does not have, an instrument the training
data never had; in the events encoding a NOTE_OFF for a silent pitch, ...), so every
sample decodes cleanly. The same seed, checkpoint and options give byte-identical
files; without --seed a random one is drawn and printed.

examples:
  musicgen generate                                  one piece from checkpoints/base
  musicgen generate --num 4 --bars 16 --temperature 0.9 --top-p 0.95 --seed 7
  musicgen generate --checkpoint checkpoints/mine --primer opening.mid --length 1024
  musicgen generate --temperature 0 --program 40 --tempo 90 --plot   (greedy, violin)
  musicgen generate --instruments violin,viola,cello --key "D minor" --density high
  musicgen generate --style essenFolksong --key "G major" --bars 16
  musicgen generate --chords "C G Am F" --instruments piano,bass,drums --bars 16
  musicgen generate --form "A8 B8 A8" --variation 0 --instruments piano,bass,drums
  musicgen generate --checkpoint checkpoints/base --primer song.mid --primer-bars 8 --bars 8
"""

GROUPS = {
    "length (tokens, or time converted through the grid and tempo)": ("length", "bars", "seconds"),
    "sampling": ("temperature", "top_k", "top_p", "seed", "beam_size", "precision"),
    "steering (models in the notes encoding with controls)": ("instruments", "key", "key_guidance", "density", "candidates",
                                                               "style", "chords", "chord_guidance", "groove",
                                                               "voice_leading", "controls"),
    "music": ("form", "variation", "primer", "primer_bars", "tempo", "program", "quantize"),
    "output": ("out_dir", "plot", "wav", "soundfont"),
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="sample new MIDI files from a trained model",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_verbose(parser)
    parser.add_argument("--checkpoint", metavar="DIR", help="checkpoint directory (default: checkpoints/base, the shipped base model)")
    add_options(parser, GenerationOptions, ["num"])
    for title, names in GROUPS.items():
        add_options(parser.add_argument_group(title), GenerationOptions, names)
    parser.add_argument(
        "--json", action="store_true", help="print a JSON summary (files, seed, masked mass) as the last line"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from musicgen.generation.session import Session

    options = GenerationOptions(**given(args, GenerationOptions))
    session = Session(args.checkpoint)
    result = session.generate(options, progress=lambda message: print(message, file=sys.stderr, flush=True))
    for remark in result.remarks:
        print(f"note: {remark}", file=sys.stderr)
    session.write(result, options)
    for path, summary in zip(result.paths, result.summaries, strict=True):
        print(f"{path}  ({summary})")
    for path in result.extra_paths:
        print(path)
    print(f"seed {result.seed} (pass --seed {result.seed} to reproduce)", file=sys.stderr)
    if getattr(args, "verbose", False):
        print(
            f"grammar mask removed {result.masked_mass_mean:.2%} of the probability mass per step "
            f"on average, {result.masked_mass_max:.2%} at most",
            file=sys.stderr,
        )
    if args.json:
        print(json.dumps(result.to_dict(), sort_keys=True))
    return 0
