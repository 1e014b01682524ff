"""Chord symbols: the vocabulary, every label syntax the readers meet, names and pitch classes."""

from __future__ import annotations

import pytest

from musicgen.errors import ConfigError, MusicgenError
from musicgen.music.chords import (
    CHORD_COUNT,
    NO_CHORD,
    QUALITIES,
    chord_name,
    chord_number,
    chord_quality,
    chord_root,
    harte_label,
    parse_chord,
    parse_progression,
    pitch_classes,
    read_chord,
)


def test_every_chord_name_reads_back_as_itself() -> None:
    for chord in range(CHORD_COUNT):
        assert parse_chord(chord_name(chord)) == chord
        assert parse_chord(harte_label(chord)) == chord
    assert parse_chord("N") == NO_CHORD and chord_name(NO_CHORD) == "N.C." and harte_label(NO_CHORD) == "N"
    assert parse_chord(chord_name(NO_CHORD)) == NO_CHORD


def test_numbering_is_root_then_quality() -> None:
    assert len(QUALITIES) <= 12 and CHORD_COUNT == 12 * len(QUALITIES)
    am7 = chord_number(9, "min7")
    assert chord_name(am7) == "Am7" and chord_root(am7) == 9 and chord_quality(am7).name == "min7"
    assert pitch_classes(am7) == (9, 0, 4, 7)
    assert pitch_classes(parse_chord("F#m7b5")) == (6, 9, 0, 4)
    assert pitch_classes(NO_CHORD) == ()


@pytest.mark.parametrize(("label", "name"), [
    # Harte, as POP909 writes it
    ("Gb:maj", "F#"), ("C:min7", "Cm7"), ("A:7/3", "A7"), ("B:hdim7", "Bm7b5"), ("E:sus4(b7)", "Esus4"),
    ("D:maj6", "D6"), ("F:min6", "Fm"), ("G:minmaj7", "Gm"), ("C:(1,b3,5)", "Cm"), ("C:maj(9)", "C"),
    ("Ab:9", "Ab7"), ("X", "N.C."),
    # music21 figures
    ("Dm7", "Dm7"), ("G7", "G7"), ("Cmaj7", "Cmaj7"), ("B-7", "Bb7"), ("Bb/D", "Bb"), ("C+", "Caug"),
    ("C#dim", "C#dim"), ("Co7", "Cdim7"), ("C7sus4", "Csus4"),
    # ABC as Nottingham writes it
    ("Am", "Am"), ("D7", "D7"), ("G/b", "G"), ("D/f+", "D"), ("Gm/bb", "Gm"), ("Gd", "Gdim"), ("Ea", "Eaug"),
    ("(E7)", "E7"),
    # richer chords map to the nearest quality
    ("C9", "C7"), ("Cm11", "Cm7"), ("Cmaj9", "Cmaj7"), ("C13", "C7"), ("E7b9", "E7"), ("C7(#11)", "C7"),
    ("Cadd9", "C"), ("C6/9", "C6"), ("Eb5", "Eb"), ("CΔ7", "Cmaj7"), ("Bø", "Bm7b5"), ("CM7", "Cmaj7"),
    ("N.C.", "N.C."),
])
def test_label_syntaxes(label: str, name: str) -> None:
    assert chord_name(parse_chord(label)) == name


def test_the_bass_is_read_and_left_out_of_the_number() -> None:
    assert read_chord("Bb/D") == (10, 0, 2)
    assert read_chord("A:7/3").bass == 1
    assert read_chord("D/f+").bass == 6
    assert parse_chord("Bb/D") == parse_chord("Bb")


@pytest.mark.parametrize("label", ["H7", "Cxyz", "C/Q", "C:wat", "7"])
def test_a_label_that_is_no_chord_symbol_is_refused(label: str) -> None:
    with pytest.raises(ConfigError, match="cannot read the chord"):
        parse_chord(label)
    assert issubclass(ConfigError, MusicgenError)


def test_progressions_as_users_type_them() -> None:
    assert parse_progression("C G Am F") == [(0, None), (84, None), (parse_chord("Am"), None), (60, None)]
    assert parse_progression("Dm7:2 G7:2 | Cmaj7:4") == [
        (parse_chord("Dm7"), 2.0), (parse_chord("G7"), 2.0), (parse_chord("Cmaj7"), 4.0)]
    assert parse_progression("C:7") == [(0, 7.0)]  # a length, not Harte's C7
    with pytest.raises(ConfigError):
        parse_progression("   ")
    with pytest.raises(ConfigError):
        parse_progression("C:0")
