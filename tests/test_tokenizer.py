"""musicgen.Tokenizer: vocabulary, exact streams, round trips on every bundled file, totality."""

from __future__ import annotations

import io

import numpy as np
import pretty_midi
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from midi_factory import Track, make_pretty_midi, scale_notes, write_mido_file

from musicgen.errors import ConfigError
from musicgen.music import midi_io
from musicgen.paths import BACH_MIDI_DIR
from musicgen.tokens import Kind, Tokenizer, TokenizerConfig

EVENTS = TokenizerConfig(encoding="events")

TOKENIZER = Tokenizer(EVENTS)
BUNDLED = sorted(BACH_MIDI_DIR.glob("*.mid"))


def names(ids: np.ndarray) -> list[str]:
    return [TOKENIZER.token_name(i) for i in ids]


def bin_of(velocity: int) -> int:
    return TOKENIZER.velocity_bin(velocity)


# ------------------------------------------------------------------ vocabulary
def test_vocabulary_layout_and_lookups() -> None:
    t = TOKENIZER
    assert (t.pad_id, t.bos_id, t.eos_id) == (0, 1, 2)
    assert t.vocab_size == 3 + 88 + 88 + 48 + 32 + 129
    assert len(t.kinds) == len(t.values) == t.vocab_size
    assert [Kind(k) for k in t.kinds[:3]] == [Kind.PAD, Kind.BOS, Kind.EOS]
    for pitch in (21, 60, 108):
        assert t.kinds[t.note_on_id(pitch)] == Kind.NOTE_ON and t.values[t.note_on_id(pitch)] == pitch
        assert t.kinds[t.note_off_id(pitch)] == Kind.NOTE_OFF and t.values[t.note_off_id(pitch)] == pitch
    for steps in (1, 12, 48):
        assert t.values[t.time_shift_id(steps)] == steps
    assert t.token_name(t.program_id(128)) == "PROGRAM(drums)"
    assert t.token_name(t.velocity_id(5)) == "VELOCITY(5)"
    # Every id has a unique readable name.
    assert len({t.token_name(i) for i in range(t.vocab_size)}) == t.vocab_size
    with pytest.raises(ConfigError):
        t.note_on_id(20)
    with pytest.raises(ConfigError):
        t.time_shift_id(49)


def test_velocity_bins_round_trip_for_any_bin_count() -> None:
    for bins in (1, 7, 32, 65, 100, 127):
        tokenizer = Tokenizer(TokenizerConfig(encoding="events", velocity_bins=bins))
        for velocity_bin in range(bins):
            velocity = tokenizer.bin_velocity(velocity_bin)
            assert 1 <= velocity <= 127
            assert tokenizer.velocity_bin(velocity) == velocity_bin


def test_vocabulary_without_programs_or_drums() -> None:
    no_programs = Tokenizer(TokenizerConfig(encoding="events", use_programs=False))
    assert list(no_programs.values[no_programs.kinds == Kind.PROGRAM]) == [0, 128]
    neither = Tokenizer(TokenizerConfig(encoding="events", use_programs=False, use_drums=False))
    assert not np.any(neither.kinds == Kind.PROGRAM)


@pytest.mark.parametrize(
    "values",
    [{"steps_per_quarter": 0}, {"velocity_bins": 129}, {"min_pitch": 90, "max_pitch": 80}, {"default_tempo": -1}],
)
def test_bad_config_is_config_error(values: dict) -> None:
    with pytest.raises(ConfigError):
        TokenizerConfig(encoding="events", **values)


def test_config_json_round_trip(tmp_path) -> None:
    config = TokenizerConfig(encoding="events", steps_per_quarter=4, max_shift_steps=16, velocity_bins=8, min_pitch=36)
    tokenizer = Tokenizer(config)
    assert TokenizerConfig.from_dict(config.to_dict()) == config
    tokenizer.save(tmp_path / "tokenizer.json")
    loaded = Tokenizer.load(tmp_path / "tokenizer.json")
    assert loaded.config == config and loaded == tokenizer
    assert Tokenizer.from_json(tokenizer.to_json()).config == config
    pm = make_pretty_midi([Track(scale_notes(8))])
    np.testing.assert_array_equal(loaded.encode(pm), tokenizer.encode(pm))
    np.testing.assert_array_equal(loaded.kinds, tokenizer.kinds)
    with pytest.raises(ConfigError, match="unknown"):
        Tokenizer.from_json('{"steps_per_quarter": 12, "bogus": 1}')
    with pytest.raises(ConfigError):
        Tokenizer.from_json("not json")


