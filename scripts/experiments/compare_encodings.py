"""Train the same model on one folder in each encoding, with the same updates, and compare.

The figures that decide the default encoding (docs/results.md): test NLL per token and per
note (a note costs a different number of tokens in each encoding), the n-gram baseline on
the same tokens, and samples' masked probability mass, instruments and note lengths::

    python scripts/experiments/compare_encodings.py data/midi/bach --out runs/encodings/bach
    python scripts/experiments/compare_encodings.py /work/folders/band --out runs/encodings/band --epochs 30 --steps 40

Each run is ``musicgen train FOLDER --encoding E`` (every other option at its default, the
budget fixed in updates so machine load changes only the wall time), then ``musicgen
evaluate --samples 8 --json``. The table goes to stdout and ``OUT/comparison.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ENCODINGS = ("events", "notes")


def run(command: list[str]) -> str:
    print("$ " + " ".join(command), file=sys.stderr, flush=True)
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.stderr.write(result.stderr[-4000:])
        raise SystemExit(f"failed: {' '.join(command)}")
    return result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder")
    parser.add_argument("--out", required=True)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--steps", type=int, default=40, help="updates per epoch (the budget is epochs x steps)")
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--train-option", action="append", default=[], help="extra option for musicgen train")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = {}
    for encoding in ENCODINGS:
        directory = out / encoding
        started = time.monotonic()
        run([sys.executable, "-m", "musicgen", "train", args.folder, "--out", str(directory), "--overwrite",
             "--encoding", encoding, "--epochs", str(args.epochs), "--steps-per-epoch", str(args.steps),
             "--patience", str(args.epochs * args.steps), "--quiet", *args.train_option])
        minutes = (time.monotonic() - started) / 60
        report = json.loads(run([sys.executable, "-m", "musicgen", "evaluate", "--checkpoint", str(directory),
                                 "--samples", str(args.samples), "--json", "--quiet"]).strip().splitlines()[-1])
        rows[encoding] = {**report, "train_minutes": round(minutes, 1)}
    (out / "comparison.json").write_text(json.dumps(rows, indent=2, sort_keys=True) + "\n")
    print("| encoding | test NLL/token | n-gram NLL/token | ratio | test NLL/note | n-gram NLL/note | tokens/note "
          "| masked mass mean | instruments/piece (data max) | notes longer than data | pitch-class TV | minutes |")
    print("|" + "---|" * 12)
    for encoding, row in rows.items():
        model = row["samples"]["model"]
        print(f"| {encoding} | {row['nll']:.3f} | {row['ngram_nll']:.3f} | {row['ratio']:.3f} | {row['nll_per_note']:.3f} "
              f"| {row['ngram_nll_per_note']:.3f} | {row['tokens'] / row['notes']:.2f} | {model['masked_mass_mean']:.2%} "
              f"| {model.get('instruments_per_piece', 0):.1f} ({model.get('data_most_instruments', 0)}) "
              f"| {model.get('notes_longer_than_in_data', 0)} of {model.get('notes', 0)} "
              f"| {model['pitch_class_tv']:.3f} | {row['train_minutes']} |")


if __name__ == "__main__":
    main()
