#!/usr/bin/env python3
"""Compare LSTM, GRU, tanh RNN and IRNN language models with matched parameter counts.

After Chung et al. (2014), who compare gated and tanh units on polyphonic music: each
cell gets the units that bring its model closest to the LSTM's parameter count, the
same time budget and seed, then ``musicgen evaluate --json`` scores it on the test
split next to the n-gram baseline. Runs sequentially (CPU is scarce)::

    python scripts/experiments/compare_cells.py --print-only          # the commands and counts
    python scripts/experiments/compare_cells.py --max-minutes 4       # train and evaluate all four
    python scripts/experiments/compare_cells.py --resume --max-minutes 6   # train each for 6 more minutes
    python scripts/experiments/compare_cells.py --epochs 25           # the same number of updates for each

The last output is a Markdown table for docs/results.md (also written to --table).
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys

from musicgen.paths import REPO_ROOT as ROOT

CELLS = ("lstm", "gru", "rnn", "irnn")
GATES = {"lstm": 4, "gru": 3, "rnn": 1, "irnn": 1}


def parameter_count(cell: str, units: int, layers: int, embedding_dim: int, vocab_size: int) -> int:
    """Parameters of ``build_language_model`` (GRU: reset_after, two bias rows)."""
    gates = GATES[cell]
    bias = 2 * units if cell == "gru" else units
    total = vocab_size * embedding_dim + units * vocab_size + vocab_size
    inputs = embedding_dim
    for _ in range(layers):
        total += gates * (inputs * units + units * units + bias)
        inputs = units
    return total


def matched_units(target: int, cell: str, layers: int, embedding_dim: int, vocab_size: int) -> int:
    """The units whose parameter count lies nearest to ``target``."""
    return min(range(8, 2049), key=lambda u: abs(parameter_count(cell, u, layers, embedding_dim, vocab_size) - target))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="data/midi/bach")
    parser.add_argument("--out", default="runs/compare", help="parent directory of the four checkpoints")
    parser.add_argument("--lstm-units", type=int, default=128, help="LSTM units; the others are matched to it")
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--embedding-dim", type=int, default=64)
    parser.add_argument("--max-minutes", type=float, default=4.0, help="training budget per cell")
    parser.add_argument("--epochs", type=int, default=None,
                        help="train every cell for exactly this many epochs instead of --max-minutes "
                        "(the same updates for each cell, whatever the machine's load)")
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cells", nargs="+", default=list(CELLS), choices=CELLS)
    parser.add_argument("--print-only", action="store_true", help="print the commands and counts, run nothing")
    parser.add_argument("--skip-train", action="store_true", help="only evaluate existing checkpoints")
    parser.add_argument("--resume", action="store_true",
                        help="give each existing checkpoint another --max-minutes instead of starting over")
    parser.add_argument("--table", default=None, help="also write the Markdown table here")
    args = parser.parse_args()

    from musicgen.data.sources import open_data

    vocab_size = open_data(args.data).tokenizer.vocab_size
    target = parameter_count("lstm", args.lstm_units, args.layers, args.embedding_dim, vocab_size)
    musicgen = [sys.executable, "-m", "musicgen"]
    rows = []
    for cell in args.cells:
        units = matched_units(target, cell, args.layers, args.embedding_dim, vocab_size)
        count = parameter_count(cell, units, args.layers, args.embedding_dim, vocab_size)
        out = f"{args.out}/{cell}"
        train = [
            "musicgen", "train", args.data, "--out", out, "--overwrite", "--cell", cell, "--units", str(units),
            "--layers", str(args.layers), "--embedding-dim", str(args.embedding_dim),
            "--seq-len", str(args.seq_len), "--seed", str(args.seed),
        ]
        if args.epochs is None:
            train += ["--max-minutes", str(args.max_minutes), "--epochs", "1000"]
        else:
            # --patience counts updates: an epoch-sized number would stop the run early.
            train += ["--epochs", str(args.epochs), "--patience", "1000000000", "--min-updates", "0"]
        if args.resume:
            train = ["musicgen", "train", args.data, "--out", out, "--resume", "--max-minutes", str(args.max_minutes)]
        evaluate = ["musicgen", "evaluate", "--checkpoint", out, args.data, "--json"]
        print(f"{cell}: units {units}, parameters {count:,} ({100 * (count / target - 1):+.1f}% vs lstm)", flush=True)
        print("  " + shlex.join(train), flush=True)
        print("  " + shlex.join(evaluate), flush=True)
        rows.append({"cell": cell, "units": units, "parameters": count, "train": train, "evaluate": evaluate})
    if args.print_only:
        return 0
    for row in rows:
        if not args.skip_train:
            subprocess.run(musicgen + row["train"][1:], check=True, cwd=ROOT)
        result = subprocess.run(musicgen + row["evaluate"][1:], check=True, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        row["result"] = json.loads(result.stdout.strip().splitlines()[-1])
        print(json.dumps({"cell": row["cell"], **row["result"]}), flush=True)
    lines = [
        "| cell | units | parameters | test NLL (nats/token) | perplexity | accuracy | n-gram NLL | ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        r = row["result"]
        lines.append(
            f"| {row['cell']} | {row['units']} | {row['parameters']:,} | {r['nll']:.3f} | {r['perplexity']:.2f} "
            f"| {r['accuracy']:.3f} | {r['ngram_nll']:.3f} ({r['ngram_smoothing']}, order {r['ngram_order']}) "
            f"| {r['ratio']:.3f} |"
        )
    table = "\n".join(lines)
    print(table)
    if args.table:
        from musicgen.fileio import atomic_write_text

        atomic_write_text(args.table, table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
