"""A run's training and validation loss against updates, from its ``history.csv``.

    python scripts/experiments/plot_history.py checkpoints/base/history.csv docs/images/base-validation.png \\
        --title "base model: 2 x 512 LSTM"

One point per validation: the training loss is the mean over the updates since the last one.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("history", type=Path, help="a run's history.csv")
    parser.add_argument("out", type=Path, help="the PNG to write")
    parser.add_argument("--title", default="")
    args = parser.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with args.history.open() as handle:
        rows = list(csv.DictReader(handle))
    updates = [int(row["updates"]) for row in rows]
    figure, axis = plt.subplots(figsize=(7, 4), dpi=110)
    axis.plot(updates, [float(row["loss"]) for row in rows], "o-", label="training (mean since last validation)")
    axis.plot(updates, [float(row["val_loss"]) for row in rows], "s-", label="validation")
    best = min(rows, key=lambda row: float(row["val_loss"]))
    axis.annotate(f"best {float(best['val_loss']):.3f}", (int(best["updates"]), float(best["val_loss"])),
                  textcoords="offset points", xytext=(-40, 12))
    axis.set_xlabel("updates")
    axis.set_ylabel("loss (nats per token)")
    axis.set_title(args.title)
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
