"""Write a folder of MAESTRO-style pedalled piano performances as standard MIDI files.

Recorded performances (MAESTRO, piano competitions) are not available offline, so this
renders real piano music from music21's corpus (Joplin, Bach, Chopin, Clara Schumann,
Schubert, C. P. E. Bach, Mozart, Robert Schumann; songs reduced to the two hands) as a
pianist might play it::

    python scripts/make_performance_folder.py /work/folders/performance --pieces 10 --seed 0

Like a recording, each file has one piano track (program 0) at a nominal 120 BPM in 4/4,
so its beat grid says nothing about the music's beat. The expression:

* **timing**: a rubato tempo curve (phrase arches, ritardandos at phrase ends and at the
  end, a small random walk), onset jitter of a few to 20 ms, the melody a little ahead of
  its chord, and large chords sometimes rolled;
* **dynamics**: phrase-shaped velocities, the melody voiced above the accompaniment;
* **pedal**: sustain (CC64) down shortly after each change of harmony and up just before
  the next, in ramps, held most of the time;
* **key releases that rely on the pedal**: under the pedal, keys are let go early (bass
  notes earliest), so without the pedal the notes sound for much less time.

The ratio of sounding time without the pedal to sounding time with it (note-seq's
``apply_sustain_control_changes`` semantics) is printed per file. The same seed gives the
same bytes; if a corpus piece cannot be read, generated material takes its place.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

TICKS_PER_BEAT = 384  # as MAESTRO's files
FILE_TEMPO = 120.0
MAX_SECONDS = 210.0
# (corpus work, quarter notes per minute the pianist takes as the basic tempo)
SOURCES = (
    ("joplin/maple_leaf_rag.mxl", 92.0),
    ("bach/bwv846.mxl", 64.0),
    ("chopin/mazurka06-2.krn", 120.0),
    ("schumann_clara/polonaise_op1n1.mxl", 84.0),
    ("schubert/Lindenbaum.xml", 72.0),
    ("cpebach/h186.mxl", 96.0),
    ("schumann_clara/polonaise_op1n2.mxl", 88.0),
    ("mozart/k545/movement1_exposition.mxl", 116.0),
    ("schumann_clara/polonaise_op1n3.mxl", 80.0),
    ("schumann_robert/dichterliebe_no2.xml", 60.0),
    ("schumann_clara/polonaise_op1n4.mxl", 86.0),
)


@dataclasses.dataclass
class ScoreNote:
    """A note of the score: times in quarter notes."""

    start: float
    end: float
    pitch: int


@dataclasses.dataclass
class PlayedNote:
    """A performed note: times in seconds (``release`` is when the key comes up)."""

    start: float
    release: float
    pitch: int
    velocity: int


def score_notes(corpus_name: str) -> tuple[list[ScoreNote], int]:
    """The notes of a corpus work (all parts, as music21 writes them to MIDI) and beats per bar."""
    import mido
    from music21 import corpus

    from musicgen.scores import read_score_pieces

    piece = read_score_pieces(Path(str(corpus.getWork(corpus_name))))[0]
    midi_file = mido.MidiFile(file=io.BytesIO(piece.midi))
    notes, beats_per_bar = [], 4
    for track in midi_file.tracks:
        ticks, sounding = 0, {}
        for message in track:
            ticks += message.time
            beat = ticks / midi_file.ticks_per_beat
            if message.type == "time_signature" and ticks == 0:
                beats_per_bar = max(2, round(message.numerator * 4 / message.denominator))
            elif message.type == "note_on" and message.velocity > 0:
                sounding.setdefault(message.note, []).append(beat)
            elif message.type in ("note_off", "note_on") and sounding.get(message.note):
                start = sounding[message.note].pop(0)
                notes.append(ScoreNote(start, beat, message.note))
    return two_hands(notes), beats_per_bar


def two_hands(notes: list[ScoreNote]) -> list[ScoreNote]:
    """Reduce to what two hands play: one note per pitch and onset, within the keyboard."""
    unique: dict[tuple[float, int], ScoreNote] = {}
    for note in notes:
        while note.pitch < 21:
            note.pitch += 12
        while note.pitch > 108:
            note.pitch -= 12
        key = (round(note.start, 4), note.pitch)
        if key not in unique or unique[key].end < note.end:
            unique[key] = note
    return sorted(unique.values(), key=lambda note: (note.start, note.pitch))


def generated_notes(rng: np.random.Generator) -> tuple[list[ScoreNote], int]:
    """Fallback material: an Alberti-bass accompaniment under a stepwise melody, 32 bars."""
    notes, pitch = [], 72
    progression = ((0, 4, 7), (5, 9, 12), (7, 11, 14), (0, 4, 7))
    for bar in range(32):
        chord = progression[(bar // 2) % 4]
        for eighth, tone in enumerate((0, 2, 1, 2) * 2):
            notes.append(ScoreNote(bar * 4 + eighth / 2, bar * 4 + eighth / 2 + 0.5, 48 + chord[tone]))
        for beat in range(4):
            pitch = int(np.clip(pitch + rng.choice((-2, -1, 1, 2)), 67, 84))
            notes.append(ScoreNote(bar * 4 + beat, bar * 4 + beat + 1, pitch))
    return notes, 4


def tempo_curve(rng: np.random.Generator, total_beats: float, base: float, phrase: float, step: float = 1 / 48) -> tuple[np.ndarray, np.ndarray]:
    """Seconds at each point of a fine beat grid: rubato arches, phrase-end and final ritardandos."""
    beats = np.arange(0.0, total_beats + 8.0, step)
    phase = rng.uniform(0, 2 * np.pi)
    arch = 1.0 + 0.07 * np.sin(2 * np.pi * beats / phrase + phase)
    position = (beats % phrase) / phrase
    phrase_end = 1.0 - 0.18 * np.clip((position - 0.85) / 0.15, 0.0, 1.0) ** 2
    final = 1.0 - 0.4 * np.clip((beats - (total_beats - 4.0)) / 4.0, 0.0, 1.0)
    walk = np.repeat(np.cumsum(rng.normal(0.0, 0.012, size=int(len(beats) * step) + 2)), int(round(1 / step)))[: len(beats)]
    tempo = base * arch * phrase_end * np.clip(final, 0.55, 1.0) * np.exp(np.clip(walk, -0.12, 0.12))
    seconds = np.concatenate([[0.0], np.cumsum(60.0 / tempo[:-1] * step)])
    return beats, seconds


def harmony_changes(notes: list[ScoreNote], total_beats: float, beats_per_bar: int) -> list[float]:
    """Beats where the harmony changes: the bass moves or the beat's pitch classes change."""
    changes, previous_bass, previous_classes = [0.0], None, set()
    for beat in np.arange(0.0, total_beats, 1.0):
        starting = [note for note in notes if beat <= note.start < beat + 1.0]
        sounding = [note for note in notes if note.start <= beat < note.end] + starting
        if not sounding:
            continue
        bass = min(note.pitch for note in sounding)
        classes = {note.pitch % 12 for note in sounding}
        overlap = len(classes & previous_classes) / max(1, len(classes | previous_classes))
        new_bass = any(note.pitch == bass for note in starting) and bass != previous_bass
        if beat > 0 and (new_bass or overlap < 0.5 or beat % beats_per_bar == 0):
            changes.append(float(beat))
        previous_bass, previous_classes = bass, classes
    return changes


