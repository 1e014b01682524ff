"""What an edit (``musicgen infill``, ``musicgen accompany``) changed in a MIDI file, track by track.

    python scripts/experiments/edit_check.py song.mid generated/song-infill-*.mid --beats 16 24

For each MIDI track of the source: whether its chunk is byte-identical in the edited file, whether
its other events (names, programs, controllers, tempo and meter) are the same at the same ticks,
whether its notes outside the beats ``[FROM, TO)`` are all kept, and its notes and pitch range
inside them, before and after. Then the tracks the edit added. ``--json`` prints one object.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import mido


def chunks(path: Path) -> list[bytes]:
    """The MTrk chunks of a standard MIDI file, as bytes."""
    data, position, found = path.read_bytes(), 14, []
    while position + 8 <= len(data):
        size = int.from_bytes(data[position + 4:position + 8], "big")
        if data[position:position + 4] == b"MTrk":
            found.append(data[position:position + 8 + size])
        position += 8 + size
    return found


def timed(track: mido.MidiTrack) -> list[tuple[int, mido.Message]]:
    tick, found = 0, []
    for message in track:
        tick += message.time
        found.append((tick, message.copy(time=0)))
    return found


def notes(track: mido.MidiTrack) -> list[tuple[int, int, int, int]]:
    """``(start tick, end tick, pitch, channel)`` of the track's notes."""
    sounding, found = {}, []
    for tick, message in timed(track):
        key = (getattr(message, "channel", -1), getattr(message, "note", -1))
        if message.type == "note_on" and message.velocity > 0:
            sounding[key] = tick
        elif message.type in ("note_on", "note_off") and key in sounding:
            found.append((sounding.pop(key), tick, key[1], key[0]))
    return sorted(found)


def compare(source: Path, edited: Path, first: float, last: float) -> dict:
    before, after = mido.MidiFile(str(source)), mido.MidiFile(str(edited))
    low, high = first * before.ticks_per_beat, last * before.ticks_per_beat
    same_chunks = [a == b for a, b in zip(chunks(source), chunks(edited), strict=False)]
    tracks = []
    for index, (old, new) in enumerate(zip(before.tracks, after.tracks, strict=False)):
        others = [[event for event in timed(track) if event[1].type not in ("note_on", "note_off", "end_of_track")]
                  for track in (old, new)]
        old_notes, new_notes = notes(old), notes(new)
        inside = [[note for note in group if low <= note[0] < high] for group in (old_notes, new_notes)]
        outside = [[note for note in group if not low <= note[0] < high] for group in (old_notes, new_notes)]
        tracks.append({
            "track": index, "name": old.name, "byte_identical": same_chunks[index],
            "other_events_kept": others[0] == others[1], "notes_outside_kept": outside[0] == outside[1],
            "notes_inside": [len(inside[0]), len(inside[1])],
            "range_inside": [[min(n[2] for n in group), max(n[2] for n in group)] if group else None for group in inside],
            "range_of_song": [min(n[2] for n in old_notes), max(n[2] for n in old_notes)] if old_notes else None,
        })
    added = [{"track": index, "name": track.name, "notes": len(notes(track))}
             for index, track in enumerate(after.tracks[len(before.tracks):], start=len(before.tracks))]
    return {"tracks": tracks, "added": added}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path)
    parser.add_argument("edited", type=Path)
    parser.add_argument("--beats", type=float, nargs=2, metavar=("FROM", "TO"), required=True,
                        help="the beats the edit rewrote")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = compare(args.source, args.edited, *args.beats)
    if args.json:
        print(json.dumps(result, sort_keys=True))
        return 0
    for row in result["tracks"]:
        print(f"{row['track']:2d} {row['name'][:20]:20s} bytes {'same' if row['byte_identical'] else 'changed':7s} "
              f"events kept {row['other_events_kept']}  notes outside kept {row['notes_outside_kept']}  "
              f"inside {row['notes_inside'][0]} -> {row['notes_inside'][1]} notes, range {row['range_inside'][0]} -> "
              f"{row['range_inside'][1]} (song {row['range_of_song']})")
    for row in result["added"]:
        print(f"added {row['track']} {row['name']}: {row['notes']} notes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
