"""``musicgen generate``: sample new MIDI files from a trained model."""

from __future__ import annotations

import argparse
import json
import sys

from musicgen.cli import add_verbose

DESCRIPTION = """\
Sample new music from a trained model and write one MIDI file per sample.

The sampler runs the primer (or BOS) once, then generates token by token in one
compiled loop, masking tokens that are impossible in context (a NOTE_OFF for a
silent pitch, a second NOTE_ON for a sounding one, EOS before any note, ...), so
every sample decodes cleanly. The same seed, checkpoint and options give
byte-identical files; without --seed a random one is drawn and printed.

examples:
  musicgen generate                                  one piece from checkpoints/bach
  musicgen generate --num 4 --bars 16 --temperature 0.9 --top-p 0.95 --seed 7
  musicgen generate --checkpoint checkpoints/mine --primer opening.mid --length 1024
  musicgen generate --temperature 0 --program 40 --tempo 90 --plot   (greedy, violin)
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="sample new MIDI files from a trained model",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_verbose(parser)
    parser.add_argument("--checkpoint", metavar="DIR", help="checkpoint directory (default: checkpoints/bach)")
    parser.add_argument("--num", type=int, default=1, help="number of pieces, sampled as one batch (default: 1)")
    length = parser.add_argument_group("length (tokens, or time converted through the grid and tempo)")
    length.add_argument(
        "--length", type=int, help="tokens per piece after BOS, primer included (default: 512; "
        "with --bars/--seconds a cap of 8192)",
    )
    length.add_argument("--bars", type=float, help="stop after this many bars of new music")
    length.add_argument("--seconds", type=float, help="stop after this many seconds of new music")
    sampling = parser.add_argument_group("sampling")
    sampling.add_argument(
        "--temperature", type=float, default=1.0,
        help="softmax temperature; lower is safer, 0 means greedy (default: 1.0)",
    )
    sampling.add_argument("--top-k", type=int, default=0, help="sample among the K most likely tokens (0: off)")
    sampling.add_argument(
        "--top-p", type=float, default=1.0, help="nucleus sampling: smallest set of mass P, in (0, 1] (1: off)"
    )
    sampling.add_argument("--seed", type=int, help="random seed (default: random, printed)")
    sampling.add_argument(
        "--beam-size", type=int, default=0,
        help="beam search with this many beams instead of sampling (returns the --num best)",
    )
    music = parser.add_argument_group("music")
    music.add_argument("--primer", metavar="FILE.mid", help="continue this MIDI file instead of starting fresh")
    music.add_argument("--tempo", type=float, help="tempo in BPM (default: the primer's, else 120)")
    music.add_argument(
        "--program", type=int, help="General MIDI program 0-127 for single-instrument output (e.g. 40 violin)"
    )
    output = parser.add_argument_group("output")
    output.add_argument("--out", default="generated", metavar="DIR", help="output directory (default: generated/)")
    output.add_argument("--plot", action="store_true", help="also write a piano-roll PNG per piece")
    output.add_argument("--wav", action="store_true", help="also render a WAV per piece (needs FluidSynth)")
    output.add_argument("--soundfont", metavar="PATH", help="General MIDI .sf2 soundfont for --wav")
    output.add_argument(
        "--json", action="store_true", help="print a JSON summary (files, seed, masked mass) as the last line"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from musicgen.generation import generate_files

    result = generate_files(
        checkpoint=args.checkpoint,
        num=args.num,
        length=args.length,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
        primer=args.primer,
        tempo=args.tempo,
        program=args.program,
        out_dir=args.out,
        bars=args.bars,
        seconds=args.seconds,
        beam_size=args.beam_size,
        wav=args.wav,
        soundfont=args.soundfont,
        plot=args.plot,
    )
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