def perform(notes: list[ScoreNote], beats_per_bar: int, base: float, rng: np.random.Generator) -> tuple[list[PlayedNote], list[tuple[float, int]]]:
    """Render score notes as a performance: played notes and the pedal's (time, value) changes."""
    total_beats = max(note.end for note in notes)
    beats, seconds = tempo_curve(rng, total_beats, base, 4.0 * beats_per_bar)
    cut = float(np.interp(MAX_SECONDS, seconds, beats))
    if cut < total_beats:  # a long piece: keep its first MAX_SECONDS, to a bar line
        cut = max(beats_per_bar, np.floor(cut / beats_per_bar) * beats_per_bar)
        notes = [ScoreNote(note.start, min(note.end, cut), note.pitch) for note in notes if note.start < cut]
        total_beats = cut
        beats, seconds = tempo_curve(rng, total_beats, base, 4.0 * beats_per_bar)

    def time(beat: float) -> float:
        return float(np.interp(beat, beats, seconds))

    changes = harmony_changes(notes, total_beats, beats_per_bar)
    pedal, intervals = [], []
    level = rng.uniform(-6, 8)  # how loud this pianist plays the piece
    for index, change in enumerate(changes):
        down = time(change) + rng.uniform(0.04, 0.12)
        up = time(changes[index + 1]) - rng.uniform(0.03, 0.09) if index + 1 < len(changes) else time(total_beats) + 0.6
        if up - down < 0.15:
            continue
        intervals.append((down, up))
        top = int(rng.integers(100, 128))
        pedal += [(down, int(rng.integers(30, 60))), (down + 0.02, int(rng.integers(70, 95))), (down + 0.045, top)]
        pedal += [(up - 0.03, int(rng.integers(70, 100))), (up - 0.012, int(rng.integers(20, 50))), (up, 0)]
    groups: dict[float, list[ScoreNote]] = {}
    for note in notes:
        groups.setdefault(round(note.start, 4), []).append(note)
    played = []
    phrase = 4.0 * beats_per_bar
    for onset, chord in sorted(groups.items()):
        chord.sort(key=lambda note: note.pitch)
        rolled = len(chord) >= 4 and rng.random() < 0.25
        shape = np.sin(np.pi * ((onset % phrase) / phrase)) ** 0.8
        for position, note in enumerate(chord):
            melody = position == len(chord) - 1 and note.pitch >= 60
            bass = position == 0 and len(chord) > 1
            offset = float(np.clip(rng.normal(0.0, 0.007), -0.02, 0.02))
            offset += 0.018 * position if rolled else (-0.012 if melody else 0.0)
            start = max(0.0, time(note.start) + offset)
            written = time(note.end) - time(note.start)
            held = any(down <= time(note.end) < up for down, up in intervals)
            share = rng.uniform(0.2, 0.5) if held and bass else rng.uniform(0.35, 0.8) if held else rng.uniform(0.8, 0.95)
            release = start + max(0.05, written * share)
            accent = 5.0 if note.start % beats_per_bar == 0 else 0.0
            velocity = 50 + level + 24 * shape + accent + (10 if melody else 2 if bass else -6) + rng.normal(0.0, 4.0)
            played.append(PlayedNote(start, release, note.pitch, int(np.clip(round(velocity), 15, 115))))
    return tidy(played), sorted(pedal)


