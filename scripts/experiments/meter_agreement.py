"""How often the meter inferred from the notes agrees with a known meter.

    python scripts/experiments/meter_agreement.py pop909 ../shared/data/corpora/pop909
    python scripts/experiments/meter_agreement.py declared ../shared/data/corpora/nottingham/MIDI
    python scripts/experiments/meter_agreement.py declared ../shared/data/corpora/freedoom ...

:func:`musicgen.music.meter.infer_meter` runs on each file's notes with its time signatures
hidden. ``bar`` counts files whose inferred bar has the known length in quarter notes (so 6/8
and 3/4 count as one; ``meter`` also needs the same signature), ``phase`` files whose bar
also starts where the known one does (within an eighth note).

* **pop909**: the known bars are ``beat_midi.txt``'s downbeats (the most common distance
  between them, and where the first lies). Measured twice: on the file as it is (its beats lie
  a fraction of a beat off its grid) and with the lead-in the sidecar reader gives it.
* **declared**: MIDI files whose one time signature is not 1/n (Nottingham's pad their pickups
  so their bars start at 0). Also counted: how many files declaring 4/4 the reader's policy
  (:func:`musicgen.music.meter.with_meter`) would change, all of them wrongly if 4/4 is right.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections import Counter
from pathlib import Path

import numpy as np

from musicgen.errors import MidiError
from musicgen.music import midi_io
from musicgen.music.meter import bar_length, infer_meter, with_meter
from musicgen.music.piece import Piece
from musicgen.music.sidecars import read_table, with_beats
from musicgen.music.smf import read_smf


def hidden(piece: Piece) -> Piece:
    return dataclasses.replace(piece, time_signatures=((0.0, 1, 4),))


def agrees(piece: Piece, length: float, phase: float, meter: tuple[int, int] | None = None) -> tuple[bool, bool, bool]:
    """Whether the inferred bar has ``length`` quarters, also starts at ``phase``, and is ``meter``."""
    guess = infer_meter(hidden(piece))
    if guess is None:
        return False, False, False
    inferred = bar_length(guess.numerator, guess.denominator)
    same_bar = abs(inferred - length) < 1e-6
    offset = (guess.pickup - phase) % length if same_bar else length / 2
    same_phase = same_bar and min(offset, length - offset) < 0.25
    return same_bar, same_phase, meter is not None and (guess.numerator, guess.denominator) == tuple(meter)


def pop909(folder: Path, names: list[str]) -> dict:
    counts: Counter = Counter()
    for name in names:
        piece = read_smf((folder / name / f"{name}.mid").read_bytes())
        rows = read_table(folder / name / "beat_midi.txt", 3, float)
        table = np.array(rows, np.float64)
        beats = piece.beats(table[:, 0])
        downbeats = beats[table[:, 2] > 0]
        spacing = np.round(np.diff(downbeats)).astype(int)
        length = float(np.bincount(spacing).argmax())
        counts[f"bars of {length:g}"] += 1
        bar, phase, _ = agrees(piece, length, float(downbeats[0] % length))
        counts["as is: bar"] += bar
        counts["as is: phase"] += phase
        aligned = with_beats(piece, rows, piece)
        shift = aligned.lead_in
        bar, phase, _ = agrees(dataclasses.replace(aligned, time_signatures=piece.time_signatures), length,
                               float((downbeats[0] + shift) % length))
        counts["aligned: bar"] += bar
        counts["aligned: phase"] += phase
        counts["files"] += 1
    return dict(counts)


def declared(folders: list[Path]) -> dict:
    counts: Counter = Counter()
    for folder in folders:
        for path in sorted(folder.rglob("*.mid")):
            try:
                piece = midi_io.read_smf(midi_io.read_file_bytes(path))
            except MidiError:
                continue
            meters = {tuple(signature[1:]) for signature in piece.time_signatures}
            if len(meters) != 1 or next(iter(meters))[0] == 1 or len(piece.notes) < 16:
                continue
            meter = next(iter(meters))
            label = f"{meter[0]}/{meter[1]}"
            bar, phase, same = agrees(piece, bar_length(*meter), 0.0, meter)
            for key, value in (("files", 1), ("bar", bar), ("phase", phase), ("meter", same)):
                counts[f"{key}"] += value
                counts[f"{label} {key}"] += value
            if meter == (4, 4) and len(piece.time_signatures) == 1:
                counts["4/4 changed by the reader"] += with_meter(piece).time_signatures != piece.time_signatures
    return dict(sorted(counts.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=("pop909", "declared"))
    parser.add_argument("folders", type=Path, nargs="+")
    parser.add_argument("--first", type=int, default=0, help="pop909: only the first N songs")
    args = parser.parse_args(argv)
    if args.kind == "pop909":
        names = sorted(path.name for path in args.folders[0].iterdir() if path.name.isdigit())
        report = pop909(args.folders[0], names[:args.first] if args.first else names)
    else:
        report = declared(args.folders)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
