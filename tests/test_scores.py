"""musicgen.music.scores: every tune of a collection as its own MIDI piece, failures per tune."""

from __future__ import annotations

import io
from pathlib import Path

import mido
import pytest

from musicgen.errors import MidiError
from musicgen.music.scores import SCORE_SUFFIXES, ScorePiece, read_score_pieces, split_abc_tunes

# Tune 7 repeats its first two bars (24 notes once expanded). Tune 9 changes meter from 3/4 to 2/4
# and has a bar longer than its meter (4 beats in 3/4): music21 splits that bar and puts the
# same TimeSignature object into two measures, which its MIDI writer rejects unless repaired.
# Tune 8 has an unclosed chord, which music21's ABC reader cannot parse.
COLLECTION = """\
%abc-2.1
L:1/4

X:7
T:Repeated
M:4/4
K:C
|: C D E F | G A B c :| c B A G | F E D C |]

X:8
T:Broken
M:4/4
K:C
C D [CEG

X:9
T:Meter change
M:3/4
K:G
G A B | c2 d e | e d c | B3 |
M:2/4
A B | c d | B2 |]
"""


def note_ons(midi: bytes) -> list[tuple[float, int]]:
    """(beat, pitch) of every sounding note of a MIDI file."""
    midi_file = mido.MidiFile(file=io.BytesIO(midi))
    notes = []
    for track in midi_file.tracks:
        ticks = 0
        for message in track:
            ticks += message.time
            if message.type == "note_on" and message.velocity > 0:
                notes.append((ticks / midi_file.ticks_per_beat, message.note))
    return sorted(notes)


def time_signatures(midi: bytes) -> list[tuple[int, int]]:
    midi_file = mido.MidiFile(file=io.BytesIO(midi))
    return [
        (message.numerator, message.denominator)
        for track in midi_file.tracks
        for message in track
        if message.type == "time_signature"
    ]


@pytest.fixture(scope="module")
def collection_pieces(tmp_path_factory) -> list[ScorePiece]:
    path = tmp_path_factory.mktemp("abc") / "collection.abc"
    path.write_text(COLLECTION, encoding="utf-8")
    return read_score_pieces(path)


def test_every_tune_is_a_piece_keyed_by_its_reference_number(collection_pieces) -> None:
    assert [piece.key for piece in collection_pieces] == ["7", "8", "9"]
    assert [piece.title for piece in collection_pieces] == ["Repeated", "Broken", "Meter change"]


def test_only_the_broken_tune_fails(collection_pieces) -> None:
    broken = collection_pieces[1]
    assert broken.midi is None
    assert broken.error == "ABCHandlerException: Bad chord indicator: [CEG : no closing bracket found."
    assert all(piece.error is None and piece.midi for piece in (collection_pieces[0], collection_pieces[2]))


def test_every_track_is_named(collection_pieces) -> None:
    midi_file = mido.MidiFile(file=io.BytesIO(collection_pieces[0].midi))
    assert [track.name for track in midi_file.tracks] == ["", "Voice 1"]  # the conductor, then the tune


def test_repeats_are_expanded(collection_pieces) -> None:
    notes = note_ons(collection_pieces[0].midi)
    scale = [60, 62, 64, 65, 67, 69, 71, 72]
    assert [pitch for _, pitch in notes] == scale * 2 + scale[::-1]
    assert [beat for beat, _ in notes] == list(range(24))


def test_meter_change_with_an_overlong_bar_is_read(collection_pieces) -> None:
    midi = collection_pieces[2].midi
    assert len(note_ons(midi)) == 15
    signatures = time_signatures(midi)
    assert signatures == [(3, 4), (1, 4), (3, 4), (2, 4)]  # the split bar's overflow is a 1/4 bar


def test_the_header_applies_to_every_tune() -> None:
    tunes = split_abc_tunes(COLLECTION)
    assert [tune.reference for tune in tunes] == ["7", "8", "9"]
    assert all(tune.text.startswith("%abc-2.1\nL:1/4\nX:") for tune in tunes)


@pytest.mark.parametrize("change", ["|\nK:D\n", "| [K:D] "])
def test_a_key_change_after_a_barline_is_kept(tmp_path, change) -> None:
    path = tmp_path / "key.abc"
    path.write_text(f"X:1\nM:4/4\nL:1/4\nK:C\nF G A B | c d e f {change}F G A B | c d e f |]\n")
    (piece,) = read_score_pieces(path)
    pitches = [pitch for _, pitch in note_ons(piece.midi)]
    assert pitches == [65, 67, 69, 71, 72, 74, 76, 77, 66, 67, 69, 71, 73, 74, 76, 78]


def test_grace_notes_do_not_hang(tmp_path) -> None:
    """music21 writes a grace note as note-off then note-on: readers held it until the next D."""
    path = tmp_path / "grace.abc"
    path.write_text("X:1\nM:4/4\nL:1/4\nK:C\n{d}c B A G | c d e f |]\n")
    (piece,) = read_score_pieces(path)
    assert [pitch for _, pitch in note_ons(piece.midi)] == [72, 71, 69, 67, 72, 74, 76, 77]