def tidy(played: list[PlayedNote]) -> list[PlayedNote]:
    """Sort, and let a key come up before it is struck again."""
    played.sort(key=lambda note: (note.start, note.pitch))
    last: dict[int, PlayedNote] = {}
    for note in played:
        previous = last.get(note.pitch)
        if previous is not None and previous.release > note.start - 0.005:
            previous.release = max(previous.start + 0.01, note.start - 0.005)
        last[note.pitch] = note
    return played


def sounding_ratio(played: list[PlayedNote], pedal: list[tuple[float, int]]) -> float:
    """Sounding time without the pedal over sounding time with it (note-seq's semantics)."""
    intervals, down = [], None
    for time, value in pedal:
        if value >= 64 and down is None:
            down = time
        elif value < 64 and down is not None:
            intervals.append((down, time))
            down = None
    onsets: dict[int, list[float]] = {}
    for note in played:
        onsets.setdefault(note.pitch, []).append(note.start)
    plain = held = 0.0
    for note in played:
        stop = next((up for down, up in intervals if down <= note.release < up), note.release)
        again = [time for time in onsets[note.pitch] if note.release <= time < stop]
        plain += note.release - note.start
        held += (again[0] if again else stop) - note.start
    return plain / held


def performance_midi(played: list[PlayedNote], pedal: list[tuple[float, int]], title: str):
    """A type-1 ``mido.MidiFile``: a tempo track at 120 BPM in 4/4, then the piano."""
    import mido

    def tick(seconds: float) -> int:
        return int(round(seconds * TICKS_PER_BEAT * FILE_TEMPO / 60.0))

    midi_file = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    conductor = mido.MidiTrack(
        [
            mido.MetaMessage("track_name", name=title, time=0),
            mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(FILE_TEMPO), time=0),
            mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0),
        ]
    )
    events = [(tick(time), 1, mido.Message("control_change", control=64, value=value, time=0)) for time, value in pedal]
    for note in played:
        events.append((tick(note.start), 2, mido.Message("note_on", note=note.pitch, velocity=note.velocity, time=0)))
        events.append((max(tick(note.start) + 1, tick(note.release)), 0, mido.Message("note_off", note=note.pitch, velocity=64, time=0)))
    events.sort(key=lambda event: (event[0], event[1]))
    piano = mido.MidiTrack([mido.MetaMessage("track_name", name="Piano", time=0), mido.Message("program_change", program=0, time=0)])
    now = 0
    for at, _, message in events:
        piano.append(message.copy(time=at - now))
        now = at
    piano.append(mido.MetaMessage("end_of_track", time=0))
    conductor.append(mido.MetaMessage("end_of_track", time=now))
    midi_file.tracks += [conductor, piano]
    return midi_file


def make_performance(seed: int, index: int) -> tuple[str, list[PlayedNote], list[tuple[float, int]]]:
    """Performance ``index`` of the folder made with ``seed``: its name, notes and pedal."""
    rng = np.random.default_rng([seed, index])
    corpus_name, base = SOURCES[index % len(SOURCES)]
    base *= rng.uniform(0.92, 1.08) if index >= len(SOURCES) else 1.0
    try:
        notes, beats_per_bar = score_notes(corpus_name)
        name = corpus_name.split("/", 1)[1].rsplit(".", 1)[0].replace("/", "-")
    except Exception as error:  # noqa: BLE001 - any failure to read the corpus falls back
        print(f"{corpus_name}: {error}; using generated material", file=sys.stderr)
        notes, beats_per_bar = generated_notes(rng)
        name = "generated"
    played, pedal = perform(notes, beats_per_bar, base, rng)
    return f"{index + 1:02d}-{name}", played, pedal


def main(argv: list[str] | None = None) -> int:
    """Write the performances to OUT, one line per file on stderr."""
    parser = argparse.ArgumentParser(description="Write pedalled piano performances as MIDI files.")
    parser.add_argument("out", type=Path, help="output folder")
    parser.add_argument("--pieces", type=int, default=10, help="how many performances")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same files)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for index in range(args.pieces):
        name, played, pedal = make_performance(args.seed, index)
        path = args.out / f"{name}.mid"
        performance_midi(played, pedal, name).save(str(path))
        seconds = max(note.release for note in played)
        print(
            f"{path.name}: {len(played)} notes, {seconds:.0f} s, {sum(1 for _, value in pedal if value == 0)} pedal lifts, "
            f"sounding without/with pedal {sounding_ratio(played, pedal):.2f}",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
