"""The parts of a generated band song: data types, and what each instrument plays.

Used by ``make_band_folder.py``: a :class:`Song` (meter, tempo, key, sections with their
chords, parts) is planned there; :func:`render_song` fills in every part's notes here.
Times are ticks at 480 per quarter note; every onset is on the sixteenth-note grid.
"""

from __future__ import annotations

import dataclasses

import numpy as np

TICKS_PER_BEAT = 480
STEP = TICKS_PER_BEAT // 4  # a sixteenth note: the grid every onset is on
DRUM_CHANNEL = 9  # channel 10 in MIDI's 1-based numbering
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
KICK, SNARE, CLOSED_HAT, OPEN_HAT, CRASH, RIDE = 36, 38, 42, 46, 49, 51
TOMS = (50, 48, 47, 45, 43, 41)


@dataclasses.dataclass(frozen=True)
class Part:
    """A track: its name, General MIDI program, pan and what it plays."""

    name: str
    program: int
    role: str
    pan: int = 64
    drums: bool = False



@dataclasses.dataclass
class Section:
    """One section of a song: where it starts, how long, its chords (one per bar) and energy."""

    kind: str
    start: int  # tick
    bars: int
    chords: list[tuple[int, ...]]  # per bar: chord tones as pitch classes, root first
    energy: int  # 0 quiet .. 2 full


@dataclasses.dataclass
class Song:
    """A generated song: meter, tempo, key, sections and parts, and its notes per part."""

    title: str
    tempo: int
    meter: tuple[int, int]
    tonic: int
    mode: str
    sections: list[Section]
    parts: list[Part]
    bar_ticks: int
    notes: dict[str, list[tuple[int, int, int, int]]] = dataclasses.field(default_factory=dict)

    @property
    def end(self) -> int:
        """The song's last tick."""
        last = self.sections[-1]
        return last.start + last.bars * self.bar_ticks

    @property
    def seconds(self) -> float:
        """The song's length in seconds."""
        return self.end / TICKS_PER_BEAT * 60.0 / self.tempo


def chord_tones(tonic: int, mode: str, degree: int) -> tuple[int, ...]:
    """The diatonic triad on ``degree`` (1-7) as pitch classes, root first; V is major in minor."""
    scale = SCALES[mode]
    tones = [(tonic + scale[(degree - 1 + step) % 7]) % 12 for step in (0, 2, 4)]
    if mode == "minor" and degree == 5:
        tones[1] = (tones[1] + 1) % 12
    return tuple(tones)


def nearest(pitch_class: int, target: int) -> int:
    """The pitch of ``pitch_class`` closest to ``target``."""
    return target + ((pitch_class - target + 6) % 12) - 6


def steps_per_bar(song: Song) -> int:
    """Sixteenth-note steps in one bar."""
    return song.bar_ticks // STEP


def beat_steps(song: Song) -> int:
    """Steps per counted beat: a quarter in x/4, a dotted quarter in 6/8."""
    return 6 if song.meter == (6, 8) else 4


def humanise(rng: np.random.Generator, base: float, accent: float = 0.0) -> int:
    """A velocity near ``base + accent``."""
    return int(np.clip(round(base + accent + rng.normal(0.0, 5.0)), 1, 127))


def voicing(tones: tuple[int, ...], low: int, count: int) -> list[int]:
    """``count`` chord tones stacked upward from ``low``, root first."""
    pitches, pitch = [], nearest(tones[0], low + 5)
    while len(pitches) < count:
        pitches.append(pitch)
        tone = tones[len(pitches) % len(tones)]
        pitch += (tone - pitch) % 12 or 12
    return pitches


