"""Chords and markers through files: written by musicgen, read from ABC and MusicXML chord symbols."""

from __future__ import annotations

import io

import mido
import numpy as np
import pretty_midi
import pytest

from musicgen.music.chords import NO_CHORD, chord_name, parse_chord
from musicgen.music.midi_io import load_midi, piece_to_midi, read_piece
from musicgen.music.piece import Piece, Track
from musicgen.music.smf import CHORD_TRACK, append_tracks, chord_track, read_smf


def _written(piece: Piece) -> bytes:
    buffer = io.BytesIO()
    piece_to_midi(piece).write(buffer)
    return buffer.getvalue()


def _names(piece: Piece) -> list[tuple[float, str]]:
    return [(beat, chord_name(chord)) for beat, chord in piece.chords]


@pytest.fixture
def chorded() -> Piece:
    notes = np.array([[0, 4, 57, 80, 0], [4, 8, 62, 80, 0], [8, 12, 67, 80, 0]], np.float64)
    chords = ((0.0, parse_chord("Am7")), (4.0, parse_chord("D7")), (8.0, parse_chord("Gmaj7")), (10.0, NO_CHORD))
    return Piece(notes, (Track(0),), chords=chords, markers=((0.0, "Verse"), (8.0, "A")))


def test_written_chords_and_markers_read_back(chorded) -> None:
    again = read_smf(_written(chorded))
    assert _names(again) == [(0.0, "Am7"), (4.0, "D7"), (8.0, "Gmaj7"), (10.0, "N.C.")]
    assert again.markers == ((0.0, "Verse"), (8.0, "A"))  # the chord markers are not read as sections
    assert len(again.notes) == 3 and len(again.tracks) == 1  # the chord track holds no part


def test_chords_are_markers_on_the_first_track_and_texts_in_a_chord_track(chorded) -> None:
    midi = mido.MidiFile(file=io.BytesIO(_written(chorded)))
    markers = [message.text for message in midi.tracks[0] if message.type == "marker"]
    assert markers == ["Verse", "Am7", "D7", "A", "Gmaj7", "N.C."]
    chord_tracks = [track for track in midi.tracks if track.name == CHORD_TRACK]
    assert len(chord_tracks) == 1
    assert [message.text for message in chord_tracks[0] if message.type == "text"] == ["Am7", "D7", "Gmaj7", "N.C."]
    pm = pretty_midi.PrettyMIDI(io.BytesIO(_written(chorded)))
    assert len(pm.instruments) == 1 and len(pm.instruments[0].notes) == 3


def test_chords_are_spelled_in_the_key_sounding_where_they_start() -> None:
    """In A-flat major a D-flat chord reads Db (not C#), after a change to B major a D-sharp minor
    chord D#m (not Ebm); both read back as the same chords."""
    notes = np.array([[0, 4, 56, 80, 0], [4, 8, 63, 80, 0]], np.float64)
    chords = ((0.0, parse_chord("C#")), (2.0, parse_chord("Bbm")), (4.0, parse_chord("Ebm")), (6.0, parse_chord("F#")))
    piece = Piece(notes, (Track(0),), chords=chords, key_signatures=((0.0, 8), (4.0, 11)))
    midi = mido.MidiFile(file=io.BytesIO(_written(piece)))
    chord_tracks = [track for track in midi.tracks if track.name == CHORD_TRACK]
    assert [message.text for message in chord_tracks[0] if message.type == "text"] == ["Db", "Bbm", "D#m", "F#"]
    assert read_smf(_written(piece)).chords == chords


def test_a_piece_without_chords_writes_no_chord_track() -> None:
    piece = Piece(np.array([[0, 1, 60, 80, 0]]), (Track(0),))
    midi = mido.MidiFile(file=io.BytesIO(_written(piece)))
    assert all(track.name != CHORD_TRACK for track in midi.tracks)
    assert read_smf(_written(piece)).chords == ()


def test_a_chord_track_added_to_any_file_is_read(tmp_path) -> None:
    piece = Piece(np.array([[0, 2, 60, 80, 0]]), (Track(0),))
    data = append_tracks(_written(piece), [chord_track([(0.0, parse_chord("C")), (1.5, parse_chord("F"))], 480)])
    assert _names(read_smf(data)) == [(0.0, "C"), (1.5, "F")]
    path = tmp_path / "x.mid"
    path.write_bytes(data)
    assert len(load_midi(path).instruments) == 1
    assert mido.MidiFile(str(path)).type == 1


def test_a_text_in_the_chord_track_that_is_no_chord_is_skipped() -> None:
    piece = Piece(np.array([[0, 2, 60, 80, 0]]), (Track(0),), chords=((0.0, 0),))
    midi = mido.MidiFile(file=io.BytesIO(_written(piece)))
    midi.tracks[-1].insert(1, mido.MetaMessage("text", text="Intro, softly"))
    buffer = io.BytesIO()
    midi.save(file=buffer)
    assert _names(read_smf(buffer.getvalue())) == [(0.0, "C")]


ABC_WITH_CHORDS = """X:1
T:Chords
M:4/4
L:1/4
K:G
|: "G"G A "Gd"B c | "D/f+"d4 :| "(E7)"e2 "Am"c2 | "^Fine"G4 |
"""


def test_abc_chord_symbols_become_the_piece_chords_with_repeats_expanded(tmp_path) -> None:
    path = tmp_path / "tune.abc"
    path.write_text(ABC_WITH_CHORDS)
    piece = read_piece(path)
    assert _names(piece) == [(0.0, "G"), (2.0, "Gdim"), (4.0, "D"), (8.0, "G"), (10.0, "Gdim"), (12.0, "D"),
                             (16.0, "E7"), (18.0, "Am")]
    assert len(piece.notes) == 2 * 5 + 3  # chord symbols play no notes
    assert piece.notes[:, 1].max() == 24.0  # nothing held past the end


def test_musicxml_harmony_becomes_the_piece_chords(tmp_path) -> None:
    from music21 import harmony, meter, note, stream

    part = stream.Part()
    measure = stream.Measure(number=1)
    measure.append(meter.TimeSignature("4/4"))
    for pitch in ("D4", "F4", "G4", "B4"):
        measure.append(note.Note(pitch, quarterLength=1))
    measure.insert(0, harmony.ChordSymbol("Dm7"))
    measure.insert(2, harmony.ChordSymbol(root="G", kind="dominant-ninth"))
    second = stream.Measure(number=2)
    second.append(note.Note("C5", quarterLength=4))
    second.insert(0, harmony.NoChord())
    part.append([measure, second])
    score = stream.Score([part])
    path = tmp_path / "lead.musicxml"
    score.write("musicxml", fp=str(path))
    piece = read_piece(path)
    assert _names(piece) == [(0.0, "Dm7"), (2.0, "G7"), (4.0, "N.C.")]
    assert len(piece.notes) == 5
