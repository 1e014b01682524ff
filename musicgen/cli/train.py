"""``musicgen train``: train a recurrent language model into a checkpoint directory."""

from __future__ import annotations

import argparse
import dataclasses

from musicgen.cli import add_verbose

DESCRIPTION = """\
Train a recurrent language model on a folder of MIDI files (prepared on the fly
through the token cache) or on a cache made by 'musicgen prepare'.

The checkpoint directory describes itself (model.keras, last.keras, tokenizer.json,
train_config.json, split.json, state.json, history.csv, tensorboard/), so
'musicgen generate --checkpoint DIR' and 'musicgen evaluate --checkpoint DIR' need
no other option. Every file is written atomically: interrupt training at any time
and continue with --resume.

examples:
  musicgen train data/midi/bach --out checkpoints/mine
  musicgen train data/midi/bach --out checkpoints/mine --resume --epochs 60
  musicgen train cache/bach --out runs/gru --cell gru --units 512 --max-minutes 30
  musicgen train data/midi/bach --out runs/m --distribute mirrored --cpu-replicas 2

--batch-size is the global batch size, split evenly across replicas, so the same
options train the same model on one device or many. When you grow the global batch
k-fold (say, to keep each replica's share fixed), raise --learning-rate by about
sqrt(k) for Adam, at most k (the linear scaling rule, which wants a warm-up).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train", help="train a model on MIDI files into a checkpoint directory",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_verbose(parser)
    parser.add_argument("data", metavar="DATA", help="a folder of MIDI files or a prepared cache directory")
    parser.add_argument("--out", required=True, metavar="CHECKPOINT_DIR", help="checkpoint directory to write")
    parser.add_argument("--resume", action="store_true", help="continue the checkpoint in --out from its last epoch")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing checkpoint in --out")

    model = parser.add_argument_group("model (defaults: the shipped model)")
    model.add_argument("--cell", choices=("lstm", "gru", "rnn", "irnn"), help="recurrent cell (default lstm)")
    model.add_argument(
        "--implementation", choices=("custom", "keras"),
        help="musicgen's fused recurrent layer, or Keras's own (cuDNN on a GPU) (default custom)",
    )
    model.add_argument("--units", type=int, help="units per recurrent layer (default 256)")
    model.add_argument("--layers", type=int, dest="num_layers", help="recurrent layers (default 2)")
    model.add_argument("--embedding-dim", type=int, help="token embedding size (default 128)")
    model.add_argument("--one-hot", action="store_true", default=None, help="one-hot inputs instead of an embedding")
    model.add_argument("--dropout", type=float, help="dropout between layers (default 0.2)")

    training = parser.add_argument_group("training")
    training.add_argument("--seq-len", type=int, help="tokens per training window (default 256)")
    training.add_argument("--batch-size", type=int, help="global batch size, over all replicas (default 16: small data sets learn faster from more, smaller updates)")
    training.add_argument("--epochs", type=int, help="total epochs, counting resumed ones (default 40)")
    training.add_argument("--steps-per-epoch", type=int, help="cap on batches per epoch (default: all windows)")
    training.add_argument("--learning-rate", type=float, help="Adam learning rate (default 2e-3)")
    training.add_argument("--clipnorm", type=float, help="clip gradients to this global norm; 0 turns it off (default 1.0)")
    training.add_argument(
        "--augment", action=argparse.BooleanOptionalAction, default=None,
        help="random transposition and time stretch of training windows (default on)",
    )
    training.add_argument("--seed", type=int, help="seed of weights, data order and augmentation (default 0)")
    training.add_argument("--max-minutes", type=float, help="time budget; stops cleanly with a saved checkpoint")
    training.add_argument("--patience", type=int, dest="early_stopping_patience",
                          help="epochs without validation improvement before stopping (default 6)")
    training.add_argument("--jit-compile", choices=("auto", "on", "off"), help="XLA compilation (default auto)")

    devices = parser.add_argument_group("devices")
    devices.add_argument("--distribute", choices=("none", "mirrored", "multiworker"),
                         help="tf.distribute strategy (default none; multiworker reads TF_CONFIG)")
    devices.add_argument("--cpu-replicas", type=int, help="with --distribute mirrored: mirror over N logical CPU devices")
    devices.add_argument("--mixed-precision", action="store_true", default=None,
                         help="mixed_float16 compute with float32 logits (for GPUs)")
    devices.add_argument("--quiet", action="store_true", help="no progress output")
    parser.set_defaults(handler=run)


def build_config(args: argparse.Namespace):
    """A TrainConfig from the defaults (or, with --resume, the checkpoint's) and the given options."""
    from musicgen import checkpoint
    from musicgen.training import TrainConfig

    base = TrainConfig()
    if args.resume and checkpoint.is_checkpoint(args.out):
        saved = _saved_config(args.out)
        if saved is not None:
            base = TrainConfig.from_dict(saved)
    given = {
        field.name: getattr(args, field.name)
        for field in dataclasses.fields(TrainConfig)
        if getattr(args, field.name, None) is not None
    }
    config = dataclasses.replace(base, **given)
    config.validate()
    return config


def _saved_config(out: str) -> dict | None:
    from musicgen import fileio
    from musicgen.checkpoint import CONFIG_FILE
    from musicgen.errors import CheckpointError

    try:
        return fileio.read_json(f"{out}/{CONFIG_FILE}")
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise CheckpointError(f"{out}/{CONFIG_FILE} is unreadable: {error}") from error


def run(args: argparse.Namespace) -> int:
    from musicgen.training import train

    config = build_config(args)
    result = train(args.data, args.out, config, resume=args.resume, overwrite=args.overwrite, progress=not args.quiet)
    best = "n/a" if result.best_val_loss is None else f"{result.best_val_loss:.4f}"
    print(f"{result.directory}: {result.epochs_completed} epochs ({result.stopped}), best validation loss {best}")
    return 0 if result.epochs_completed or result.stopped == "time_budget" else 1

