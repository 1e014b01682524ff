"""What ``musicgen accompany`` wrote under a given part: each new track's notes, bar by bar.

    python scripts/experiments/accompany_check.py melody.mid generated/melody-accompanied-*.mid

For each track the accompaniment added (the tracks after the source's): its name and program, its
notes and pitch range, in how many of the bars where the given part plays it plays too, whether it
plays in every two bars (:func:`musicgen.evaluation.music_figures.plays_throughout`), and the share
of its onsets that fall on an onset of the given part or on the sixteenth-note grid (in time with
it). ``--json`` prints one object.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from musicgen.evaluation.music_figures import bar_count, bar_numbers, plays_throughout
from musicgen.music import midi_io
from musicgen.music.piece import PITCH, START, TRACK

GRID = 4  # sixteenth notes per beat


def added_tracks(source: Path, accompanied: Path) -> list[dict]:
    """One row of figures per track that ``accompanied`` has beyond ``source``."""
    given, result = midi_io.read_piece(source), midi_io.read_piece(accompanied)
    first_new = len(given.tracks)
    old = result.notes[result.notes[:, TRACK] < first_new]
    given_bars = set(bar_numbers(result, old[:, START]).tolist())
    given_onsets = np.unique(np.round(old[:, START], 4))
    bars = bar_count(result)
    rows = []
    for track in range(first_new, len(result.tracks)):
        notes = result.notes[result.notes[:, TRACK] == track]
        onsets = notes[:, START]
        played = set(bar_numbers(result, onsets).tolist())
        on_grid = np.isclose(onsets * GRID, np.round(onsets * GRID), atol=1e-3) | np.isin(np.round(onsets, 4),
                                                                                         given_onsets)
        rows.append({
            "track": result.tracks[track].name, "program": result.tracks[track].program, "notes": len(notes),
            "pitches": [int(notes[:, PITCH].min()), int(notes[:, PITCH].max())] if len(notes) else [],
            "bars_with_the_given_part": len(given_bars), "of_them_played": len(given_bars & played),
            "plays_throughout": plays_throughout(result, track, bars),
            "onsets_in_time": float(on_grid.mean()) if len(notes) else 0.0,
        })
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path)
    parser.add_argument("accompanied", type=Path)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = added_tracks(args.source, args.accompanied)
    if args.json:
        print(json.dumps({"source": str(args.source), "accompanied": str(args.accompanied), "added": rows}))
        return 0
    for row in rows:
        print(f"{row['track']} ({row['program']}): {row['notes']} notes, pitches {row['pitches']}, plays in "
              f"{row['of_them_played']} of the {row['bars_with_the_given_part']} bars of the given part, "
              f"throughout: {row['plays_throughout']}, onsets in time {row['onsets_in_time']:.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
