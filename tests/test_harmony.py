"""The chord recogniser: block chords, passing notes, bass, silence, compound meters, speed."""

from __future__ import annotations

import time

import numpy as np

from musicgen.music.chords import NO_CHORD, chord_name, chord_root, parse_chord, pitch_classes
from musicgen.music.harmony import chords_at, chords_of, recognise_chords
from musicgen.music.instruments import DRUM_PROGRAM
from musicgen.music.piece import Piece, Track


def _block(progression: list[tuple[str, float]], octave: int = 48) -> list[list[float]]:
    """Root-position chords held for their lengths, the root doubled an octave down."""
    rows, beat = [], 0.0
    for name, length in progression:
        chord = parse_chord(name)
        tones = pitch_classes(chord)
        rows.append([beat, beat + length, octave - 12 + tones[0], 80, 0])
        rows += [[beat, beat + length, octave + tone if tone >= tones[0] else octave + 12 + tone, 80, 0]
                 for tone in tones]
        beat += length
    return rows


def _names(chords: tuple) -> list[tuple[float, str]]:
    return [(beat, chord_name(chord)) for beat, chord in chords]


def test_block_chords_are_recognised_at_their_bars() -> None:
    progression = [("C", 4), ("Am", 4), ("Dm7", 4), ("G7", 4), ("Fmaj7", 4), ("Bdim", 4), ("Esus4", 4), ("E", 4)]
    piece = Piece(np.array(_block(progression), np.float64), (Track(0),))
    beat = np.cumsum([0] + [length for _, length in progression[:-1]])
    assert _names(recognise_chords(piece)) == [(float(at), name) for at, (name, _) in zip(beat, progression, strict=True)]


def test_passing_notes_do_not_make_it_flicker() -> None:
    rows = _block([("C", 4), ("F", 4), ("G", 4), ("C", 4)])
    melody = [60, 62, 64, 65, 67, 69, 71, 72] * 4  # a scale in eighths over every chord
    rows += [[index * 0.5, index * 0.5 + 0.5, 72 + melody[index] - 60, 90, 1] for index in range(32)]
    piece = Piece(np.array(rows, np.float64), (Track(0), Track(73)))
    assert _names(recognise_chords(piece)) == [(0.0, "C"), (4.0, "F"), (8.0, "G"), (12.0, "C")]


def test_the_bass_decides_the_root_of_notes_two_chords_share() -> None:
    # A, C, E, G over A is Am7; the same notes over C are a chord on C (C6, or C with an added sixth).
    upper = [[0, 4, pitch, 80, 0] for pitch in (64, 67, 69, 72)]
    over_a = Piece(np.array([*upper, [0, 4, 45, 80, 0]], np.float64), (Track(0),))
    over_c = Piece(np.array([*upper, [0, 4, 48, 80, 0]], np.float64), (Track(0),))
    assert _names(recognise_chords(over_a)) == [(0.0, "Am7")]
    assert [chord_root(chord) for _, chord in recognise_chords(over_c)] == [0]


def test_long_silence_is_no_chord_and_drums_are_not_harmony() -> None:
    rows = _block([("C", 4)]) + [[16 + row[0], 16 + row[1], *row[2:]] for row in _block([("G", 4)])]
    rows += [[beat, beat + 0.25, 36 + (beat % 2 == 1) * 6, 100, 1] for beat in np.arange(0, 20, 0.5)]
    piece = Piece(np.array(rows, np.float64), (Track(0), Track(DRUM_PROGRAM)))
    assert _names(recognise_chords(piece)) == [(0.0, "C"), (4.0, "N.C."), (16.0, "G")]
    drums_alone = Piece(np.array([row for row in rows if row[4] == 1], np.float64), (Track(0), Track(DRUM_PROGRAM)))
    assert recognise_chords(drums_alone) == ()


def test_compound_meters_change_chords_on_dotted_quarters() -> None:
    piece = Piece(np.array(_block([("D", 1.5), ("G", 1.5), ("A7", 3.0)]), np.float64), (Track(0),),
                  time_signatures=((0.0, 6, 8),))
    assert _names(recognise_chords(piece)) == [(0.0, "D"), (1.5, "G"), (3.0, "A7")]


def test_annotations_come_first() -> None:
    piece = Piece(np.array(_block([("C", 4)]), np.float64), (Track(0),), chords=((0.0, parse_chord("Am")),))
    assert _names(chords_of(piece)) == [(0.0, "Am")]
    assert _names(chords_of(Piece(piece.notes, piece.tracks))) == [(0.0, "C")]
    assert recognise_chords(Piece()) == ()
    assert NO_CHORD not in [chord for _, chord in chords_of(piece)]


def test_a_five_minute_song_is_recognised_in_well_under_a_second() -> None:
    rng = np.random.default_rng(0)
    names = ["C", "Am", "F", "G7", "Em", "Dm7", "Bb", "E7"]
    progression = [(names[index], 4) for index in rng.integers(0, len(names), 150)]  # 600 beats, 5 min at 120
    rows = np.array(_block(progression), np.float64)
    melody = np.column_stack([np.arange(0, 600, 0.5), np.arange(0.5, 600.5, 0.5), rng.integers(60, 84, 1200),
                              np.full(1200, 90), np.ones(1200)])
    piece = Piece(np.vstack([rows, melody]), (Track(0), Track(73)))
    started = time.perf_counter()
    found = recognise_chords(piece)
    assert time.perf_counter() - started < 0.5
    assert len(found) >= 100


def test_the_chord_at_given_beats() -> None:
    chords = ((1.0, parse_chord("C")), (3.0, parse_chord("G")), (5.0, NO_CHORD))
    assert chords_at(chords, [0.0, 1.0, 2.5, 3.0, 4.99, 6.0]).tolist() == [NO_CHORD, 0, 0, 84, 84, NO_CHORD]
    assert chords_at((), [0.0, 1.0]).tolist() == [NO_CHORD, NO_CHORD]
