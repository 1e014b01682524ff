"""``musicgen prepare``: encode a folder of MIDI/score files into a reusable token cache."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time

from musicgen.cli import add_verbose
from musicgen.errors import ConfigError
from musicgen.options import add_options, given
from musicgen.tokens import TokenizerConfig

DESCRIPTION = """\
Scan MIDI_DIR recursively for .mid/.midi files (and .xml, .mxl, .musicxml, .abc, .krn
scores, read through music21; a collection gives one piece per tune), read them in
parallel, profile the folder (instruments, drums, quantised or performed timing, the
sustain pedal), choose the tokenizer for it (each choice can be overridden below),
encode every piece and write a token cache: token arrays, manifest.json (the tokenizer
config, every file's path, size and SHA-256, every piece's split and figures) and
report.json. Files and tunes that cannot be read are skipped and listed, never dropped
silently. Running it again reuses the cache while the files and the options are
unchanged, and re-encodes only the files that changed.

examples:
  musicgen prepare data/midi/bach --out cache/bach
  musicgen prepare my_piano_recordings --out cache/piano --timing seconds --pedal events
  musicgen prepare jsb_chorales.json.gz      # a piano-roll data set: its own splits, frames
  musicgen train cache/bach --out checkpoints/mine
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "prepare", help="encode a MIDI folder into a token cache",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("midi_dir", metavar="MIDI_DIR",
                        help="folder of MIDI or score files (searched recursively), or a piano-roll file (.json, "
                             ".json.gz, .pickle: its own train/valid/test splits, the frames encoding)")
    parser.add_argument(
        "--out", metavar="CACHE_DIR", default=None,
        help="cache directory (default: $XDG_CACHE_HOME/musicgen/prepared/<folder>-<hash>)",
    )
    parser.add_argument("--workers", type=int, default=None, metavar="N", help="encoding processes (default: CPU count)")
    parser.add_argument(
        "--split", default="0.8,0.1,0.1", metavar="TRAIN,VALIDATION,TEST",
        help="split fractions by file (default: 0.8,0.1,0.1)",
    )
    parser.add_argument("--force", action="store_true", help="re-encode every file even if the cache is current")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 if any file was skipped")
    add_tokenizer_options(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print report.json's content instead of the summary")
    add_verbose(parser)
    parser.set_defaults(handler=run)


def add_tokenizer_options(parser: argparse.ArgumentParser) -> None:
    """The tokenizer's options: each one chosen from the folder's profile unless given."""
    group = parser.add_argument_group(
        "tokenizer (default: chosen for the folder from its profile; any option given here wins)"
    )
    group.add_argument("--tokenizer", metavar="FILE",
                       help="encode with this tokenizer JSON (e.g. a checkpoint's tokenizer.json), changed by the options")
    add_options(group, TokenizerConfig, with_defaults=False, auto=True)


def tokenizer_request(args: argparse.Namespace) -> tuple[TokenizerConfig | None, dict]:
    """``(config, options)``: a fixed config (from ``--tokenizer FILE``) or the options that win over the profile's choices."""
    from musicgen.tokens import Tokenizer

    options = given(args, TokenizerConfig)
    if args.tokenizer:
        return dataclasses.replace(Tokenizer.load(args.tokenizer).config, **options), {}
    TokenizerConfig(**options)  # a bad value is an error now, before any file is read
    return None, options


def parse_fractions(text: str) -> tuple[float, float, float]:
    """``"0.8,0.1,0.1"`` -> ``(0.8, 0.1, 0.1)``."""
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3:
        raise ConfigError(f"--split wants three comma-separated fractions like 0.8,0.1,0.1, got {text!r}")
    return values


def run(args: argparse.Namespace) -> int:
    from musicgen.data.cache import REPORT_NAME
    from musicgen.data.prepare import prepare

    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {args.workers}")
    start = time.perf_counter()
    config, options = tokenizer_request(args)
    cache = prepare(
        args.midi_dir, args.out, tokenizer_config=config, tokenizer_options=options,
        fractions=parse_fractions(args.split), workers=args.workers,
        progress=not args.no_progress, force=args.force,
    )
    seconds = time.perf_counter() - start
    if args.json:
        print(json.dumps(json.loads((cache.directory / REPORT_NAME).read_text()), sort_keys=True))
    else:
        if cache.status == "reused":
            action = "cache is current, nothing to encode"
        else:
            action = f"{cache.status}: {cache.encoded_files} files read"
        print(f"musicgen prepare: {args.midi_dir} -> {cache.directory} ({action}, {seconds:.1f} s)")
        print(cache.summary())
    if cache.manifest["skipped"]:
        count = len(cache.manifest["skipped"])
        print(f"musicgen prepare: {count} file{'s' * (count != 1)} or piece{'s' * (count != 1)} skipped "
              f"(see {cache.directory / REPORT_NAME})", file=sys.stderr)
        if args.strict:
            return 1
    return 0