def render_drums(song: Song, rng: np.random.Generator) -> list[tuple[int, int, int, int]]:
    """Kick, snare and hats by meter and section, fills at section ends, crashes after them."""
    notes, steps, beat = [], steps_per_bar(song), beat_steps(song)
    backbeats = {(4, 4): (4, 12), (3, 4): (4, 8), (6, 8): (6,)}[song.meter]
    kicks = {(4, 4): ((0, 8), (0, 6, 8), (0, 8, 10), (0, 3, 8, 11)), (3, 4): ((0,), (0, 6)), (6, 8): ((0,), (0, 10))}[song.meter]
    groove = {kind: kicks[rng.integers(len(kicks))] for kind in ("intro", "verse", "chorus", "bridge", "outro")}
    for number, section in enumerate(song.sections):
        for bar in range(section.bars):
            start = section.start + bar * song.bar_ticks
            last_bar = bar == section.bars - 1
            if number == len(song.sections) - 1 and last_bar:
                notes += [(start, start + STEP, CRASH, humanise(rng, 110)), (start, start + STEP, KICK, humanise(rng, 110))]
                break
            fill_from = steps // 2 if last_bar and section.kind != "outro" else steps
            if bar == 0 and (number > 0 or section.energy):
                notes.append((start, start + STEP, CRASH, humanise(rng, 100)))
            kick = groove[section.kind] if not (bar % 4 == 3 and len(kicks) > 1) else kicks[(kicks.index(groove[section.kind]) + 1) % len(kicks)]
            for step in range(fill_from):
                at = start + step * STEP
                on_beat = step % beat == 0
                if step in kick:
                    notes.append((at, at + STEP, KICK, humanise(rng, 96, 8 if step == 0 else 0)))
                if step in backbeats and section.energy:
                    notes.append((at, at + STEP, SNARE, humanise(rng, 100)))
                elif section.energy and step % 2 and rng.random() < 0.08:
                    notes.append((at, at + STEP, SNARE, humanise(rng, 38)))  # ghost note
                cymbal = RIDE if section.kind == "bridge" else OPEN_HAT if section.energy == 2 and step % beat == 2 else CLOSED_HAT
                if step % 2 == 0 or (song.tempo < 100 and section.energy):
                    notes.append((at, at + STEP // 2, cymbal, humanise(rng, 70 if section.energy else 55, 14 if on_beat else 0)))
            for step in range(fill_from, steps):  # the fill: snare and toms down the kit
                at = start + step * STEP
                drum = SNARE if step < fill_from + 2 else TOMS[min(len(TOMS) - 1, (step - fill_from) * len(TOMS) // (steps - fill_from))]
                notes.append((at, at + STEP, drum, humanise(rng, 80, 3 * (step - fill_from))))
    return notes


def render_percussion(song: Song, rng: np.random.Generator, role: str) -> list[tuple[int, int, int, int]]:
    """Tambourine and shaker (``percussion``) or hand claps on the backbeat in choruses."""
    notes, steps = [], steps_per_bar(song)
    backbeats = {(4, 4): (4, 12), (3, 4): (4, 8), (6, 8): (6,)}[song.meter]
    for section in song.sections[:-1]:
        if section.energy == 0:
            continue
        for bar in range(section.bars):
            start = section.start + bar * song.bar_ticks
            for step in range(steps):
                at = start + step * STEP
                if role == "claps" and section.kind == "chorus" and step in backbeats:
                    notes.append((at, at + STEP, 39, humanise(rng, 90)))
                elif role == "percussion" and section.kind == "chorus" and step in backbeats:
                    notes.append((at, at + STEP, 54, humanise(rng, 85)))
                elif role == "percussion" and section.kind != "chorus" and step % 2 == 0:
                    notes.append((at, at + STEP // 2, 70, humanise(rng, 50, 15 if step % 4 == 0 else 0)))
    return notes


def render_bass(song: Song, rng: np.random.Generator) -> list[tuple[int, int, int, int]]:
    """Chord roots in rhythmic patterns by section energy, approach notes into the next chord."""
    notes, steps = [], steps_per_bar(song)
    patterns = {0: [(0, steps)], 1: [(0, 6), (6, 2), (8, steps - 8)] if steps == 16 else [(0, steps // 2), (steps // 2, steps // 2)], 2: [(step, 2) for step in range(0, steps, 2)]}
    for section in song.sections:
        for bar, tones in enumerate(section.chords):
            start = section.start + bar * song.bar_ticks
            root = nearest(tones[0], 38)
            final = section is song.sections[-1] and bar == section.bars - 1
            following = section.chords[bar + 1] if bar + 1 < len(section.chords) else tones
            for position, (step, length) in enumerate(patterns[0 if final else section.energy]):
                pitch = root
                if section.energy == 1 and position == 1:
                    pitch = nearest(tones[2], root + 7)  # the fifth
                if section.energy == 2 and step == steps - 2 and following != tones:
                    pitch = nearest(following[0], root) + (1 if rng.random() < 0.5 else -1)  # approach
                if section.energy == 2 and step % 8 == 4 and rng.random() < 0.3:
                    pitch = root + 12
                end = start + (step + length) * STEP - (0 if final else STEP // 4)
                notes.append((start + step * STEP, end, pitch, humanise(rng, 92, 8 if step == 0 else 0)))
    return notes


def render_chords(song: Song, rng: np.random.Generator, role: str) -> list[tuple[int, int, int, int]]:
    """Guitars, keys, brass and organ: strums, arpeggios, comping, stabs or held chords."""
    notes, steps, beat = [], steps_per_bar(song), beat_steps(song)
    low = {"guitar": 50, "guitar_high": 57, "acoustic": 52, "piano": 55, "comp": 57, "brass": 58, "organ": 53}[role]
    count = {"guitar": 5, "guitar_high": 4, "acoustic": 5, "piano": 4, "comp": 4, "brass": 3, "organ": 4}[role]
    strum = (0, 3, 6, 10, 12, 14) if steps == 16 else tuple(range(0, steps, 2))
    for section in song.sections:
        if role == "brass" and section.kind not in ("chorus", "outro") or role == "organ" and section.kind not in ("verse", "bridge"):
            continue
        if role in ("guitar", "guitar_high") and section.kind == "intro" and role == "guitar_high":
            continue
        for bar, tones in enumerate(section.chords):
            start = section.start + bar * song.bar_ticks
            chord = voicing(tones, low, count)
            final = section is song.sections[-1] and bar == section.bars - 1
            if final or role == "organ" or (section.energy == 0 and role != "guitar"):
                events = [(0, steps)]
            elif role in ("guitar", "acoustic") and section.energy == 1:
                events = [(step, 2) for step in range(0, steps, 2)]  # arpeggio, one string at a time
            elif role == "brass":
                events = [(step, 1) for step in (beat - 2, beat + 2, steps - 2) if step < steps]
            elif role in ("piano", "comp"):
                events = [(step, beat) for step in range(0, steps, beat)] if section.energy == 2 else [(0, beat * 2), (beat * 2, steps - beat * 2)]
            else:
                events = [(step, (strum + (steps,))[position + 1] - step) for position, step in enumerate(strum)]
            for position, (step, length) in enumerate(events):
                at, end = start + step * STEP, start + (step + length) * STEP
                if not final:
                    end -= STEP // 4
                accent = 10 if step % beat == 0 else 0
                if role in ("guitar", "acoustic") and section.energy == 1 and not final:
                    pitch = chord[(position * 2 + position // len(chord)) % len(chord)]
                    notes.append((at, end + STEP * 2, pitch, humanise(rng, 72, accent)))
                    continue
                for pitch in chord:
                    notes.append((at, end, pitch, humanise(rng, 84 if section.energy == 2 else 70, accent)))
                if role == "piano":
                    notes.append((at, end, nearest(tones[0], 40), humanise(rng, 74, accent)))
    return notes


def render_held(song: Song, rng: np.random.Generator, role: str) -> list[tuple[int, int, int, int]]:
    """Strings, pad and cello: long notes that hold through chords that share them, then end."""
    notes = []
    low, count = {"strings": (55, 4), "pad": (52, 4), "cello": (40, 1)}[role]
    kinds = {"strings": ("chorus", "bridge", "outro"), "pad": ("intro", "verse", "bridge", "outro"), "cello": ("bridge", "chorus", "outro")}[role]
    for section in song.sections:
        if section.kind not in kinds:
            continue
        holding: dict[int, int] = {}  # pitch -> onset tick
        for bar, tones in enumerate(section.chords + [()]):
            at = section.start + bar * song.bar_ticks
            chord = set(voicing(tones, low, count)) if tones else set()
            for pitch in list(holding):
                if pitch not in chord or bar % 4 == 0:
                    notes.append((holding.pop(pitch), at - (STEP // 2 if tones else 0), pitch, humanise(rng, 64)))
            for pitch in sorted(chord - set(holding)):
                holding[pitch] = at
    return notes


def make_motif(rng: np.random.Generator, steps: int) -> list[tuple[int, int, int]]:
    """A two-bar melodic idea: (step, length, scale-step move), ending in a rest."""
    motif, step = [], 0
    lengths = (2, 2, 2, 4, 1, 1, 3, 6) if steps == 16 else (2, 2, 4, 1, 1, 6)
    while step < 2 * steps - 4:
        length = int(lengths[rng.integers(len(lengths))])
        length = min(length, 2 * steps - 4 - step)
        motif.append((step, length, int(rng.choice((-2, -1, -1, 0, 1, 1, 2, 3)))))
        step += length
    return motif


def render_melody(song: Song, rng: np.random.Generator, role: str, motifs: dict) -> list[tuple[int, int, int, int]]:
    """The lead melody (and the parts built on it): one motif per section kind, repeated.

    Phrases are A A' B A over two-bar units; strong-beat notes move to the nearest chord
    tone, so every chorus sings the same tune over the same chords.
    """
    notes, steps = [], steps_per_bar(song)
    intervals = SCALES[song.mode]
    scale = {(song.tonic + interval) % 12 for interval in intervals}
    kinds = {"lead": ("verse", "chorus", "bridge"), "backing": ("chorus",), "harmony": ("chorus", "bridge"), "double": ("chorus",), "glock": ("chorus",), "solo": ("bridge", "intro")}[role]
    center = {"lead": 67, "backing": 67, "harmony": 67, "double": 67, "glock": 67, "solo": 69}[role]
    for section in song.sections:
        if section.kind not in kinds:
            continue
        kind = "bridge" if role == "solo" else section.kind
        for unit in range(0, section.bars, 2):
            phrase = (unit // 2) % 4
            motif = motifs[kind][1 if phrase == 2 else 0]
            base = nearest(song.tonic, center - 5)
            pitch_index = 2 + (1 if phrase == 1 else 0)  # start on the third (A' a step higher)
            for step, length, move in motif:
                pitch_index = int(np.clip(pitch_index + move, -2, 11))
                bar = unit + step // steps
                if bar >= section.bars:
                    break
                pitch = base + 12 * (pitch_index // 7) + intervals[pitch_index % 7]
                tones = section.chords[bar]
                if step % beat_steps(song) == 0:
                    pitch = nearest(min(tones, key=lambda pc, p=pitch: abs(nearest(pc, p) - p)), pitch)
                pitch = int(np.clip(pitch, center - 9, center + 10))
                at = section.start + unit * song.bar_ticks + step * STEP
                end = at + length * STEP - STEP // 4
                if role in ("harmony", "backing"):  # a diatonic third below
                    pitch = pitch - 3 if (pitch - 3) % 12 in scale else pitch - 4
                shift = {"double": 12, "glock": 12, "solo": 0}.get(role, 0)
                notes.append((at, end, pitch + shift, humanise(rng, 88 if role in ("lead", "solo") else 66, 6 if step % steps == 0 else 0)))
    return notes


def render_song(song: Song, rng: np.random.Generator) -> None:
    """Fill ``song.notes`` for every part."""
    steps = steps_per_bar(song)
    motifs = {kind: (make_motif(rng, steps), make_motif(rng, steps)) for kind in ("verse", "chorus", "bridge")}
    for part in song.parts:
        if part.role == "drums":
            notes = render_drums(song, rng)
        elif part.role in ("percussion", "claps"):
            notes = render_percussion(song, rng, part.role)
        elif part.role == "bass":
            notes = render_bass(song, rng)
        elif part.role in ("strings", "pad", "cello"):
            notes = render_held(song, rng, part.role)
        elif part.role in ("lead", "backing", "harmony", "double", "glock", "solo"):
            notes = render_melody(song, rng, part.role, motifs)
        else:
            notes = render_chords(song, rng, part.role)
        song.notes[part.name] = tidy_notes(notes, song.end)


def tidy_notes(notes: list[tuple[int, int, int, int]], end: int) -> list[tuple[int, int, int, int]]:
    """Sort, clip to the song's end, and cut a note short where the same pitch sounds again."""
    notes = sorted((start, min(stop, end), pitch, velocity) for start, stop, pitch, velocity in notes if start < end)
    tidy, last_index = [], {}
    for start, stop, pitch, velocity in notes:
        if pitch in last_index:
            index = last_index[pitch]
            previous = tidy[index]
            if previous[1] > start:
                tidy[index] = (previous[0], start, pitch, previous[3])
                if start <= previous[0]:
                    tidy[index] = (previous[0], previous[0], pitch, -1)  # the same onset twice: drop
        last_index[pitch] = len(tidy)
        tidy.append((start, max(stop, start + 1), pitch, velocity))
    return [note for note in tidy if note[3] > 0 and note[1] > note[0]]


