"""``musicgen train``: train a recurrent language model into a checkpoint directory."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from musicgen.cli import add_verbose
from musicgen.cli.prepare import add_tokenizer_options, tokenizer_request
from musicgen.options import add_options, given
from musicgen.training.config import TrainConfig

DESCRIPTION = """\
Train a recurrent language model on a folder of MIDI files (prepared on the fly
through the token cache, with the tokenizer chosen for the folder as 'musicgen
prepare' does) or on a cache made by 'musicgen prepare'.

The checkpoint directory describes itself (model.keras, last.keras, tokenizer.json,
train_config.json, split.json, state.json, history.csv, tensorboard/), so
'musicgen generate --checkpoint DIR' and 'musicgen evaluate --checkpoint DIR' need
no other option. Every file is written atomically: interrupt training at any time
and continue with --resume.

Options left open are chosen for the data and printed (for example "80 pieces, 23k
tokens: 1 x 256 LSTM ..."): the model grows with the data, and the schedule counts
updates, with a warm-up, a validation every epoch (50 to 1,000 updates), the learning
rate halved on a plateau, and early stopping that never fires before --min-updates nor
while the model is no better than the unigram. When training ends, the best model and
an n-gram baseline are scored on the validation pieces, with a verdict and warnings
(no better than the n-gram, memorising, too little data for a model from scratch).

--from fine-tunes a trained checkpoint, such as the shipped base model: the folder is
encoded with its tokenizer, the model keeps its shape and weights, and the learning
rate starts lower. A small folder learns far more this way than from scratch, so a
folder of fewer than 100,000 training tokens fine-tunes the shipped base model by
default (--from auto) when the base can represent it and no tokenizer or model-shape
option is given; the run says which start it chose. --from none trains from scratch.

examples:
  musicgen train data/midi/bach --out checkpoints/mine
  musicgen train my_folk_tunes --out checkpoints/folk --from checkpoints/base
  musicgen train my_folk_tunes --out checkpoints/folk-scratch --from none
  musicgen train data/midi/bach --out checkpoints/mine --resume --max-updates 20000
  musicgen train cache/bach --out runs/gru --cell gru --units 512 --max-minutes 30
  musicgen train data/midi/bach --out runs/m --distribute mirrored --cpu-replicas 2
  musicgen train jsb_chorales.json.gz --out runs/jsb --max-minutes 10

--batch-size is the global batch size, split evenly across replicas, so the same
options train the same model on one device or many. When you grow the global batch
k-fold (say, to keep each replica's share fixed), raise --learning-rate by about
sqrt(k) for Adam, at most k (the linear scaling rule, which wants a warm-up).
"""


GROUPS = {
    "model (left open: chosen for the data's size)": (
        "base", "cell", "implementation", "units", "num_layers", "embedding_dim", "one_hot", "dropout",
    ),
    "schedule (counted in updates, so the defaults suit 20 pieces and 20,000)": (
        "max_updates", "epochs", "steps_per_epoch", "max_minutes", "eval_every", "patience_updates", "min_updates",
        "warmup_updates", "learning_rate", "lr_patience_updates", "lr_factor", "min_learning_rate",
    ),
    "training data": (
        "seq_len", "batch_size", "augment", "transpose_range", "stretch_range", "control_dropout",
        "shuffle_tracks", "infill", "seed",
    ),
    "devices": ("clipnorm", "jit_compile", "deterministic", "distribute", "cpu_replicas", "precision"),
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train", help="train a model on MIDI files into a checkpoint directory",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_verbose(parser)
    parser.add_argument("data", metavar="DATA",
                        help="a folder of MIDI files, a piano-roll file (.json.gz, .pickle) or a prepared cache directory")
    parser.add_argument("--out", required=True, metavar="CHECKPOINT_DIR", help="checkpoint directory to write")
    parser.add_argument("--resume", action="store_true", help="continue the checkpoint in --out where it stopped")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing checkpoint in --out")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    for title, names in GROUPS.items():
        # No parsed defaults: with --resume the checkpoint's options are the base.
        add_options(parser.add_argument_group(title), TrainConfig, names, with_defaults=False)
    add_tokenizer_options(parser)
    parser.set_defaults(handler=run)


def build_config(args: argparse.Namespace) -> TrainConfig:
    """A TrainConfig from the defaults (or, with --resume, the checkpoint's) and the given options."""
    from musicgen.training import checkpoint

    base = TrainConfig()
    if args.resume and (Path(args.out) / checkpoint.CONFIG_FILE).is_file():
        base = checkpoint.read_train_config(args.out)
    changes = given(args, TrainConfig)
    if args.resume and "epochs" in changes and "max_updates" not in changes:
        changes["max_updates"] = None  # a new --epochs cap sets the budget anew
    config = dataclasses.replace(base, **changes)
    config.validate()
    return config


def run(args: argparse.Namespace) -> int:
    from musicgen.training.loop import train

    config = build_config(args)
    tokenizer_config, tokenizer_options = tokenizer_request(args)
    result = train(args.data, args.out, config, resume=args.resume, overwrite=args.overwrite, progress=not args.quiet,
                   tokenizer_config=tokenizer_config, tokenizer_options=tokenizer_options)
    best = "n/a" if result.best_val_loss is None else f"{result.best_val_loss:.4f}"
    print(f"{result.directory}: {result.updates:,} updates, {result.epochs:.1f} epochs ({result.stopped}), "
          f"best validation loss {best}")
    if result.feedback is not None:
        warning = masked_mass_warning(result.directory)
        if warning and not args.quiet:
            print(f"warning: {warning}", file=sys.stderr)
    return 0 if result.updates or result.stopped == "time_budget" else 1


CHECK_SAMPLES, CHECK_TOKENS = 4, 256


def masked_mass_warning(directory: Path) -> str | None:
    """A warning when the trained model's samples need more than :data:`MASKED_MASS_LIMIT` of its
    probability removed per token by the grammar and the data's limits (a few short samples)."""
    from musicgen.evaluation.heldout import MASKED_MASS_LIMIT
    from musicgen.generation.sampler import Sampler
    from musicgen.training.checkpoint import load_checkpoint

    sampled = Sampler.from_checkpoint(load_checkpoint(directory), jit_compile=False).sample(
        num=CHECK_SAMPLES, length=CHECK_TOKENS, seed=0)
    if sampled.masked_mass_mean <= MASKED_MASS_LIMIT:
        return None
    return (f"sampling removes {sampled.masked_mass_mean:.1%} of the model's probability per token (the grammar and "
            f"the training data's limits; a good model needs under {MASKED_MASS_LIMIT:.0%}): its samples are forced "
            "more than chosen; train longer or on more music")