# --------------------------------------------------------------- exact streams
def test_exact_stream_single_instrument() -> None:
    pm = make_pretty_midi([Track([(64, 0, 1, 80), (60, 0, 1, 80), (67, 1, 2.25, 100)])])
    ids = TOKENIZER.encode(pm)
    assert ids.dtype == np.int32 and ids.ndim == 1
    assert names(ids) == [
        "BOS", f"VELOCITY({bin_of(80)})", "NOTE_ON(60)", "NOTE_ON(64)", "TIME_SHIFT(12)",
        "NOTE_OFF(60)", "NOTE_OFF(64)", f"VELOCITY({bin_of(100)})", "NOTE_ON(67)",
        "TIME_SHIFT(15)", "NOTE_OFF(67)", "EOS",
    ]  # fmt: skip


def test_exact_stream_many_instruments_and_drums() -> None:
    pm = make_pretty_midi(
        [
            Track([(48, 0, 1, 80)], program=32),
            Track([(36, 0, 0.25, 100), (38, 1, 1.25, 100)], is_drum=True),
            Track([(72, 0, 2, 80)], program=0),
        ]
    )
    assert names(TOKENIZER.encode(pm)) == [
        "BOS", "PROGRAM(0)", f"VELOCITY({bin_of(80)})", "NOTE_ON(72)",
        "PROGRAM(32)", "NOTE_ON(48)", "PROGRAM(drums)", f"VELOCITY({bin_of(100)})", "NOTE_ON(36)",
        "TIME_SHIFT(3)", "NOTE_OFF(36)", "TIME_SHIFT(9)", "PROGRAM(32)", "NOTE_OFF(48)",
        "PROGRAM(drums)", "NOTE_ON(38)", "TIME_SHIFT(3)", "NOTE_OFF(38)", "TIME_SHIFT(9)",
        "PROGRAM(0)", "NOTE_OFF(72)", "EOS",
    ]  # fmt: skip


def test_same_program_tracks_merge_without_program_tokens() -> None:
    pm = make_pretty_midi([Track([(60, 0, 1, 80)]), Track([(67, 0, 1, 80)])])
    kinds = TOKENIZER.kinds[TOKENIZER.encode(pm)]
    assert not np.any(kinds == Kind.PROGRAM)
    # A single non-default instrument keeps its program.
    violin = make_pretty_midi([Track([(60, 0, 1, 80)], program=40)])
    assert "PROGRAM(40)" in names(TOKENIZER.encode(violin))
    assert TOKENIZER.decode(TOKENIZER.encode(violin)).instruments[0].program == 40


def test_long_gap_uses_several_shifts_and_leading_silence_is_kept() -> None:
    pm = make_pretty_midi([Track([(60, 2, 3, 80), (62, 13, 14, 80)])])
    got = names(TOKENIZER.encode(pm))
    assert got[1:3] == ["TIME_SHIFT(24)", f"VELOCITY({bin_of(80)})"]
    assert got[5:9] == ["NOTE_OFF(60)", "TIME_SHIFT(48)", "TIME_SHIFT(48)", "TIME_SHIFT(24)"]


def test_overlapping_same_pitch_notes_end_at_next_onset() -> None:
    pm = make_pretty_midi([Track([(60, 0, 2, 80), (60, 1, 3, 80), (60, 1, 1.5, 90)])])
    notes = TOKENIZER.decode_notes(TOKENIZER.encode(pm))
    assert sorted(notes) == [(0, 12, 60, TOKENIZER.bin_velocity(bin_of(80)), 0),
                             (12, 36, 60, TOKENIZER.bin_velocity(bin_of(80)), 0)]  # fmt: skip


def test_out_of_range_and_drums_filtered_by_config() -> None:
    pm = make_pretty_midi([Track([(10, 0, 1, 80), (60, 0, 1, 80)]), Track([(36, 0, 1, 80)], is_drum=True)])
    no_drums = Tokenizer(TokenizerConfig(encoding="events", use_drums=False))
    assert names(no_drums.encode(pm))[2:5] == ["NOTE_ON(60)", "TIME_SHIFT(12)", "NOTE_OFF(60)"]
    empty = make_pretty_midi([Track([(10, 0, 1, 80)])])
    assert list(TOKENIZER.encode(empty)) == [1, 2]


def test_short_note_lasts_one_step() -> None:
    pm = make_pretty_midi([Track([(60, 0, 0.01, 80)])])
    assert TOKENIZER.decode_notes(TOKENIZER.encode(pm))[0][:2] == (0, 1)


