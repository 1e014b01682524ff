"""What a DAW user notices in a folder of MIDI files, against a folder of real ones.

    python scripts/experiments/daw_figures.py generated/ --ref data/midi/bach
    python scripts/experiments/daw_figures.py runs/daw/trio --ref data/midi/haydn --json

Per folder: files; bars whose last beat is silent (bars that play, each in the meter in force at
it); notes outside their instrument's playable range (:func:`musicgen.music.instruments.playable`,
drums on drum notes); bars per file (median, and how many files have ``--bars``); files with a
key signature; and empty tracks. Of the reference folder, ``--limit`` files spread over it are read.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from musicgen.errors import MidiError
from musicgen.music import midi_io
from musicgen.music.instruments import playable
from musicgen.music.piece import END, PITCH, START, TRACK, Piece


def bar_lines(piece: Piece) -> list[tuple[float, float]]:
    """``(start, beat length)`` of each bar, following the piece's time signatures, to its end."""
    bars, beat, changes = [], 0.0, list(piece.time_signatures)
    while beat < piece.end_beat - 1e-9:
        _, numerator, denominator = [change for change in changes if change[0] <= beat + 1e-9][-1]
        bars.append((beat, 4 / denominator))
        beat += numerator * 4 / denominator
    return bars + [(beat, 0.0)]


def figures(piece: Piece) -> dict[str, int]:
    lines = bar_lines(piece)
    notes = piece.notes
    playing = silent = 0
    for (start, beat), (end, _) in zip(lines[:-1], lines[1:], strict=True):
        if not np.any((notes[:, START] < end) & (notes[:, END] > start)):
            continue
        playing += 1
        silent += not np.any((notes[:, START] < end) & (notes[:, END] > end - beat + 1e-6))
    outside = 0
    for index, track in enumerate(piece.tracks):
        low, high, _ = playable(track.program)
        pitches = notes[notes[:, TRACK] == index, PITCH]
        outside += int(np.sum((pitches < low) | (pitches > high)))
    empty = sum(not np.any(notes[:, TRACK] == index) for index in range(len(piece.tracks)))
    return {"bars": len(lines) - 1, "playing": playing, "silent": silent, "notes": len(notes), "outside": outside,
            "keys": int(bool(piece.key_signatures)), "empty_tracks": int(empty)}


def folder_figures(folder: Path, limit: int | None = None, bars: int | None = None) -> dict:
    files = sorted(folder.rglob("*.mid"))
    if limit is not None and len(files) > limit:  # evenly spread over the folder's collections
        files = files[:: -(-len(files) // limit)]
    rows = []
    for path in files:
        try:
            rows.append(figures(midi_io.read_piece(path)))
        except MidiError:
            continue
    total = {key: sum(row[key] for row in rows) for key in rows[0]} if rows else {}
    result = {
        "files": len(rows),
        "silent_last_beat": round(total.get("silent", 0) / max(total.get("playing", 0), 1), 4),
        "outside_range": round(total.get("outside", 0) / max(total.get("notes", 0), 1), 4),
        "bars_median": float(np.median([row["bars"] for row in rows])) if rows else 0.0,
        "key_signatures": round(total.get("keys", 0) / max(len(rows), 1), 3),
        "empty_tracks": total.get("empty_tracks", 0),
    }
    if bars is not None:
        result[f"files_of_{bars}_bars"] = sum(row["bars"] == bars for row in rows)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--ref", type=Path, help="a folder of real music to compare with")
    parser.add_argument("--limit", type=int, default=300, help="reference files read (default 300)")
    parser.add_argument("--bars", type=int, help="count the files of exactly this many bars")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = {"generated": folder_figures(args.folder, bars=args.bars)}
    if args.ref is not None:
        result["reference"] = folder_figures(args.ref, args.limit)
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        for name, values in result.items():
            print(name, " ".join(f"{key}={value}" for key, value in values.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
