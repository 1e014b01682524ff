"""musicgen.music.midi_io: bad files give MidiError naming the file; music21 formats; meter."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from midi_factory import Track, make_pretty_midi, write_mido_file

from musicgen.errors import MidiError
from musicgen.music import midi_io
from musicgen.music.piece import seconds_to_beats
from musicgen.music.smf import read_smf
from musicgen.paths import BACH_MIDI_DIR
from musicgen.tokens import Tokenizer, TokenizerConfig

EVENTS = TokenizerConfig(encoding="events")

TOKENIZER = Tokenizer(EVENTS)
SAMPLE = sorted(BACH_MIDI_DIR.glob("*.mid"))[0]
SAMPLE_BYTES = SAMPLE.read_bytes()


def test_missing_file(tmp_path) -> None:
    path = tmp_path / "nope.mid"
    with pytest.raises(MidiError, match=r"nope\.mid: file not found"):
        TOKENIZER.encode(path)


def test_directory_is_not_a_file(tmp_path) -> None:
    with pytest.raises(MidiError, match="not a file"):
        TOKENIZER.encode(tmp_path)


def test_empty_file(tmp_path) -> None:
    path = tmp_path / "empty.mid"
    path.write_bytes(b"")
    with pytest.raises(MidiError, match=r"empty\.mid: empty file"):
        TOKENIZER.encode(path)


def test_not_midi(tmp_path) -> None:
    path = tmp_path / "notes.mid"
    path.write_text("these are not the notes you are looking for\n")
    with pytest.raises(MidiError, match=r"notes\.mid: not a MIDI file"):
        TOKENIZER.encode(path)


def test_truncated_file(tmp_path) -> None:
    path = tmp_path / "cut.mid"
    path.write_bytes(SAMPLE_BYTES[: len(SAMPLE_BYTES) // 2])
    with pytest.raises(MidiError, match=r"cut\.mid: (truncated|corrupt)"):
        TOKENIZER.encode(path)


def test_corrupt_track_chunk(tmp_path) -> None:
    data = bytearray(SAMPLE_BYTES)
    data[14:18] = b"XXXX"  # the first track's "MTrk" tag
    path = tmp_path / "bad.mid"
    path.write_bytes(bytes(data))
    with pytest.raises(MidiError, match=r"bad\.mid: corrupt"):
        TOKENIZER.encode(path)


def test_length_is_judged_by_time_not_by_ticks(tmp_path) -> None:
    # A ten-minute movement at music21's 10,080 ticks per quarter note has over 10,000,000 ticks: music.
    notes = [(60 + i % 12, i * 2.0, i * 2.0 + 2.0, 80) for i in range(600)]
    quartet = write_mido_file(tmp_path / "quartet.mid", [Track(notes)], ticks_per_beat=10080)
    assert midi_io.read_piece(quartet).end_beat == 1200.0
    # One note six and a half hours long (an ABC export gone wrong) is refused, with its length.
    broken = write_mido_file(tmp_path / "broken.mid", [Track([(60, 0, 6.5 * 3600 * 2, 80)])], ticks_per_beat=96)
    with pytest.raises(MidiError, match=r"broken\.mid: 6\.5 hours long at its own tempo \(46,800 quarter notes\)"):
        TOKENIZER.encode(broken)


def test_absurd_tick_count_is_rejected_quickly(tmp_path) -> None:
    # One event 2**32 ticks in: a corrupt delta, refused while reading.
    path = write_mido_file(tmp_path / "long.mid", [Track([(60, 0, 2**32 / 480, 80)])])
    with pytest.raises(MidiError, match=r"long\.mid: corrupt"):
        TOKENIZER.encode(path)


def test_bad_score_file(tmp_path) -> None:
    path = tmp_path / "broken.xml"
    path.write_text("<score-partwise><part id='P1'><measure>")
    with pytest.raises(MidiError, match=r"broken\.xml: cannot read as xml score"):
        TOKENIZER.encode(path)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.integers(0, len(SAMPLE_BYTES) - 1), st.integers(0, 255)), min_size=1, max_size=8),
    st.integers(16, len(SAMPLE_BYTES)),
)
def test_mutated_bytes_raise_only_midi_error(tmp_path_factory, mutations, length) -> None:
    data = bytearray(SAMPLE_BYTES)
    for position, value in mutations:
        data[position] = value
    path = tmp_path_factory.mktemp("mutated") / "mutant.mid"
    path.write_bytes(bytes(data[:length]))
    try:
        ids = TOKENIZER.encode(path)
    except MidiError as error:
        assert "mutant.mid: " in str(error)
    else:
        assert ids.dtype == np.int32 and ids[0] == 1 and ids[-1] == 2


@settings(max_examples=20, deadline=None)
@given(st.binary(min_size=1, max_size=200))
def test_random_bytes_after_header_raise_only_midi_error(tmp_path_factory, tail) -> None:
    path = tmp_path_factory.mktemp("random") / "random.mid"
    path.write_bytes(b"MThd" + tail)
    try:
        TOKENIZER.encode(path)
    except MidiError as error:
        assert "random.mid: " in str(error)


ABC = """X:1
T:Scale
M:3/4
L:1/4
Q:1/4=90
K:C
C D E | F G A | B c2 |]
"""


def test_abc_through_music21(tmp_path) -> None:
    path = tmp_path / "scale.abc"
    path.write_text(ABC)
    pm = midi_io.load_midi(path)
    notes = midi_io.note_array(pm)
    assert [int(pitch) for pitch in notes[np.argsort(notes[:, 0]), 2]] == [60, 62, 64, 65, 67, 69, 71, 72]
    np.testing.assert_allclose(np.sort(notes[:, 0]) - notes[:, 0].min(), [0, 1, 2, 3, 4, 5, 6, 7])
    meter = midi_io.read_meter(pm)
    assert (meter.numerator, meter.denominator) == (3, 4)
    assert meter.tempo == pytest.approx(90.0, rel=1e-3)
    ids = TOKENIZER.encode(path)
    assert TOKENIZER.describe(ids).count("NOTE_ON") == 8


def test_read_meter_defaults_and_values() -> None:
    pm = make_pretty_midi([Track([(60, 0, 1, 80)])], tempo=75.0, time_signature=(6, 8))
    assert midi_io.read_meter(pm) == midi_io.Meter(75.0, 6, 8)
    bare = make_pretty_midi([Track([(60, 0, 1, 80)])], time_signature=None)
    assert midi_io.read_meter(bare)[1:] == (4, 4)


def test_seconds_to_beats_follows_tempo_map(tmp_path) -> None:
    path = write_mido_file(
        tmp_path / "tempo.mid", [Track([(60, 0, 1, 80)])], tempo_changes=[(0, 60.0), (2, 120.0), (4, 30.0)]
    )
    pm = midi_io.load_midi(path)
    # 2 beats at 60 qpm = 2 s, 2 beats at 120 = 1 s, then 2 s per beat.
    np.testing.assert_allclose(seconds_to_beats(pm, np.array([0, 1, 2, 2.5, 3, 5])), [0, 1, 2, 3, 4, 5])


def test_bad_time_signature_and_tempo() -> None:
    from musicgen.errors import ConfigError

    with pytest.raises(ConfigError, match="time signature"):
        TOKENIZER.decode([1, 2], time_signature=(3, 5))
    with pytest.raises(ConfigError, match="tempo"):
        TOKENIZER.decode([1, 2], tempo=0)


def tricky_file(path) -> bytes:
    """Running status, velocity-0 note-offs, stacked note-ons, program changes, sysex."""
    import mido

    track = mido.MidiTrack(
        [
            mido.Message("note_on", note=60, velocity=70, time=0),
            mido.Message("note_on", note=60, velocity=90, time=10),  # stacked on the same pitch
            mido.Message("note_on", note=60, velocity=0, time=10),  # closes both
            mido.Message("sysex", data=[1, 2, 3], time=0),
            mido.Message("note_on", note=62, velocity=50, time=0),
            mido.Message("note_off", note=62, velocity=0, time=0),  # zero length: dropped
            mido.Message("note_on", note=64, velocity=50, time=0),
            mido.Message("program_change", program=40, time=5),  # program at the note-off counts
            mido.Message("note_on", note=64, velocity=60, time=5),
            mido.Message("note_off", note=64, time=0),  # closes the older note; the new one stays
            mido.Message("note_off", note=64, time=20),
            mido.Message("note_on", note=36, velocity=100, channel=9, time=0),
            mido.Message("note_off", note=36, channel=9, time=7),
            mido.Message("note_on", note=67, velocity=80, time=0),  # never closed: dropped
            mido.MetaMessage("end_of_track", time=0),
        ]
    )
    midi = mido.MidiFile(type=0, ticks_per_beat=24)
    midi.tracks.append(track)
    midi.save(str(path))
    return path.read_bytes()


def test_fast_reader_matches_pretty_midi_on_tricky_events(tmp_path) -> None:
    data = tricky_file(tmp_path / "tricky.mid")
    fast = read_smf(data).note_array()
    slow = midi_io.note_array(midi_io.midi_from_bytes(data))
    np.testing.assert_allclose(fast, slow)
    assert sorted(tuple(row) for row in fast[:, 2:].astype(int).tolist()) == [
        (36, 100, 128), (60, 70, 0), (60, 90, 0), (64, 50, 40), (64, 60, 40)
    ]  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(SAMPLE_BYTES) - 1), st.integers(0, 255)), min_size=1, max_size=3))
def test_fast_reader_agrees_with_pretty_midi_on_mutated_bytes(mutations) -> None:
    """Where both readers accept damaged bytes they give the same ids."""
    data = bytearray(SAMPLE_BYTES)
    for position, value in mutations:
        data[position] = value
    results = []
    for read in (lambda raw: read_smf(raw).note_array(), lambda raw: midi_io.note_array(midi_io.midi_from_bytes(raw))):
        try:
            results.append(TOKENIZER.encode_notes(read(bytes(data))))
        except MidiError:
            results.append(None)
    fast, slow = results
    if fast is None:  # the fast reader is never stricter than pretty_midi
        assert slow is None
    elif slow is not None:
        np.testing.assert_array_equal(fast, slow)
    # (It may accept what pretty_midi rejects for a malformed meta event, e.g. a key
    # signature with 117 sharps: meta events carry no notes.)


def test_a_note_of_one_pitch_overlapping_the_next_is_written_as_two_whole_notes(tmp_path) -> None:
    """A sampled note held into the next onset of its pitch (beat 10 to 14, then beat 12 to 16)
    is written ending where the next starts: read back, the second sounds its 4 beats, not 2
    (the first note-off of a pitch ends every note of it in a MIDI file); a doubled onset keeps
    the longer note."""
    from musicgen.music.piece import Piece
    from musicgen.music.piece import Track as PieceTrack

    notes = np.array([[10.0, 14.0, 49, 80, 0], [12.0, 16.0, 49, 80, 0], [12.0, 13.0, 60, 80, 0],
                      [16.0, 17.0, 52, 80, 0], [16.0, 18.0, 52, 80, 0]])
    path = tmp_path / "held.mid"
    midi_io.piece_to_midi(Piece(notes=notes, tracks=(PieceTrack(33),))).write(str(path))
    back = midi_io.read_piece(path).notes
    rows = sorted((round(float(start), 3), round(float(end), 3), int(pitch)) for start, end, pitch in back[:, :3])
    assert rows == [(10.0, 12.0, 49), (12.0, 13.0, 60), (12.0, 16.0, 49), (16.0, 18.0, 52)]
