"""Measure what a folder of MIDI files holds, and draw a piano roll of one of its files.

    python scripts/experiments/folder_stats.py /work/folders/band /work/folders/performance --json stats.json
    python scripts/experiments/folder_stats.py /work/folders/band --roll /work/folders/rolls/band.png

Per folder: files, tracks per piece (min/median/max), the instruments, the share of notes
on drums, note lengths (seconds and beats), the share of onsets on a 1/12-beat grid (the
tokenizer's resolution: played music lands on it by chance, sequenced music always), and
the sustain pedal: files with CC64, pedal presses per minute, the share of time it is down,
and the ratio of sounding time without the pedal to sounding time with it (note-seq's
``apply_sustain_control_changes``: a key released while the pedal is down sounds until the
pedal lifts or the same pitch is struck again).
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

MIDI_SUFFIXES = (".mid", ".midi")
GRID = 12  # onsets per beat


def midi_files(folder: Path) -> list[Path]:
    """The MIDI and score files under ``folder``, sorted."""
    from musicgen.music.scores import SCORE_SUFFIXES

    suffixes = set(MIDI_SUFFIXES) | SCORE_SUFFIXES
    return sorted(path for path in folder.rglob("*") if path.suffix.lower() in suffixes)


def load_pieces(path: Path) -> list:
    """``pretty_midi.PrettyMIDI`` of each piece of a file (a score file may hold many)."""
    import pretty_midi

    if path.suffix.lower() in MIDI_SUFFIXES:
        sources = [path.read_bytes()]
    else:
        from musicgen.music.scores import read_score_pieces

        sources = [piece.midi for piece in read_score_pieces(path) if piece.midi is not None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [pretty_midi.PrettyMIDI(io.BytesIO(data)) for data in sources]


def load(path: Path):
    """The first piece of a file as ``pretty_midi.PrettyMIDI``."""
    return load_pieces(path)[0]


def pedal_intervals(instrument, end: float) -> list[tuple[float, float]]:
    """(down, up) times of the sustain pedal (CC64 >= 64 is down)."""
    intervals, down = [], None
    for change in sorted(instrument.control_changes, key=lambda change: change.time):
        if change.number != 64:
            continue
        if change.value >= 64 and down is None:
            down = change.time
        elif change.value < 64 and down is not None:
            intervals.append((down, change.time))
            down = None
    if down is not None:
        intervals.append((down, end))
    return intervals


def sustained_ends(instrument, end: float) -> list[float]:
    """Each note's end once the pedal is applied (note-seq's semantics)."""
    intervals = pedal_intervals(instrument, end)
    onsets: dict[int, list[float]] = {}
    for note in instrument.notes:
        onsets.setdefault(note.pitch, []).append(note.start)
    for times in onsets.values():
        times.sort()
    ends = []
    for note in instrument.notes:
        stop = note.end
        for down, up in intervals:
            if down <= note.end < up:
                stop = up  # the pedal holds the released key until it lifts ...
                break
        later = [time for time in onsets[note.pitch] if note.end <= time < stop]
        ends.append(later[0] if later else stop)  # ... or until the same key is struck again
    return ends


def piece_stats(pm) -> dict:
    """The measures of one piece (see the module docstring)."""
    end = pm.get_end_time()
    instruments = [instrument for instrument in pm.instruments if instrument.notes]
    notes = [(instrument, note) for instrument in instruments for note in instrument.notes]
    resolution = pm.resolution
    ticks = np.array([pm.time_to_tick(note.start) for _, note in notes], dtype=np.int64)
    beats = np.array([(pm.time_to_tick(note.end) - pm.time_to_tick(note.start)) / resolution for _, note in notes])
    on_grid = (ticks * GRID) % resolution == 0
    pedal_presses, pedal_down, sounding_plain, sounding_pedal = 0, 0.0, 0.0, 0.0
    for instrument in instruments:
        intervals = pedal_intervals(instrument, end)
        pedal_presses += len(intervals)
        pedal_down += sum(up - down for down, up in intervals)
        sounding_plain += sum(note.end - note.start for note in instrument.notes)
        sounding_pedal += sum(stop - note.start for note, stop in zip(instrument.notes, sustained_ends(instrument, end), strict=True))
    return {
        "tracks": len(instruments),
        "programs": sorted({"drums" if instrument.is_drum else instrument.program for instrument in instruments}, key=str),
        "names": [instrument.name for instrument in instruments],
        "notes": len(notes),
        "drum_notes": sum(1 for instrument, _ in notes if instrument.is_drum),
        "seconds": end,
        "lengths_seconds": [note.end - note.start for _, note in notes],
        "lengths_beats": beats.tolist(),
        "on_grid": int(on_grid.sum()),
        "pedal_presses": pedal_presses,
        "pedal_down_seconds": pedal_down,
        "sounding_plain": sounding_plain,
        "sounding_pedal": sounding_pedal,
        "tempo_changes": len(pm.get_tempo_changes()[0]),
    }


def folder_stats(folder: Path) -> dict:
    """Totals and distributions over a folder's files."""
    import pretty_midi

    files = midi_files(folder)
    per_file = [piece_stats(pm) for path in files for pm in load_pieces(path)]
    lengths = [value for stats in per_file for value in stats["lengths_seconds"]]
    length_beats = [value for stats in per_file for value in stats["lengths_beats"]]
    notes = sum(stats["notes"] for stats in per_file)
    seconds = sum(stats["seconds"] for stats in per_file)
    tracks = [stats["tracks"] for stats in per_file]
    programs = Counter(
        program if program == "drums" else pretty_midi.program_to_instrument_name(program)
        for stats in per_file
        for program in stats["programs"]
    )
    pedalled = [stats for stats in per_file if stats["pedal_presses"]]
    plain = sum(stats["sounding_plain"] for stats in pedalled)
    held = sum(stats["sounding_pedal"] for stats in pedalled)

    def quantiles(values: list[float]) -> dict:
        if not values:
            return {}
        p10, p50, p90 = np.percentile(values, [10, 50, 90])
        return {"p10": round(float(p10), 3), "median": round(float(p50), 3), "p90": round(float(p90), 3), "max": round(float(max(values)), 3)}

    return {
        "folder": str(folder),
        "files": len(files),
        "pieces": len(per_file),
        "notes": notes,
        "minutes": round(seconds / 60.0, 1),
        "tracks_per_piece": {"min": min(tracks), "median": statistics.median(tracks), "max": max(tracks)} if tracks else {},
        "pieces_per_instrument": dict(programs.most_common()),
        "drum_share": round(sum(stats["drum_notes"] for stats in per_file) / max(1, notes), 3),
        "note_seconds": quantiles(lengths),
        "note_beats": quantiles(length_beats),
        "onsets_on_twelfth_beat_grid": round(sum(stats["on_grid"] for stats in per_file) / max(1, notes), 3),
        "files_with_tempo_changes": sum(1 for stats in per_file if stats["tempo_changes"] > 1),
        "files_with_pedal": len(pedalled),
        "pedal_presses_per_minute": round(sum(stats["pedal_presses"] for stats in pedalled) / max(1e-9, sum(stats["seconds"] for stats in pedalled) / 60.0), 1) if pedalled else 0.0,
        "pedal_down_share": round(sum(stats["pedal_down_seconds"] for stats in pedalled) / max(1e-9, sum(stats["seconds"] for stats in pedalled)), 3) if pedalled else 0.0,
        "sounding_without_over_with_pedal": round(plain / held, 3) if pedalled else None,
    }


