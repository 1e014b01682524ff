"""Write a folder of multitrack pop/rock songs as standard MIDI files (a "band" test folder).

Nothing like a band's multitrack MIDI is available offline, so this generates it::

    python scripts/make_band_folder.py /work/folders/band --songs 16 --seed 0

Each song has a key, a tempo (70-160 BPM), a meter (mostly 4/4, some 3/4 and 6/8), a song
form (intro, verses, choruses, a bridge, outro; repeated sections repeat their chords, and
every chorus repeats the same melody) and 7 to 18 named tracks with General MIDI programs:
drums on channel 10 (grooves with fills at section ends and crashes after them), bass on
the chord roots, two rhythm guitars on the same program panned left and right, a
motif-based lead vocal, and a random choice of piano, strings, pad, organ, brass,
backing vocals and others. Onsets are on the 1/16 grid (band MIDI usually is);
velocities are humanised. The same seed gives the same bytes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from band_arrangement import (  # noqa: E402
    DRUM_CHANNEL,
    TICKS_PER_BEAT,
    Part,
    Section,
    Song,
    chord_tones,
    render_song,
)

PROGRESSIONS = {
    "major": ((1, 5, 6, 4), (6, 4, 1, 5), (1, 4, 5, 4), (1, 6, 4, 5), (4, 1, 5, 6), (1, 3, 4, 5), (2, 5, 1, 1)),
    "minor": ((1, 6, 3, 7), (1, 4, 5, 1), (1, 7, 6, 7), (1, 6, 7, 1), (4, 6, 1, 7), (1, 4, 7, 3)),
}
METERS = ((4, 4), (4, 4), (4, 4), (4, 4), (4, 4), (4, 4), (3, 4), (6, 8))
TITLE_WORDS = (
    "Midnight", "Highway", "Golden", "River", "Electric", "Summer", "Paper", "Neon", "Silver",
    "Lonely", "Broken", "City", "Heart", "Fire", "Rain", "Wild", "Echo", "Morning", "Velvet", "Runaway",
)




CORE_PARTS = (
    Part("Drums", 0, "drums", drums=True),
    Part("Bass", 33, "bass"),
    Part("Rhythm Guitar L", 29, "guitar", pan=20),
    Part("Rhythm Guitar R", 29, "guitar_high", pan=108),
    Part("Lead Vocal", 54, "lead"),
)
EXTRA_PARTS = (
    Part("Piano", 0, "piano", pan=54),
    Part("Strings", 48, "strings", pan=76),
    Part("Pad", 89, "pad", pan=64),
    Part("Backing Vocals", 52, "backing", pan=84),
    Part("Brass", 61, "brass", pan=44),
    Part("Organ", 16, "organ", pan=36),
    Part("Lead Guitar", 30, "solo", pan=92),
    Part("Synth Lead", 81, "double", pan=70),
    Part("Electric Piano", 4, "comp", pan=58),
    Part("Acoustic Guitar", 25, "acoustic", pan=100),
    Part("Percussion", 0, "percussion", drums=True),
    Part("Hand Claps", 0, "claps", drums=True),
    Part("Cello", 42, "cello", pan=50),
    Part("Glockenspiel", 9, "glock", pan=80),
    Part("Harmony Vocal", 52, "harmony", pan=84),  # shares the backing vocals' channel
)
FORMS = (
    ("intro", "verse", "chorus", "verse", "chorus", "bridge", "chorus", "outro"),
    ("intro", "verse", "verse", "chorus", "verse", "chorus", "bridge", "chorus", "chorus", "outro"),
    ("intro", "chorus", "verse", "chorus", "verse", "chorus", "bridge", "chorus", "outro"),
)


def plan_song(index: int, rng: np.random.Generator) -> Song:
    """Meter, tempo, key, form and chords of one song, lasting 2 to 4 minutes."""
    meter = METERS[rng.integers(len(METERS))]
    tempo = int(rng.integers(70, 161))
    tonic, mode = int(rng.integers(12)), ("major", "major", "minor")[rng.integers(3)]
    bar_ticks = TICKS_PER_BEAT * 4 * meter[0] // meter[1]
    bar_seconds = bar_ticks / TICKS_PER_BEAT * 60.0 / tempo
    form = FORMS[rng.integers(len(FORMS))]
    progressions = {kind: PROGRESSIONS[mode][rng.integers(len(PROGRESSIONS[mode]))] for kind in dict.fromkeys(form)}
    target = rng.uniform(135.0, 225.0)
    lengths = min(
        ((body, edge) for body in (8, 12, 16) for edge in (4, 8) if edge <= body),
        key=lambda pair: abs(sum(pair[1] if kind in ("intro", "outro") else pair[0] for kind in form) * bar_seconds - target),
    )
    form = list(form)
    while sum(lengths[1] if kind in ("intro", "outro") else lengths[0] for kind in form) * bar_seconds < 125.0:
        form.insert(-1, "chorus")  # a short song repeats its last chorus
    sections, start = [], 0
    for kind in form:
        bars = lengths[1] if kind in ("intro", "outro") else lengths[0]
        while (start + bars * bar_ticks) * 60.0 / (TICKS_PER_BEAT * tempo) > 238.0 and bars > 4:
            bars -= 4
        progression = progressions[kind]
        chords = [chord_tones(tonic, mode, progression[bar % len(progression)]) for bar in range(bars)]
        if kind == "outro":
            chords[-1] = chord_tones(tonic, mode, 1)
        energy = {"intro": 0, "verse": 1, "chorus": 2, "bridge": 1, "outro": 0}[kind]
        sections.append(Section(kind, start, bars, chords, energy))
        start += bars * bar_ticks
    words = rng.choice(len(TITLE_WORDS), size=2, replace=False)
    title = f"{TITLE_WORDS[words[0]]} {TITLE_WORDS[words[1]]}"
    return Song(title, tempo, meter, tonic, mode, sections, choose_parts(rng), bar_ticks)


def choose_parts(rng: np.random.Generator) -> list[Part]:
    """The core band plus 2 to 13 extra parts, keeping within MIDI's 15 melodic channels."""
    wanted = int(rng.integers(2, 14))
    parts = list(CORE_PARTS)
    for position in rng.permutation(len(EXTRA_PARTS)):
        if len(parts) - len(CORE_PARTS) == wanted:
            break
        candidate = EXTRA_PARTS[position]
        if not candidate.drums and len(melodic_keys(parts + [candidate])) > 15:
            continue
        parts.append(candidate)
    return parts


