"""What ``musicgen infill`` and ``musicgen accompany`` share: options, the checkpoint, the written file."""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from pathlib import Path

from musicgen.generation.options import GenerationOptions
from musicgen.options import add_options

SAMPLING = ("temperature", "top_k", "top_p", "seed")


def add_common(parser: argparse.ArgumentParser) -> None:
    """The input file, the checkpoint, sampling and output options."""
    parser.add_argument("file", metavar="FILE", help="the MIDI (or MusicXML, ABC) file to edit")
    parser.add_argument("--checkpoint", metavar="DIR",
                        help="checkpoint directory, a model in the notes encoding (default: checkpoints/base)")
    add_options(parser.add_argument_group("sampling"), GenerationOptions, SAMPLING)
    add_options(parser.add_argument_group("output"), GenerationOptions, ("out_dir", "plot"))
    parser.add_argument("--json", action="store_true", help="print a JSON summary as the last line")


def checkpoint(args: argparse.Namespace):
    from musicgen.errors import CheckpointError
    from musicgen.paths import BASE_CHECKPOINT
    from musicgen.training.checkpoint import load_checkpoint

    directory = Path(args.checkpoint) if args.checkpoint else BASE_CHECKPOINT
    if args.checkpoint is None and not directory.exists():
        raise CheckpointError(f"no base model at {directory}; pass --checkpoint DIR (a model in the notes encoding)")
    return load_checkpoint(directory)


def seed(args: argparse.Namespace) -> int:
    return secrets.randbelow(1 << 31) if args.seed is None else args.seed


def write(args: argparse.Namespace, loaded, result, suffix: str, seed_used: int) -> int:
    """Write the edited piece (and a piano roll with --plot); print what was done."""
    from musicgen.music import midi_io, render

    stem = f"{Path(args.file).stem}-{suffix}"
    path = render.reserve_paths(args.out_dir, stem, 1, seed_used)[0]
    tempo = result.piece.tempo
    try:
        render.write_midi(midi_io.piece_to_midi(result.piece, tempo,
                                                resolution=loaded.tokenizer.midi_resolution(tempo)), path)
    except BaseException:
        render.release_paths([path])
        raise
    extra = [str(render.write_piano_roll(midi_io.load_midi(path), path.with_suffix(".png")))] if args.plot else []
    print(f"{path}  ({result.summary})")
    for item in extra:
        print(item)
    print(f"seed {seed_used} (pass --seed {seed_used} to reproduce)", file=sys.stderr)
    if args.json:
        mean, largest = result.masked_mass
        print(json.dumps({"files": [str(path), *extra], "seed": seed_used, "summary": result.summary,
                          "masked_mass": {"mean": mean, "max": largest}}, sort_keys=True))
    return 0
