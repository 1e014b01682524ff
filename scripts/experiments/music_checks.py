"""The musicianship and DAW figures of a model's music against real music of the same kind.

    python scripts/experiments/music_checks.py --checkpoint checkpoints/base --cache /work/cache/base2 \\
        --out /work/checks/base --seed 101 [--only band,chords,...]

Each check writes its generated files under ``--out/<check>/`` and measures them with the shared tools
(``../shared/tools/musicianship.py`` and ``daw_figures.py``) against real files of the same kind, taken
from the checkpoint's held-out test split (``--cache`` is the prepared cache it was trained on, whose
pieces name their files), so no figure is of a piece the model learned from:

- ``band``: ``generate --instruments piano,bass,drums`` against band songs with bass and drums;
- ``chords``: ``generate --chords "C G Am F"``: the share of bars whose chord, recognised from the notes
  alone, is the one asked for;
- ``accompany``: ``accompany --instruments piano,bass`` under the melodies of held-out POP909 songs,
  against the same songs' melody and piano; and ``--instruments bass,drums`` under the same melodies,
  against band songs (do the bass and drums settle into a groove: ``bar_repeats``, ``drum_bar_repeats``);
- ``pop909``, ``bach``, ``groove``: ``--style pop909`` (the files' meters), ``--style bach`` (voices,
  names, consonance against chorales), ``--style groove-rock`` (drum similarity against Groove's rock);
- ``form``: ``--form "A8 B8 A8"`` at ``--variation 0`` and at the default: the share of bars 17-24 that
  repeat bars 1-8, and the section markers;
- ``daw``: ``generate --num 32 --bars 16``: the DAW figures against a mix of real files.

The last line is one JSON object of every figure.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from musicgen.data.cache import load_cache
from musicgen.evaluation.music_figures import chord_hits
from musicgen.music import midi_io
from musicgen.music.chords import parse_progression
from musicgen.paths import REPO_ROOT

TOOLS = REPO_ROOT.parent / "shared" / "tools"
BAND_STYLES = ("freedoom", "simutrans", "openmsx", "lakh-reggae")
PROGRESSION = "C G Am F"


def tool(name: str, generated: Path | list, reference: list[Path]) -> dict:
    """The shared tool's figures of ``generated`` against ``reference``."""
    files = [str(path) for path in (generated if isinstance(generated, list) else [generated])]
    command = [sys.executable, str(TOOLS / name), *files, "--ref", *map(str, reference)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def musicgen(*arguments: str) -> None:
    subprocess.run([sys.executable, "-m", "musicgen", *arguments], check=True, capture_output=True)


def test_files(cache: Path, style: str, count: int, needs: tuple = ()) -> list[Path]:
    """Up to ``count`` held-out files of ``style`` whose tracks include every program range in ``needs``."""
    tokens = load_cache(cache)
    files = []
    for entry in tokens.pieces:
        if entry.get("split") != "test" or entry["stats"].get("style") != style:
            continue
        programs = set(entry["stats"]["programs"])
        if all(any(low <= program <= high for program in programs) for low, high in needs):
            path = Path(tokens.manifest["source_dir"]) / entry["file"]
            if path not in files:
                files.append(path)
        if len(files) >= count:
            break
    return files


def band(args: argparse.Namespace) -> dict:
    out = args.out / "band"
    musicgen("generate", "--checkpoint", str(args.checkpoint), "--instruments", "piano,bass,drums", "--num", "10",
             "--bars", "8", "--seed", str(args.seed), "--out", str(out))
    reference = [path for style in BAND_STYLES
                 for path in test_files(args.cache, style, 3, needs=((32, 39), (128, 128)))][:12]
    return {"reference_files": [path.name for path in reference], **tool("musicianship.py", out, reference)}


def chords(args: argparse.Namespace) -> dict:
    out = args.out / "chords"
    musicgen("generate", "--checkpoint", str(args.checkpoint), "--chords", PROGRESSION, "--bars", "16", "--num", "8",
             "--seed", str(args.seed + 1), "--out", str(out))
    counts = np.array([chord_hits(midi_io.read_piece(path), parse_progression(PROGRESSION))
                       for path in sorted(out.glob("*.mid"))]).sum(axis=0)
    hits, total = int(counts[0]), int(counts[1])
    return {"bars": total, "hit_rate": round(hits / max(total, 1), 3), "progression": PROGRESSION}


def accompany(args: argparse.Namespace) -> dict:
    import pretty_midi

    out, melodies, own = args.out / "accompany", args.out / "melodies", args.out / "own"
    grooves = args.out / "accompany-grooves"
    for folder in (melodies, own):
        folder.mkdir(parents=True, exist_ok=True)
    for path in test_files(args.cache, "pop909", 8):
        song = pretty_midi.PrettyMIDI(str(path))
        melody = [track for track in song.instruments if track.name.upper() == "MELODY"]
        piano = [track for track in song.instruments if track.name.upper() == "PIANO"]
        if not melody or not piano:
            continue
        for folder, tracks in ((melodies, melody), (own, melody + piano)):
            copy = pretty_midi.PrettyMIDI(str(path))
            copy.instruments = tracks
            copy.write(str(folder / path.name))
        musicgen("accompany", str(melodies / path.name), "--checkpoint", str(args.checkpoint), "--instruments",
                 "piano,bass", "--seed", str(args.seed + 2), "--out", str(out))
        musicgen("accompany", str(melodies / path.name), "--checkpoint", str(args.checkpoint), "--instruments",
                 "bass,drums", "--seed", str(args.seed + 2), "--out", str(grooves))
    band_songs = [path for style in BAND_STYLES
                  for path in test_files(args.cache, style, 3, needs=((32, 39), (128, 128)))][:12]
    return {**tool("musicianship.py", out, sorted(own.glob("*.mid"))),
            "bass_and_drums": tool("musicianship.py", grooves, band_songs)}


def styles(args: argparse.Namespace) -> dict:
    figures = {}
    for name, style, real in (("pop909", "pop909", "pop909"), ("bach", "bach", "bach"),
                              ("groove", "groove-rock", "groove-rock")):
        out = args.out / name
        musicgen("generate", "--checkpoint", str(args.checkpoint), "--style", style, "--num", "8", "--bars", "12",
                 "--seed", str(args.seed + 3), "--out", str(out))
        pieces = [midi_io.read_piece(path) for path in sorted(out.glob("*.mid"))]
        figures[name] = {
            **tool("musicianship.py", out, test_files(args.cache, real, 40)),
            "meters": sorted({f"{n}/{d}" for piece in pieces for _, n, d in piece.time_signatures}),
            "first_meters": [f"{piece.time_signatures[0][1]}/{piece.time_signatures[0][2]}" for piece in pieces],
            "tracks": [[(track.name, track.program) for track in piece.tracks] for piece in pieces[:3]],
        }
    return figures


def form(args: argparse.Namespace) -> dict:
    figures = {}
    for variation in ("0", "0.25"):
        out = args.out / f"form-{variation}"
        musicgen("generate", "--checkpoint", str(args.checkpoint), "--form", "A8 B8 A8", "--variation", variation,
                 "--instruments", "piano,bass,drums", "--num", "4", "--seed", str(args.seed + 4), "--out", str(out))
        same = total = 0
        markers = []
        for path in sorted(out.glob("*.mid")):
            piece = midi_io.read_piece(path)
            markers.append([text for _, text in piece.markers])
            for bar in range(8):
                total += 1
                same += _bar(piece, bar) == _bar(piece, bar + 16)
        figures[f"variation {variation}"] = {"bars_17_24_repeating_1_8": round(same / total, 3), "markers": markers}
    return figures


def _bar(piece: object, index: int, length: float = 4.0) -> list:
    notes = piece.notes[(piece.notes[:, 0] >= index * length - 1e-6) & (piece.notes[:, 0] < (index + 1) * length - 1e-6)]
    return sorted((round(s - index * length, 3), int(p), int(t)) for s, _, p, _, t in notes.tolist())


def daw(args: argparse.Namespace) -> dict:
    out, real = args.out / "daw", args.out / "daw-reference"
    musicgen("generate", "--checkpoint", str(args.checkpoint), "--num", "32", "--bars", "16", "--seed",
             str(args.seed + 5), "--out", str(out))
    real.mkdir(parents=True, exist_ok=True)  # daw_figures.py takes one reference folder
    for style in ("bach", "airdsAirs", "nottingham-jigs", "groove-rock", "pop909", "freedoom"):
        for path in test_files(args.cache, style, 10):
            link = real / f"{style}-{path.name}"
            if path.suffix.lower() in (".mid", ".midi") and not link.exists():
                link.symlink_to(path.resolve())
    command = [sys.executable, str(TOOLS / "daw_figures.py"), str(out), "--ref", str(real)]
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])


CHECKS = {"band": band, "chords": chords, "accompany": accompany, "styles": styles, "form": form, "daw": daw}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=REPO_ROOT / "checkpoints" / "base")
    parser.add_argument("--cache", type=Path, required=True, help="the prepared cache the checkpoint was trained on")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=101)
    parser.add_argument("--only", default=",".join(CHECKS), help="checks to run, by name")
    args = parser.parse_args(argv)
    results = {}
    for name in args.only.split(","):
        results[name] = CHECKS[name](args)
        print(f"{name}: {json.dumps(results[name])}", file=sys.stderr, flush=True)
    print(json.dumps(results, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