def melodic_keys(parts: list[Part]) -> list[tuple[int, int]]:
    """The distinct (program, pan) pairs of the melodic parts: each needs its own channel."""
    return list(dict.fromkeys((part.program, part.pan) for part in parts if not part.drums))


def channel_map(parts: list[Part]) -> dict[tuple[int, int], int]:
    """A channel for each (program, pan) of the melodic parts, skipping the drum channel."""
    channels = [channel for channel in range(16) if channel != DRUM_CHANNEL]
    return dict(zip(melodic_keys(parts), channels, strict=False))


def song_to_midi(song: Song):
    """The song as a type-1 ``mido.MidiFile``: a conductor track, then one track per part."""
    import mido

    midi_file = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    conductor = [
        (0, mido.MetaMessage("track_name", name=song.title, time=0)),
        (0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(song.tempo), time=0)),
        (0, mido.MetaMessage("time_signature", numerator=song.meter[0], denominator=song.meter[1], time=0)),
        (0, mido.MetaMessage("key_signature", key=key_name(song.tonic, song.mode), time=0)),
    ]
    midi_file.tracks.append(to_track(conductor, song.end))
    channels = channel_map(song.parts)
    for part in song.parts:
        channel = DRUM_CHANNEL if part.drums else channels[(part.program, part.pan)]
        events = [
            (0, mido.MetaMessage("track_name", name=part.name, time=0)),
            (0, mido.Message("program_change", channel=channel, program=part.program, time=0)),
            (0, mido.Message("control_change", channel=channel, control=7, value=100, time=0)),
            (0, mido.Message("control_change", channel=channel, control=10, value=part.pan, time=0)),
        ]
        for start, stop, pitch, velocity in song.notes[part.name]:
            events.append((start, mido.Message("note_on", channel=channel, note=pitch, velocity=velocity, time=0)))
            events.append((stop, mido.Message("note_off", channel=channel, note=pitch, velocity=0, time=0)))
        midi_file.tracks.append(to_track(events, song.end))
    return midi_file


def to_track(events: list, end: int):
    """Events at absolute ticks -> a ``mido.MidiTrack`` with delta times (note-offs first)."""
    import mido

    order = {"note_off": 0, "note_on": 2}
    events = sorted(events, key=lambda item: (item[0], order.get(item[1].type, 1)))
    track, now = mido.MidiTrack(), 0
    for tick, message in events:
        track.append(message.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=max(0, end - now)))
    return track


def key_name(tonic: int, mode: str) -> str:
    """A key's name as mido writes key signatures (``'Eb'``, ``'F#m'``)."""
    major = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
    minor = ("Cm", "C#m", "Dm", "Ebm", "Em", "Fm", "F#m", "Gm", "G#m", "Am", "Bbm", "Bm")
    return (major if mode == "major" else minor)[tonic]


def make_song(seed: int, index: int) -> Song:
    """Song ``index`` of the folder made with ``seed`` (independent of the other songs)."""
    rng = np.random.default_rng([seed, index])
    song = plan_song(index, rng)
    render_song(song, rng)
    return song


def file_name(index: int, song: Song) -> str:
    """``'03-golden-river.mid'``."""
    return f"{index + 1:02d}-{song.title.lower().replace(' ', '-')}.mid"


def main(argv: list[str] | None = None) -> int:
    """Write the songs to OUT and print one line per song."""
    parser = argparse.ArgumentParser(description="Write multitrack pop/rock songs as MIDI files.")
    parser.add_argument("out", type=Path, help="output folder")
    parser.add_argument("--songs", type=int, default=16, help="how many songs")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same files)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for index in range(args.songs):
        song = make_song(args.seed, index)
        path = args.out / file_name(index, song)
        song_to_midi(song).save(str(path))
        notes = sum(len(notes) for notes in song.notes.values())
        print(
            f"{path.name}: {len(song.parts)} tracks, {song.meter[0]}/{song.meter[1]}, {song.tempo} BPM, "
            f"{key_name(song.tonic, song.mode)}, {song.seconds:.0f} s, {notes} notes",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