# ------------------------------------------------------------------ round trips
def check_round_trip(tokenizer: Tokenizer, source: pretty_midi.PrettyMIDI, ids: np.ndarray) -> None:
    """encode(decode(ids)) == ids; every in-range note survives within half a step."""
    decoded = tokenizer.decode(ids)
    np.testing.assert_array_equal(tokenizer.encode(decoded), ids)
    spq = tokenizer.config.steps_per_quarter
    source_notes = midi_io.note_array(source)
    config = tokenizer.config
    source_notes = source_notes[(source_notes[:, 2] >= config.min_pitch) & (source_notes[:, 2] <= config.max_pitch)]
    decoded_notes = midi_io.note_array(decoded)
    by_voice: dict[tuple, list] = {}
    for start, end, pitch, velocity, instrument in decoded_notes:
        by_voice.setdefault((int(instrument), int(pitch)), []).append((start, end, velocity))
    onsets = {voice: np.array([note[0] for note in notes]) for voice, notes in by_voice.items()}
    half_step = 0.5 / spq + 1e-9
    for start, end, pitch, velocity, instrument in source_notes:
        voice = (int(instrument), int(pitch))
        assert voice in by_voice, f"note {voice} lost"
        index = int(np.argmin(np.abs(onsets[voice] - start)))
        got_start, got_end, got_velocity = by_voice[voice][index]
        assert abs(got_start - start) <= half_step
        same_onset = (source_notes[:, 2] == pitch) & (source_notes[:, 4] == instrument)
        same_onset &= np.abs(source_notes[:, 0] - got_start) <= half_step
        if np.count_nonzero(same_onset) > 1:
            continue  # unison notes of one voice merge into the longest
        assert tokenizer.velocity_bin(int(got_velocity)) == tokenizer.velocity_bin(int(velocity))
        assert got_end <= max(end, got_start + 1 / spq) + half_step
        if got_end < end - half_step:  # cut short only by a later onset of the same voice
            assert np.any(np.abs(onsets[voice] - got_end) < 1e-6)


def test_bundled_data_exists() -> None:
    assert len(BUNDLED) >= 340, "run scripts/corpus/export_corpus.py"


@pytest.mark.parametrize("chunk", range(4))
def test_round_trip_every_bundled_file(chunk: int) -> None:
    files = BUNDLED[chunk::4]
    assert files
    for path in files:
        source = midi_io.load_midi(path)
        ids = TOKENIZER.encode(source)
        np.testing.assert_array_equal(TOKENIZER.encode(path), ids)  # fast reader == pretty_midi
        assert ids[0] == TOKENIZER.bos_id and ids[-1] == TOKENIZER.eos_id
        instruments = {(instrument.program, instrument.is_drum) for instrument in source.instruments}
        if instruments == {(0, False)}:  # four voices, one program: no PROGRAM tokens
            assert not np.any(TOKENIZER.kinds[ids] == Kind.PROGRAM), path.name
        check_round_trip(TOKENIZER, source, ids)


def test_round_trip_through_written_files(tmp_path) -> None:
    for index, path in enumerate(BUNDLED[::25]):
        ids = TOKENIZER.encode(path)
        target = tmp_path / f"{index}.mid"
        TOKENIZER.decode(ids, tempo=93.0, time_signature=(3, 4)).write(str(target))
        np.testing.assert_array_equal(TOKENIZER.encode(target), ids)
        meter = midi_io.read_meter(midi_io.load_midi(target))
        assert meter.tempo == pytest.approx(93.0, rel=1e-4)
        assert (meter.numerator, meter.denominator) == (3, 4)


def test_decode_writes_source_tempo_and_time_signature_by_default() -> None:
    pm = TOKENIZER.decode(TOKENIZER.encode(make_pretty_midi([Track(scale_notes(4))])))
    assert midi_io.read_meter(pm) == midi_io.Meter(120.0, 4, 4)
    # Two beats at 90 qpm last 4/3 seconds.
    pm = TOKENIZER.decode([1, TOKENIZER.note_on_id(60), TOKENIZER.time_shift_id(24), 2], tempo=90.0)
    assert pm.instruments[0].notes[0].end == pytest.approx(4 / 3)


