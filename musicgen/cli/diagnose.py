"""``musicgen diagnose``: look inside recurrent models (gradient reach over time)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from musicgen.cli import add_verbose
from musicgen.errors import ConfigError

CELL_CHOICES = ("rnn", "irnn", "lstm", "gru", "all")

DESCRIPTION = """\
Diagnostics for recurrent models. 'gradients' measures how far back in time the
gradient of the loss reaches: the norm of dL_T/dh_k against the distance T-k, on
windows of real token data, for freshly initialised (optionally briefly trained)
language models. A tanh RNN's gradient vanishes geometrically with distance unless
its recurrence is near-orthogonal; gates let the LSTM and GRU learn to carry it.
"""

GRADIENTS_DESCRIPTION = """\
Measure ||dL_T/dh_k|| against the distance T-k for each cell (averaged over
windows of the bundled Bach chorales, or DIR's MIDI files) and write
gradients.json (the table) and gradients.png (log-scale plot) under --out.

examples:
  musicgen diagnose gradients --cell all --out reports/gradients
  musicgen diagnose gradients --cell rnn --cell lstm --recurrent-scale 0.5
  musicgen diagnose gradients --cell all --train-steps 200 --seq-len 100
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "diagnose", help="gradient diagnostics for the recurrent cells",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_verbose(parser)
    parser.set_defaults(handler=run)
    tools = parser.add_subparsers(dest="diagnostic", metavar="DIAGNOSTIC")
    gradients = tools.add_parser(
        "gradients", help="gradient norm against time distance, per cell",
        description=GRADIENTS_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    gradients.add_argument(
        "--cell", action="append", choices=CELL_CHOICES, metavar="KIND",
        help="rnn, irnn, lstm, gru or all; repeat to compare several (default: all)",
    )
    gradients.add_argument("--data", metavar="DIR", help="folder of MIDI files (default: the bundled Bach chorales)")
    gradients.add_argument("--seq-len", type=int, default=200, help="time steps back from the loss (default 200)")
    gradients.add_argument("--windows", type=int, default=8, help="windows averaged over (default 8)")
    gradients.add_argument("--units", type=int, default=128, help="units per recurrent layer (default 128)")
    gradients.add_argument("--layers", type=int, default=1, help="recurrent layers (default 1)")
    gradients.add_argument("--embedding-dim", type=int, default=64, help="embedding size (default 64)")
    gradients.add_argument(
        "--train-steps", type=int, default=0,
        help="Adam steps on the windows before measuring (default 0: at initialisation)",
    )
    gradients.add_argument(
        "--recurrent-scale", type=float, default=None, metavar="S",
        help="multiply the initial recurrent weights by S (e.g. 0.5 to watch gradients vanish)",
    )
    gradients.add_argument(
        "--implementation", choices=("custom", "keras"), default="custom",
        help="layers for --train-steps: musicgen's cells or Keras's built-ins (default custom)",
    )
    gradients.add_argument("--seed", type=int, default=0, help="seed for weights and windows (default 0)")
    gradients.add_argument(
        "--out", default="reports/gradients", metavar="DIR",
        help="where gradients.json and gradients.png go (default reports/gradients)",
    )
    gradients.add_argument("--json", action="store_true", help="print the JSON table instead of the summary")
    add_verbose(gradients)
    gradients.set_defaults(handler=run)
    parser.set_defaults(diagnose_parser=parser)


def run(args: argparse.Namespace) -> int:
    if getattr(args, "diagnostic", None) is None:
        args.diagnose_parser.print_help(sys.stderr)
        return 2
    return run_gradients(args)


def run_gradients(args: argparse.Namespace) -> int:
    """``musicgen diagnose gradients``."""
    for label, value in (("--seq-len", args.seq_len), ("--windows", args.windows), ("--units", args.units),
                         ("--layers", args.layers), ("--embedding-dim", args.embedding_dim)):
        if value < 1:
            raise ConfigError(f"{label} must be at least 1, got {value}")
    if args.train_steps < 0:
        raise ConfigError(f"--train-steps must not be negative, got {args.train_steps}")
    if args.recurrent_scale is not None and args.recurrent_scale <= 0:
        raise ConfigError(f"--recurrent-scale must be positive, got {args.recurrent_scale}")
    kinds = args.cell or ["all"]
    cells = ["rnn", "irnn", "lstm", "gru"] if "all" in kinds else kinds

    from musicgen.evaluation import gradients
    from musicgen.fileio import atomic_write_json

    report = gradients.gradient_report(
        cells, data_dir=args.data, seq_len=args.seq_len, num_windows=args.windows, units=args.units,
        embedding_dim=args.embedding_dim, num_layers=args.layers, train_steps=args.train_steps,
        recurrent_scale=args.recurrent_scale, implementation=args.implementation, seed=args.seed, progress=True,
    )
    out = Path(args.out)
    atomic_write_json(out / "gradients.json", report)
    gradients.plot_report(report, out / "gradients.png")
    if args.json:
        print(json.dumps(report))
        return 0
    print(gradients.format_table(report))
    print(f"wrote {out / 'gradients.json'} and {out / 'gradients.png'}")
    return 0