@pytest.mark.parametrize("marker", ["V:{}\n", "[V:{}] "])
def test_interleaved_voices_become_two_whole_parts(tmp_path, marker) -> None:
    one, two = marker.format(1), marker.format(2)
    body = f"{one}C D E F | G A B c |\n{two}C,4 | G,4 |\n{one}c B A G | F E D C |]\n{two}F,4 | C,4 |]\n"
    path = tmp_path / "duet.abc"
    path.write_text(f"X:1\nM:4/4\nL:1/4\nV:1\nV:2\nK:C\n{body}")
    (piece,) = read_score_pieces(path)
    midi_file = mido.MidiFile(file=io.BytesIO(piece.midi))
    voices = [[message.note for message in track if message.type == "note_on" and message.velocity] for track in midi_file.tracks]
    assert [voice for voice in voices if voice] == [[60, 62, 64, 65, 67, 69, 71, 72, 72, 71, 69, 67, 65, 64, 62, 60], [48, 55, 53, 48]]
    # The second voice's second block continues it (bars 3-4) instead of restarting at bar 1.
    assert [beat for beat, pitch in note_ons(piece.midi) if pitch < 60] == [0.0, 4.0, 8.0, 12.0]


def test_duplicate_reference_numbers_give_positions(tmp_path) -> None:
    path = tmp_path / "twice.abc"
    path.write_text("X:1\nM:4/4\nL:1/4\nK:C\nC D E F |]\n\nX:1\nM:4/4\nL:1/4\nK:C\nG A B c |]\n")
    pieces = read_score_pieces(path)
    assert [piece.key for piece in pieces] == ["1", "2"]
    assert [pitch for _, pitch in note_ons(pieces[1].midi)] == [67, 69, 71, 72]


def test_a_single_tune_has_an_empty_key(tmp_path) -> None:
    path = tmp_path / "one.abc"
    path.write_text("X:4\nT:Alone\nM:2/4\nL:1/8\nK:D\nd2 f2 | a4 |]\n")
    (piece,) = read_score_pieces(path)
    assert (piece.key, piece.title, piece.error) == ("", "Alone", None)
    assert [pitch for _, pitch in note_ons(piece.midi)] == [74, 78, 81]


def test_reading_is_deterministic_and_quiet(tmp_path, capfd) -> None:
    path = tmp_path / "odd.abc"
    # "^2" is not a note: music21 prints a warning and reads a C, which must stay off the terminal.
    path.write_text("X:1\nM:4/4\nL:1/4\nK:C\nC D E F | ^2 G |]\n")
    first = read_score_pieces(path)
    second = read_score_pieces(path)
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""
    assert first == second and first[0].midi


def test_single_piece_musicxml(tmp_path) -> None:
    from music21 import meter, note, stream

    part = stream.Part()
    part.append(meter.TimeSignature("3/4"))
    for name in ["C4", "E4", "G4", "C5", "B4", "G4"]:
        part.append(note.Note(name, quarterLength=1.0))
    score = stream.Score([part])
    path = tmp_path / "six.musicxml"
    score.write("musicxml", fp=str(path))
    (piece,) = read_score_pieces(path)
    assert piece.key == "" and piece.error is None
    assert [pitch for _, pitch in note_ons(piece.midi)] == [60, 64, 67, 72, 71, 67]
    assert time_signatures(piece.midi)[0] == (3, 4)


def test_corrupt_musicxml_is_a_midi_error(tmp_path) -> None:
    path = tmp_path / "broken.xml"
    path.write_text('<score-partwise><part id="P1"><measure')
    with pytest.raises(MidiError) as caught:
        read_score_pieces(path)
    assert str(caught.value) == f"{path}: cannot read as xml score: ParseError: unclosed token: line 1, column 30"


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("missing.abc", None, "file not found"),
        ("empty.abc", "  \n", "empty file"),
        ("song.mid", "MThd", "not a score file (expected one of .abc, .krn, .musicxml, .mxl, .xml)"),
    ],
)
def test_unreadable_files(tmp_path, name, content, reason) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(MidiError) as caught:
        read_score_pieces(path)
    assert str(caught.value) == f"{path}: {reason}"


def test_a_collection_with_no_readable_tune_is_a_midi_error(tmp_path) -> None:
    path = tmp_path / "bad.abc"
    path.write_text("X:1\nM:4/4\nL:1/4\nK:C\nC [CEG\n\nX:2\nM:4/4\nL:1/0\nK:C\nC D |]\n")
    with pytest.raises(MidiError, match=r"bad\.abc: none of its 2 pieces could be read \(first: ABCHandlerException"):
        read_score_pieces(path)


def test_score_suffixes() -> None:
    assert SCORE_SUFFIXES == {".xml", ".mxl", ".musicxml", ".abc", ".krn"}


def test_essen_erk5_every_tune_is_read() -> None:
    """music21's own erk5.abc: 27 tunes; tunes 4 and 26 hit the TimeSignature failure unrepaired."""
    from music21 import corpus

    path = Path(str(corpus.getWork("essenFolksong/erk5.abc")))
    pieces = read_score_pieces(path)
    assert [piece.key for piece in pieces] == [str(number) for number in range(1, 28)]
    assert [piece.error for piece in pieces] == [None] * 27
    assert pieces[3].title == "Ic sie die morghen sterre"
    assert time_signatures(pieces[3].midi)[:3] == [(4, 2), (1, 4), (4, 2)]
    assert all(len(note_ons(piece.midi)) > 10 for piece in pieces)
