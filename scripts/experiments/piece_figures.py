"""The mean figures of each folder's MIDI files, as a musician reads them: notes per bar, pitched
polyphony, pitch-class entropy, drum consistency and parallel fifths and octaves per bar
(:mod:`musicgen.evaluation.music_figures`).

    python scripts/experiments/piece_figures.py /work/folders/band generated/band-fine --json figures.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from musicgen.errors import MidiError
from musicgen.evaluation.music_figures import mean_figures
from musicgen.music import midi_io


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", type=Path, nargs="+")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    result = {}
    for folder in args.folders:
        pieces = []
        for path in sorted(folder.rglob("*.mid")):
            try:
                pieces.append(midi_io.read_piece(path))
            except MidiError:
                continue
        result[str(folder)] = {"files": len(pieces), **mean_figures(pieces)}
        print(f"{folder}: {len(pieces)} files, " + ", ".join(f"{name} {value:.2f}" for name, value in
                                                             result[str(folder)].items() if name != "files"))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
