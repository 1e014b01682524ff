"""How far a beat grid moves each note of a folder: the onset and end errors, in milliseconds.

    python scripts/experiments/timing_error.py ../shared/data/corpora/pop909 --grids 12,24,48 --limit 100

The notes encoding rounds every onset and end to the nearest step of its grid (``1 /
steps_per_quarter`` of a beat, counted in the file's own beats) and every length to its
duration table. For each grid this prints, over ``--limit`` files spread over the folder,
the median, 95th percentile and largest onset error and end error, converted to milliseconds
through each file's tempo map, and the share of onsets moved by more than 10 ms.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from musicgen.errors import MidiError
from musicgen.music import midi_io
from musicgen.music.analysis import grid_error_ms
from musicgen.music.piece import END, START


def errors(path: Path, steps_per_quarter: int) -> tuple[np.ndarray, np.ndarray]:
    """Onset and end errors in milliseconds of one file's notes on a grid of ``steps_per_quarter``."""
    piece = midi_io.read_piece(path)
    onsets, ends = piece.notes[:, START], piece.notes[:, END]
    on_grid = np.floor(onsets * steps_per_quarter + 0.5) / steps_per_quarter
    end_grid = np.maximum(np.floor(ends * steps_per_quarter + 0.5) / steps_per_quarter, on_grid + 1 / steps_per_quarter)
    return grid_error_ms(piece, steps_per_quarter), np.abs(piece.seconds(end_grid) - piece.seconds(ends)) * 1000.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--grids", default="12,24,48", help="steps per quarter note to try (default 12,24,48)")
    parser.add_argument("--limit", type=int, default=100, help="files read, spread over the folder (default 100)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    files = sorted(args.folder.rglob("*.mid"))
    files = files[:: max(1, -(-len(files) // args.limit))]
    result = {"folder": str(args.folder), "files": len(files), "grids": {}}
    for grid in (int(part) for part in args.grids.split(",")):
        onset, end = [], []
        for path in files:
            try:
                a, b = errors(path, grid)
            except MidiError:
                continue
            onset.append(a)
            end.append(b)
        onset, end = np.concatenate(onset), np.concatenate(end)
        result["grids"][grid] = {
            "onset_ms": [round(float(np.median(onset)), 2), round(float(np.percentile(onset, 95)), 2),
                         round(float(onset.max()), 2)],
            "end_ms": [round(float(np.median(end)), 2), round(float(np.percentile(end, 95)), 2), round(float(end.max()), 2)],
            "onsets_over_10_ms": round(float(np.mean(onset > 10.0)), 4),
        }
    if args.json:
        print(json.dumps(result))
    else:
        for grid, row in result["grids"].items():
            print(f"{args.folder.name}: {grid} steps per quarter: onset error median/95%/max {row['onset_ms']} ms, "
                  f"end {row['end_ms']} ms, onsets moved over 10 ms {row['onsets_over_10_ms']:.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