# --------------------------------------------------------- synthetic file types
@pytest.mark.parametrize("ticks_per_beat", [4, 96, 480, 1000, 10080])
@pytest.mark.parametrize("midi_type", [0, 1])
def test_file_types_tempo_and_meter_changes(tmp_path, ticks_per_beat: int, midi_type: int) -> None:
    tracks = [
        Track(scale_notes(8), program=0),
        Track([(pitch - 24, beat, beat + 2, 70) for pitch, beat in [(48, 0), (50, 2), (52, 4), (53, 6)]], program=33),
        Track([(36 + (beat % 3), beat * 0.5, beat * 0.5 + 0.25, 110) for beat in range(16)], is_drum=True),
    ]
    path = write_mido_file(
        tmp_path / "x.mid", tracks, ticks_per_beat=ticks_per_beat, midi_type=midi_type,
        tempo_changes=[(0, 100.0), (3, 140.0), (5.5, 61.0)],
        time_signatures=[(0, 3, 4), (3, 7, 8)],
    )  # fmt: skip
    ids = TOKENIZER.encode(path)
    expected = TOKENIZER.encode(make_pretty_midi(tracks))
    np.testing.assert_array_equal(ids, expected)  # the tempo map does not bend the grid
    check_round_trip(TOKENIZER, midi_io.load_midi(path), ids)
    meter = midi_io.read_meter(midi_io.load_midi(path))
    assert meter.tempo == pytest.approx(100.0, rel=1e-3) and meter[1:] == (3, 4)


def test_many_tracks(tmp_path) -> None:
    tracks = [Track([(40 + index, index * 0.25, index * 0.25 + 1, 60 + index)], program=index * 5) for index in range(24)]
    path = write_mido_file(tmp_path / "many.mid", tracks)
    ids = TOKENIZER.encode(path)
    decoded = TOKENIZER.decode(ids)
    assert sorted(instrument.program for instrument in decoded.instruments) == [index * 5 for index in range(24)]
    check_round_trip(TOKENIZER, midi_io.load_midi(path), ids)


# ---------------------------------------------------------------- decode totality
def assert_valid_midi(pm: pretty_midi.PrettyMIDI) -> pretty_midi.PrettyMIDI:
    buffer = io.BytesIO()
    pm.write(buffer)
    reread = pretty_midi.PrettyMIDI(io.BytesIO(buffer.getvalue()))
    for instrument in reread.instruments:
        for note in instrument.notes:
            assert note.end > note.start
            assert 1 <= note.velocity <= 127
    return reread


def test_decode_rules() -> None:
    t = TOKENIZER
    ids = [
        0, 1, t.note_off_id(61),  # PAD, BOS, a NOTE_OFF with nothing sounding: ignored
        t.note_on_id(60), t.note_off_id(60),  # zero length: one step
        t.note_on_id(64), t.time_shift_id(6), t.note_on_id(64),  # restart
        t.time_shift_id(6), t.note_on_id(67),  # still sounding at EOS: closed there
        2, t.note_on_id(70), t.time_shift_id(48),  # after EOS: ignored
    ]  # fmt: skip
    v = t.bin_velocity(t.velocity_bin(64))  # the velocity before any VELOCITY token
    assert sorted(t.decode_notes(ids)) == [
        (0, 1, 60, v, 0), (0, 6, 64, v, 0), (6, 12, 64, v, 0), (12, 13, 67, v, 0)
    ]  # fmt: skip
    assert_valid_midi(t.decode(ids))
    assert t.decode([]).instruments == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(min_value=0, max_value=TOKENIZER.vocab_size - 1), max_size=300))
def test_any_ids_decode_to_valid_midi(ids: list[int]) -> None:
    from musicgen.music.piece import unoverlapped

    reread = assert_valid_midi(TOKENIZER.decode(ids, program=5))
    notes = TOKENIZER.decode_notes(ids, program=5)
    # Every decoded note, one of two of a pitch at one onset on one instrument once (a MIDI track
    # cannot hold both).
    rows = np.array(notes, np.float64).reshape(-1, 5)
    kept = sum(len(unoverlapped(rows[rows[:, 4] == program])) for program in set(rows[:, 4].tolist()))
    assert sum(len(instrument.notes) for instrument in reread.instruments) == kept


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_sampled_streams_decode_and_reencode_stably(seed: int) -> None:
    rng = np.random.default_rng(seed)
    # Mostly note and shift tokens, as a sampler would produce.
    weights = np.where(TOKENIZER.kinds == Kind.PROGRAM, 0.2, 1.0)
    weights[:3] = [0.5, 0.5, 0.1]
    ids = rng.choice(TOKENIZER.vocab_size, size=400, p=weights / weights.sum())
    once = TOKENIZER.encode(assert_valid_midi(TOKENIZER.decode(ids)))
    np.testing.assert_array_equal(TOKENIZER.encode(TOKENIZER.decode(once)), once)


def test_out_of_vocabulary_ids_are_ignored() -> None:
    velocity = TOKENIZER.bin_velocity(TOKENIZER.velocity_bin(64))
    assert TOKENIZER.decode_notes([-5, 10_000, TOKENIZER.note_on_id(60)]) == [(0, 1, 60, velocity, 0)]
