"""musicgen.data.augment: transposition (tokens and lookup table) and time stretch."""

from __future__ import annotations

import numpy as np
import pytest
from midi_factory import Track, make_pretty_midi, scale_notes

from musicgen.data import augment
from musicgen.errors import ConfigError
from musicgen.paths import BACH_MIDI_DIR
from musicgen.tokens import Kind, Tokenizer, TokenizerConfig

EVENTS = TokenizerConfig(encoding="events")

TOKENIZER = Tokenizer(EVENTS)


def mixed_piece() -> np.ndarray:
    return TOKENIZER.encode(
        make_pretty_midi(
            [
                Track([(60, 0, 1, 80), (107, 1, 2, 90), (64, 2, 3, 80)], program=0),
                Track([(36, 0, 0.5, 100), (106, 0.5, 1, 100)], is_drum=True),
                Track([(22, 0, 4, 60)], program=33),
            ]
        )
    )


def test_transpose_shifts_pitched_notes_and_leaves_drums() -> None:
    ids = mixed_piece()
    notes = sorted(TOKENIZER.decode_notes(augment.transpose(ids, 2, TOKENIZER)))
    # 107 + 2 leaves the range and is dropped with its NOTE_OFF; drums (128) unchanged.
    expected = sorted(
        (start, end, pitch + (0 if code == 128 else 2), velocity, code)
        for start, end, pitch, velocity, code in TOKENIZER.decode_notes(ids)
        if code == 128 or pitch + 2 <= 108
    )
    assert notes == expected
    kinds = TOKENIZER.kinds[augment.transpose(ids, 2, TOKENIZER)]
    assert np.count_nonzero(kinds == Kind.NOTE_ON) == np.count_nonzero(kinds == Kind.NOTE_OFF) == len(notes)


def test_transpose_down_drops_low_notes_and_keeps_timing() -> None:
    ids = mixed_piece()
    out = augment.transpose(ids, -3, TOKENIZER)
    notes = TOKENIZER.decode_notes(out)
    assert all(pitch >= 21 for _, _, pitch, _, _ in notes)
    assert (22 - 3) not in [pitch for _, _, pitch, _, _ in notes]
    shifts = TOKENIZER.values[ids][TOKENIZER.kinds[ids] == Kind.TIME_SHIFT]
    out_shifts = TOKENIZER.values[out][TOKENIZER.kinds[out] == Kind.TIME_SHIFT]
    np.testing.assert_array_equal(shifts, out_shifts)
    np.testing.assert_array_equal(augment.transpose(ids, 0, TOKENIZER), ids)


def test_table_matches_transpose_without_drums() -> None:
    path = sorted(BACH_MIDI_DIR.glob("*.mid"))[0]
    ids = TOKENIZER.encode(path)
    assert not augment.has_drums(ids, TOKENIZER)
    for semitones in (-3, -1, 1, 3, 40):
        table = augment.transposition_table(TOKENIZER, semitones)
        assert table.shape == (TOKENIZER.vocab_size,) and table.dtype == np.int32
        gathered = table[ids]
        np.testing.assert_array_equal(gathered[gathered != augment.DROPPED], augment.transpose(ids, semitones, TOKENIZER))
    table = augment.transposition_table(TOKENIZER, 3)
    assert table[TOKENIZER.note_on_id(60)] == TOKENIZER.note_on_id(63)
    assert table[TOKENIZER.note_off_id(106)] == augment.DROPPED
    assert table[TOKENIZER.time_shift_id(5)] == TOKENIZER.time_shift_id(5)
    assert augment.has_drums(mixed_piece(), TOKENIZER)


def test_transposed_bundled_piece_round_trips() -> None:
    ids = TOKENIZER.encode(sorted(BACH_MIDI_DIR.glob("*.mid"))[1])
    up = augment.transpose(ids, 3, TOKENIZER)
    np.testing.assert_array_equal(augment.transpose(up, -3, TOKENIZER), ids)
    np.testing.assert_array_equal(TOKENIZER.encode(TOKENIZER.decode(up)), up)


def test_stretch_doubles_exactly_and_identity_is_identity() -> None:
    ids = TOKENIZER.encode(make_pretty_midi([Track(scale_notes(8))]))
    np.testing.assert_array_equal(augment.stretch_time(ids, 1.0, TOKENIZER), ids)
    doubled = TOKENIZER.decode_notes(augment.stretch_time(ids, 2.0, TOKENIZER))
    assert sorted(doubled) == sorted((2 * s, 2 * e, p, v, c) for s, e, p, v, c in TOKENIZER.decode_notes(ids))


def test_stretch_does_not_drift() -> None:
    # 400 eighth notes: a per-shift rounding would drift by many steps by the end.
    ids = TOKENIZER.encode(make_pretty_midi([Track(scale_notes(200))]))
    factor = 1.04
    stretched = TOKENIZER.decode_notes(augment.stretch_time(ids, factor, TOKENIZER))
    original = sorted(TOKENIZER.decode_notes(ids))
    for (start, _, pitch, _, _), (new_start, _, new_pitch, _, _) in zip(original, sorted(stretched), strict=True):
        assert new_pitch == pitch
        assert abs(new_start - start * factor) <= 0.5


def test_stretch_keeps_short_notes_and_canonical_form() -> None:
    config = TokenizerConfig(encoding="events", steps_per_quarter=4)
    tokenizer = Tokenizer(config)
    ids = tokenizer.encode(make_pretty_midi([Track([(60, 0, 0.25, 80), (62, 0.25, 0.5, 80)])]))
    squeezed = augment.stretch_time(ids, 0.5, tokenizer)
    assert all(end > start for start, end, *_ in tokenizer.decode_notes(squeezed))
    np.testing.assert_array_equal(tokenizer.encode(tokenizer.decode(squeezed)), squeezed)
    with pytest.raises(ConfigError):
        augment.stretch_time(ids, 0.0, tokenizer)


def test_augmentation_is_deterministic_for_a_seed() -> None:
    ids = TOKENIZER.encode(sorted(BACH_MIDI_DIR.glob("*.mid"))[2])
    augmentation = augment.Augmentation(TOKENIZER)
    first = augmentation(ids, np.random.default_rng(7))
    second = augmentation(ids, np.random.default_rng(7))
    np.testing.assert_array_equal(first, second)
    outputs = {augmentation(ids, np.random.default_rng(seed)).tobytes() for seed in range(6)}
    assert len(outputs) > 1
    with pytest.raises(ConfigError):
        augment.Augmentation(TOKENIZER, semitones=(3, -3))