def draw_roll(path: Path, image: Path, seconds: float = 40.0, start: float = 0.0) -> None:
    """A piano roll of ``seconds`` of ``path`` (one colour per track, pedal shaded) as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pm = load(path)
    figure, axes = plt.subplots(figsize=(14, 6), dpi=100)
    colours = plt.get_cmap("tab20")
    for position, instrument in enumerate(pm.instruments):
        bars = [(note.start, note.end - note.start) for note in instrument.notes if start <= note.start < start + seconds]
        pitches = [note.pitch for note in instrument.notes if start <= note.start < start + seconds]
        if not bars:
            continue
        label = f"{instrument.name or 'track'} ({'drums' if instrument.is_drum else instrument.program})"
        for (left, width), pitch in zip(bars, pitches, strict=True):
            axes.broken_barh([(left, width)], (pitch - 0.4, 0.8), facecolors=colours(position % 20))
        axes.plot([], [], color=colours(position % 20), linewidth=6, label=label)
        for down, up in pedal_intervals(instrument, pm.get_end_time()):
            if up > start and down < start + seconds:
                axes.axvspan(max(down, start), min(up, start + seconds), ymin=0, ymax=0.03, color="black", alpha=0.6)
    axes.set_xlim(start, start + seconds)
    axes.set_xlabel("seconds")
    axes.set_ylabel("MIDI pitch")
    axes.set_title(f"{path.name} ({start:.0f}-{start + seconds:.0f} s; black strip: sustain pedal down)")
    axes.legend(loc="upper right", fontsize=7, ncol=2)
    image.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(image)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    """Print each folder's statistics as JSON (and draw a roll when asked)."""
    parser = argparse.ArgumentParser(description="Statistics of folders of MIDI files.")
    parser.add_argument("folders", type=Path, nargs="+")
    parser.add_argument("--json", type=Path, help="also write the statistics here")
    parser.add_argument("--roll", type=Path, help="draw a piano roll of the first folder's first file here")
    parser.add_argument("--roll-file", type=Path, help="the file to draw (default: the first)")
    parser.add_argument("--roll-seconds", type=float, default=40.0)
    parser.add_argument("--roll-start", type=float, default=0.0)
    args = parser.parse_args(argv)
    if args.roll:
        target = args.roll_file or midi_files(args.folders[0])[0]
        draw_roll(target, args.roll, args.roll_seconds, args.roll_start)
        print(f"drew {target} -> {args.roll}", file=sys.stderr)
        return 0
    results = [folder_stats(folder) for folder in args.folders]
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
