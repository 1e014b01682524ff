"""``musicgen evaluate``: score a checkpoint on held-out pieces next to an n-gram baseline."""

from __future__ import annotations

import argparse
import json

from musicgen.cli import add_verbose
from musicgen.data.splits import SPLIT_CHOICES
from musicgen.generation.steering import CANDIDATES, KEY_GUIDANCE

DESCRIPTION = """\
Score a trained model by teacher forcing on the pieces of a split: mean negative
log-likelihood per token (nats), perplexity and next-token accuracy. Each piece runs
through the model whole, and every token after its first is scored once. The same
tokens are scored by an n-gram baseline fitted on the training split (order and
smoothing chosen on the validation split): a model worth its weights beats it.

DATA defaults to the checkpoint's training data; on that data the checkpoint's own
split.json decides which pieces are test, so training pieces are never scored as test.
With --samples N, N sampled pieces (and N n-gram samples) are compared with the
split's pieces on pitch-class histogram, note density, polyphony and repetition, and
checked for copies of the training pieces: the longest runs of notes and of bars that a
sample shares with a training piece, and the share of its 8-note pitch and interval
n-grams found in the training data (held-out pieces give the same figures for scale).

With --controls, the steering controls are measured instead of the likelihood: pieces
are sampled with each key, density bin and instrument set the model was trained on,
and the report says how often the music has what was asked for.

examples:
  musicgen evaluate --checkpoint checkpoints/mine data/midi/bach
  musicgen evaluate --checkpoint checkpoints/mine --split validation --json
  musicgen evaluate --checkpoint checkpoints/mine --samples 8
  musicgen evaluate --checkpoint checkpoints/base --controls --samples-per-setting 8
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="score a checkpoint on test pieces against an n-gram baseline",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_verbose(parser)
    parser.add_argument("data", metavar="DATA", nargs="?", default=None,
                        help="music folder, piano-roll file or prepared cache (default: the checkpoint's training "
                             "data); a piano-roll file's own test split is scored, frame by frame")
    parser.add_argument("--checkpoint", default=None, metavar="DIR",
                        help="checkpoint directory (default: the shipped base model, checkpoints/base)")
    parser.add_argument("--split", choices=SPLIT_CHOICES, default="test",
                        help="pieces to score (default test)")
    parser.add_argument("--batch-size", type=int, default=8, help="pieces per forward pass (default 8)")
    parser.add_argument("--no-ngram", action="store_true", help="skip the n-gram baseline")
    parser.add_argument("--max-order", type=int, default=8, help="largest n-gram order tried (default 8)")
    parser.add_argument("--samples", type=int, default=0, metavar="N",
                        help="also sample N pieces and report musical figures against the split (default 0)")
    parser.add_argument("--sample-length", type=int, default=None,
                        help="tokens per sample (default: the median length of the split's pieces)")
    parser.add_argument("--controls", action="store_true",
                        help="measure the controls' hit rates (key, density, instruments) instead of the NLL")
    parser.add_argument("--samples-per-setting", type=int, default=8, metavar="N",
                        help="with --controls: pieces sampled per control setting (default 8)")
    parser.add_argument("--bars", type=int, default=8, metavar="N",
                        help="with --controls: bars per sampled piece (default 8)")
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (default 1.0)")
    parser.add_argument("--key-guidance", type=float, default=KEY_GUIDANCE, metavar="G",
                        help="with --controls: the key guidance of the key samples, as generate's "
                             f"(default {KEY_GUIDANCE:g}; 0: the KEY token alone)")
    parser.add_argument("--candidates", type=int, default=CANDIDATES, metavar="N",
                        help="with --controls: draws per key or density sample, the first with what was asked "
                             f"kept, as generate's (default {CANDIDATES}; 1: every draw counts)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object on the last line")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from musicgen.errors import ConfigError
    from musicgen.evaluation.heldout import evaluate, format_report

    if args.controls:
        from musicgen.evaluation.controls import control_hit_rates
        from musicgen.evaluation.controls import format_report as format_controls

        report = control_hit_rates(args.checkpoint, per_setting=args.samples_per_setting, bars=args.bars,
                                   seed=args.seed, temperature=args.temperature, key_guidance=args.key_guidance,
                                   candidates=args.candidates, progress=not args.quiet)
        print(format_controls(report))
        if args.json:
            print(json.dumps(report, sort_keys=True))
        return 0
    if args.max_order < 1:
        raise ConfigError(f"--max-order must be at least 1, got {args.max_order}")
    result = evaluate(
        args.checkpoint, args.data, split=args.split, batch_size=args.batch_size, ngram=not args.no_ngram,
        orders=tuple(range(1, args.max_order + 1)), samples=args.samples, sample_length=args.sample_length,
        temperature=args.temperature, seed=args.seed, progress=not args.quiet,
    )
    print(format_report(result))
    if args.json:
        print(json.dumps(result, sort_keys=True))
    return 0
