"""The notes encoding: exact layout, round trips at grid resolution, tracks kept, total decoding."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
from midi_factory import Track, make_pretty_midi, write_mido_file

from musicgen.errors import ConfigError
from musicgen.music import midi_io
from musicgen.music.piece import Piece
from musicgen.music.piece import Track as PieceTrack
from musicgen.paths import BACH_MIDI_DIR
from musicgen.tokens import Kind, Tokenizer, TokenizerConfig

NOTES = TokenizerConfig(encoding="notes", velocity_bins=8, max_tracks=6)


def sorted_notes(piece: Piece, track: int) -> np.ndarray:
    rows = piece.notes[piece.notes[:, 4] == track]
    return rows[np.lexsort((rows[:, 2], rows[:, 0]))]


def test_layout_is_exactly_the_documented_one() -> None:
    tokenizer = Tokenizer(NOTES)
    piece = make_pretty_midi([
        Track([(60, 0.0, 1.0, 100), (64, 0.0, 0.5, 100), (62, 4.0, 5.5, 40)], program=0),
        Track([(36, 0.5, 0.75, 90)], is_drum=True),
    ])
    ids = tokenizer.encode(piece)
    assert tokenizer.describe(ids).split() == [
        "BOS", "PROGRAM(0)", "PROGRAM(drums)",
        "BAR", "TIME_SIGNATURE(4/4)",
        "TRACK(0)", "POSITION(0)", "PITCH(60)", "VELOCITY(6)", "DURATION(12)", "PITCH(64)", "VELOCITY(6)",
        "DURATION(6)",
        "TRACK(1)", "POSITION(6)", "PITCH(36)", "VELOCITY(5)", "DURATION(3)",
        "BAR", "TRACK(0)", "POSITION(0)", "PITCH(62)", "VELOCITY(2)", "DURATION(18)",
        "EOS",
    ]


def test_round_trip_at_grid_resolution_with_tracks_meters_and_drums(tmp_path: Path) -> None:
    tokenizer = Tokenizer(NOTES)
    rng = np.random.default_rng(4)
    tracks = []
    for program, is_drum in ((0, False), (0, False), (33, False), (0, True)):
        notes = []
        for _ in range(40):
            start = rng.integers(0, 30 * 12) / 12  # steps of the 1/12-beat grid
            length = rng.integers(1, 48) / 12  # every length up to a 4/4 bar is a token
            notes.append((int(rng.integers(30, 90)), start, start + length, int(rng.integers(1, 128))))
        tracks.append(Track(notes, program=program, is_drum=is_drum, name=f"part {len(tracks)}"))
    path = write_mido_file(tmp_path / "four.mid", tracks, time_signatures=[(0.0, 3, 4), (12.0, 6, 8), (18.0, 4, 4)])
    source = midi_io.read_piece(path)
    decoded = tokenizer.decode_piece(tokenizer.encode(path))
    # Tracks in (program, source order): the two program-0 parts stay two tracks.
    assert [track.program for track in decoded.tracks] == [0, 0, 33, 128]
    assert [signature[1:] for signature in decoded.time_signatures] == [(3, 4), (6, 8), (4, 4)]
    assert [round(signature[0], 6) for signature in decoded.time_signatures] == [0.0, 12.0, 18.0]
    order = sorted(range(4), key=lambda index: (source.tracks[index].program, index))
    for new, old in enumerate(order):
        expected, actual = sorted_notes(source, old), sorted_notes(decoded, new)
        # One note per (track, pitch, onset); an overlapped note ends at the next onset of its pitch.
        keep = np.ones(len(expected), bool)
        for index in range(len(expected)):
            same = (expected[:, 2] == expected[index, 2]) & (expected[:, 0] == expected[index, 0])
            keep[index] = index == np.flatnonzero(same)[np.argmax(expected[same, 1])]
        expected = expected[keep]
        assert len(actual) == len(expected)
        np.testing.assert_allclose(actual[:, [0, 2]], expected[:, [0, 2]])
        for row in actual:
            same_pitch = expected[expected[:, 2] == row[2]]
            original = same_pitch[np.isclose(same_pitch[:, 0], row[0]), 1][0]
            later = same_pitch[same_pitch[:, 0] > row[0] + 1e-6, 0]
            assert row[1] == pytest.approx(min([original, *later]))
        bins = tokenizer._velocity_to_bin
        assert np.array_equal(bins[actual[:, 3].astype(int)], bins[expected[:, 3].astype(int)])


def test_a_bundled_chorale_gives_its_four_named_parts_back(tmp_path: Path) -> None:
    path = BACH_MIDI_DIR / "bwv269.mid"
    source = midi_io.read_piece(path)
    assert [track.name for track in source.tracks] == ["Soprano", "Alto", "Tenor", "Bass"]
    tokenizer = Tokenizer(TokenizerConfig(velocity_bins=1))
    decoded = tokenizer.decode_piece(tokenizer.encode(path), tempo=source.tempo,
                                     track_names={i: track.name for i, track in enumerate(source.tracks)})
    written = tmp_path / "chorale.mid"
    midi_io.piece_to_midi(decoded).write(str(written))
    midi = pretty_midi.PrettyMIDI(str(written))
    assert [(instrument.name, instrument.program) for instrument in midi.instruments] == [
        ("Soprano", 0), ("Alto", 0), ("Tenor", 0), ("Bass", 0)
    ]
    again = midi_io.read_piece(written)
    for index in range(4):
        np.testing.assert_allclose(sorted_notes(again, index)[:, :3], sorted_notes(source, index)[:, :3], atol=1e-6)


def test_long_notes_are_capped_and_durations_round_to_the_table() -> None:
    tokenizer = Tokenizer(NOTES)
    longest = int(tokenizer.durations[-1])
    assert longest == 4 * 48 and list(tokenizer.durations[:48]) == list(range(1, 49))
    assert int(tokenizer.values[tokenizer.duration_id(50)]) == 51  # 48..96 in steps of 3: the nearest
    ids = tokenizer.encode(make_pretty_midi([Track([(60, 0.0, 100.0, 80)])]))
    decoded = tokenizer.decode_piece(ids)
    assert decoded.notes[0, 1] == pytest.approx(longest / 12)
    # Bars run until the note's written length has ended.
    assert int(np.sum(tokenizer.kinds[ids] == Kind.BAR)) == 25


def test_a_single_velocity_bin_leaves_velocity_tokens_out() -> None:
    tokenizer = Tokenizer(TokenizerConfig(velocity_bins=1))
    ids = tokenizer.encode(make_pretty_midi([Track([(60, 0.0, 1.0, 80), (62, 1.0, 2.0, 90)])]))
    assert not np.any(tokenizer.kinds[ids] == Kind.VELOCITY)
    assert len(tokenizer.decode_piece(ids).notes) == 2


def test_tracks_beyond_the_limit_join_a_track_of_their_program() -> None:
    tokenizer = Tokenizer(TokenizerConfig(max_tracks=2))
    parts = [Track([(60 + index, float(index), index + 1.0, 80)] * (index + 1), program=program)
             for index, program in enumerate((40, 41, 40))]
    decoded = tokenizer.decode_piece(tokenizer.encode(make_pretty_midi(parts)))
    assert [track.program for track in decoded.tracks] == [40, 41]
    # The fewest-note track (the first, one note) joins the other program-40 track.
    assert set(decoded.notes[decoded.notes[:, 4] == 0, 2].tolist()) == {60.0, 62.0}


def test_decoding_is_total_and_no_note_outlasts_its_piece() -> None:
    tokenizer = Tokenizer(NOTES)
    rng = np.random.default_rng(0)
    for _ in range(50):
        ids = rng.integers(-3, tokenizer.vocab_size + 3, size=int(rng.integers(0, 300)))
        piece = tokenizer.decode_piece(ids)
        bars = np.flatnonzero(tokenizer.kinds[np.clip(ids, 0, tokenizer.vocab_size - 1)] == Kind.BAR)
        if len(piece.notes):
            assert len(bars) > 0
            assert piece.notes[:, 1].max() <= 8 * 4 * (len(bars) + 1)
        assert np.all(piece.notes[:, 1] > piece.notes[:, 0])
    # A note running past the last bar's end is cut there.
    bar, meter = tokenizer.id_of(Kind.BAR), tokenizer.id_of(Kind.TIME_SIGNATURE, tokenizer.meters.index((4, 4)))
    ids = [1, tokenizer.id_of(Kind.PROGRAM, 0), bar, meter, tokenizer.id_of(Kind.TRACK, 0),
           tokenizer.id_of(Kind.POSITION, 24), tokenizer.id_of(Kind.PITCH, 60), tokenizer.duration_id(96), 2]
    assert tokenizer.decode_piece(ids).notes[:, :2].tolist() == [[2.0, 4.0]]


def test_an_empty_piece_and_a_piece_out_of_range() -> None:
    tokenizer = Tokenizer(TokenizerConfig(min_pitch=40, max_pitch=80))
    assert tokenizer.encode(Piece()).tolist() == [1, 2]
    assert tokenizer.encode(make_pretty_midi([Track([(20, 0.0, 1.0, 80)])])).tolist() == [1, 2]


def test_a_checkpoint_of_an_unknown_encoding_is_named(tmp_path: Path) -> None:
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps({**TokenizerConfig().to_dict(), "encoding": "compound-words"}))
    with pytest.raises(ConfigError, match="unknown token encoding 'compound-words'"):
        Tokenizer.load(path)


def test_old_records_load_as_the_events_encoding() -> None:
    record = {"default_tempo": 120.0, "max_pitch": 108, "max_shift_steps": 48, "min_pitch": 21,
              "steps_per_quarter": 12, "tokenizer": "musicgen-events-v1", "use_drums": True, "use_programs": True,
              "velocity_bins": 32}
    config = TokenizerConfig.from_dict(record)
    assert (config.encoding, config.timing, config.pedal) == ("events", "beats", "ignore")
    assert Tokenizer(config).vocab_size == 388


def test_tokenizers_are_built_once_per_configuration() -> None:
    assert Tokenizer(NOTES) is Tokenizer(TokenizerConfig(**NOTES.to_dict()))
    assert type(Tokenizer(NOTES)).__name__ == "NoteTokenizer"


def test_seconds_timing_uses_fixed_bars_and_absolute_steps() -> None:
    tokenizer = Tokenizer(TokenizerConfig(timing="seconds", velocity_bins=4))
    assert not np.any(tokenizer.kinds == Kind.TIME_SIGNATURE)
    source = Piece(np.array([[0.0, 0.25, 60, 80, 0], [3.0, 3.5, 64, 80, 0]]), (PieceTrack(0),),
                   tempos=((0.0, 60.0),))  # 1 beat a second: the second note starts at 3 s
    ids = tokenizer.encode(source)
    names = tokenizer.describe(ids).split()
    assert names.count("BAR") == 2 and "POSITION(100)" in names  # 3 s is 1 s into the second 2-second bar
    decoded = tokenizer.decode_piece(ids, tempo=120.0)
    np.testing.assert_allclose(decoded.seconds(decoded.notes[:, 0]), [0.0, 3.0])
