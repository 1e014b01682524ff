"""How often the chord recogniser agrees with the chord symbols of annotated corpora.

    python scripts/experiments/chord_agreement.py pop909 ../shared/data/corpora/pop909
    python scripts/experiments/chord_agreement.py nottingham ../shared/data/corpora/nottingham
    python scripts/experiments/chord_agreement.py openewld ../shared/data/corpora/openewld/dataset

Agreement is counted per beat (quarter notes; dotted quarters in 6/8, 9/8, 12/8) over the beats
where the annotation names a chord (its ``N`` beats are left out): the annotated chord is the
one sounding at the start of the beat, reduced to the vocabulary of
:mod:`musicgen.music.chords` (a ninth as its seventh, inversions as root position), and so is
the recognised one (:func:`musicgen.music.harmony.recognise_chords`, which never sees the
annotations). ``root`` counts beats whose roots are the same pitch class, ``chord`` beats whose
root and quality are the same, and ``triad`` beats whose roots and thirds (major, minor, or
neither) agree.

* **pop909**: each song read with its ``chord_midi.txt`` (all three tracks: melody, bridge, piano).
* **nottingham**: each tune of ``ABC_cleaned/*.abc`` (chord symbols) paired with ``MIDI/<file><N>.mid``
  (melody and chord tracks) where the two hold the same melody, moved by the MIDI file's
  pickup padding; scored on the whole MIDI file, on its chord track alone and on its melody alone.
* **openewld**: each lead sheet's melody against its ``<harmony>``: a melody alone says little
  of its chords, so expect far less.

``--limit N`` reads every k-th piece so that N are read; ``--first N`` the first N (the
songs the recogniser's weights were tuned on are POP909's first 100).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from musicgen.errors import MidiError
from musicgen.music import midi_io
from musicgen.music.chords import NO_CHORD, QUALITIES, chord_root
from musicgen.music.harmony import DEFAULT, Settings, chords_at, recognise_chords
from musicgen.music.meter import beat_frames
from musicgen.music.piece import Piece
from musicgen.music.scores import quiet_music21, read_score_pieces

THIRDS = {quality.name: ("major" if 4 in quality.intervals else "minor" if 3 in quality.intervals else "none")
          for quality in QUALITIES}


def third(chords: np.ndarray) -> np.ndarray:
    return np.array([THIRDS[QUALITIES[chord % len(QUALITIES)].name] if chord >= 0 else "-" for chord in chords])


def agreement(piece: Piece, truth: tuple, settings: Settings = DEFAULT, shift: float = 0.0) -> np.ndarray:
    """``[beats, root, chord, triad]`` counts of one piece against ``truth`` moved by ``shift`` beats."""
    edges, _ = beat_frames(piece)
    beats = edges[:-1]
    true = chords_at(tuple((beat + shift, chord) for beat, chord in truth), beats)
    found = chords_at(recognise_chords(dataclasses.replace(piece, chords=()), settings), beats)
    counted = true != NO_CHORD
    true, found = true[counted], found[counted]
    roots = np.array([chord_root(chord) for chord in true]) == np.array([chord_root(chord) for chord in found])
    return np.array([len(true), roots.sum(), (true == found).sum(), (roots & (third(true) == third(found))).sum()])


def read(path: Path) -> Piece | None:
    """The piece of a file, or None (said on stderr) when it cannot be read."""
    try:
        with quiet_music21():
            return midi_io.read_piece(path)
    except MidiError as error:
        print(f"skipped: {error}", file=sys.stderr)
        return None


def pop909(folder: Path, names: list[str], settings: Settings) -> Iterator[tuple[str, np.ndarray]]:
    for name in names:
        piece = read(folder / name / f"{name}.mid")
        if piece is not None:
            yield "pop909", agreement(piece, piece.chords, settings)


def nottingham(folder: Path, names: list[str], settings: Settings) -> Iterator[tuple[str, np.ndarray]]:
    for name in names:
        with quiet_music21():
            tunes = read_score_pieces(folder / "ABC_cleaned" / f"{name}.abc")
        for number, tune in enumerate(tunes, start=1):
            path = folder / "MIDI" / f"{name}{number}.mid"
            if tune.midi is None or not path.exists():
                continue
            score = midi_io.read_smf(tune.midi)
            played = read(path)
            shift = None if played is None else _alignment(score, played)
            if shift is None or not score.chords:
                yield "unpaired", np.zeros(4)
                continue
            yield "whole", agreement(played, score.chords, settings, shift)
            for label, track in (("chord track", 1), ("melody", 0)):
                part = played.notes[played.notes[:, 4] == track]
                if len(part):
                    yield label, agreement(dataclasses.replace(played, notes=part), score.chords, settings, shift)


def _alignment(score: Piece, played: Piece) -> float | None:
    """How far the MIDI file's melody lies after the score's, if it is the same melody."""
    melody = played.notes[played.notes[:, 4] == 0]
    if len(melody) != len(score.notes) or not len(melody):
        return None
    shift = float(melody[0, 0] - score.notes[0, 0])
    same = np.allclose(melody[:, 0] - shift, score.notes[:, 0], atol=1e-3) and np.array_equal(melody[:, 2], score.notes[:, 2])
    return shift if same else None


def openewld(folder: Path, names: list[str], settings: Settings) -> Iterator[tuple[str, np.ndarray]]:
    for name in names:
        piece = read(folder / name)
        if piece is not None:
            yield "openewld", agreement(piece, piece.chords, settings)


def names_of(corpus: str, folder: Path) -> list[str]:
    if corpus == "pop909":
        return sorted(path.name for path in folder.iterdir() if path.name.isdigit())
    if corpus == "nottingham":
        return sorted(path.stem for path in (folder / "ABC_cleaned").glob("*.abc"))
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*.mxl"))


def measure(corpus: str, folder: Path, names: list[str], settings: Settings = DEFAULT) -> dict[str, dict]:
    """Summed counts and shares per label of one corpus."""
    reader = {"pop909": pop909, "nottingham": nottingham, "openewld": openewld}[corpus]
    totals: dict[str, np.ndarray] = {}
    pieces: dict[str, int] = {}
    for label, counts in reader(folder, names, settings):
        totals[label] = totals.get(label, np.zeros(4)) + counts
        pieces[label] = pieces.get(label, 0) + 1
    report = {}
    for label, (beats, root, chord, triad) in totals.items():
        shares = {"root": root / beats, "chord": chord / beats, "triad": triad / beats} if beats else {}
        report[label] = {"pieces": pieces[label], "beats": int(beats), **{key: round(float(value), 4) for key, value in shares.items()}}
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", choices=("pop909", "nottingham", "openewld"))
    parser.add_argument("folder", type=Path)
    parser.add_argument("--limit", type=int, default=0, help="pieces read, spread over the corpus (default all)")
    parser.add_argument("--first", type=int, default=0, help="only the first N pieces (or ABC files)")
    parser.add_argument("--skip", type=int, default=0, help="leave out the first N pieces (or ABC files)")
    args = parser.parse_args(argv)
    names = names_of(args.corpus, args.folder)[args.skip:]
    if args.first:
        names = names[:args.first]
    if args.limit and len(names) > args.limit:
        names = [names[index] for index in np.linspace(0, len(names) - 1, args.limit).round().astype(int)]
    print(json.dumps(measure(args.corpus, args.folder, names), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
