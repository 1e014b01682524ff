"""The events grammar: its rules, run in NumPy (the checker) and in TensorFlow (the masker), which agree."""

from __future__ import annotations

import numpy as np
import pytest
from midi_factory import Track, make_pretty_midi, scale_notes

from musicgen.paths import BACH_MIDI_DIR
from musicgen.tokens import Kind, Tokenizer, TokenizerConfig
from musicgen.tokens.grammar import Checker, Grammar

EVENTS = TokenizerConfig(encoding="events")

CONFIG = TokenizerConfig(encoding="events", min_pitch=55, max_pitch=70, max_shift_steps=6, velocity_bins=4, use_programs=True)


def check_tokens(tokens: np.ndarray, tables: Grammar) -> Checker:
    checker = tables.checker()
    for token in np.asarray(tokens).tolist():
        checker.feed(int(token))
    return checker


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer(CONFIG)


@pytest.fixture(scope="module")
def tables(tokenizer: Tokenizer) -> Grammar:
    return tokenizer.grammar()


def test_structural_rules(tokenizer: Tokenizer, tables: Grammar) -> None:
    checker = tables.checker()
    assert not checker.allowed(tokenizer.note_on_id(60))  # nothing before BOS
    checker.feed(tokenizer.bos_id)
    for token in (tokenizer.pad_id, tokenizer.bos_id, tokenizer.eos_id, tokenizer.note_off_id(60)):
        assert not checker.allowed(token)  # PAD, BOS, EOS before any note, NOTE_OFF of a silent pitch
    checker.feed(tokenizer.note_on_id(60))
    assert not checker.allowed(tokenizer.note_on_id(60))  # a second onset of a sounding note
    assert not checker.allowed(tokenizer.note_off_id(60))  # zero-length note
    assert not checker.allowed(tokenizer.eos_id)  # a note is sounding
    checker.feed(tokenizer.program_id(40))
    assert checker.allowed(tokenizer.note_on_id(60))  # another instrument may play the pitch
    assert not checker.allowed(tokenizer.note_off_id(60))
    checker.feed(tokenizer.program_id(0))
    checker.feed(tokenizer.time_shift_id(2))
    assert checker.allowed(tokenizer.note_off_id(60))
    checker.feed(tokenizer.note_off_id(60))
    assert checker.allowed(tokenizer.eos_id)
    checker.feed(tokenizer.eos_id)
    assert [token for token in range(tokenizer.vocab_size) if checker.allowed(token)] == [tokenizer.pad_id]
    with pytest.raises(ValueError, match="NOTE_ON"):
        checker.feed(tokenizer.note_on_id(62))


def test_closing_tokens_close_every_instrument(tokenizer: Tokenizer, tables: Grammar) -> None:
    ids = [
        tokenizer.bos_id,
        tokenizer.note_on_id(60),
        tokenizer.program_id(40),
        tokenizer.note_on_id(62),
        tokenizer.time_shift_id(3),
        tokenizer.note_on_id(64),
    ]
    checker = check_tokens(np.array(ids), tables)
    closed = ids + checker.closing_tokens()
    final = check_tokens(np.array(closed), tables)
    assert final.ended and not final.value("sounding")
    notes = tokenizer.decode_notes(closed)
    assert len(notes) == 3  # no event dropped
    assert all(end > start for start, end, *_ in notes)
    assert {(pitch, program) for _, _, pitch, _, program in notes} == {(60, 0), (62, 40), (64, 40)}


def test_encoded_music_is_grammatical(tokenizer: Tokenizer, tables: Grammar) -> None:
    pm = make_pretty_midi(
        [Track(scale_notes(4), program=0), Track([(60, 0.0, 2.0, 90), (60, 2.0, 3.0, 50)], program=40)]
    )
    check_tokens(tokenizer.encode(pm), tables)
    bach = sorted(BACH_MIDI_DIR.glob("*.mid"))[:3]
    default = Tokenizer(EVENTS)
    for path in bach:
        check_tokens(default.encode(path), default.grammar())


def test_masker_agrees_with_checker_on_random_walks(tokenizer: Tokenizer, tables: Grammar) -> None:
    import tensorflow as tf

    masker = tables.masker()
    params = masker.params()
    batch, steps = 6, 80
    rng = np.random.default_rng(0)
    state = masker.update(masker.initial_state(batch), tf.fill([batch], tokenizer.bos_id), params, False)
    checkers = [tables.checker() for _ in range(batch)]
    for checker in checkers:
        checker.feed(tokenizer.bos_id)
    kinds = tokenizer.kinds
    # Favour notes so that many pitches sound at once and programs switch often.
    weights = np.where(np.isin(kinds, [Kind.NOTE_ON, Kind.NOTE_OFF]), 6.0, 1.0)
    weights[kinds == Kind.NOTE_OFF] = 30.0
    weights[kinds == Kind.EOS] = 1000.0
    weights[kinds == Kind.PROGRAM] = 0.05
    for _ in range(steps):
        allowed = masker.allowed(state, params).numpy()
        chosen = []
        for row, checker in enumerate(checkers):
            np.testing.assert_array_equal(allowed[row], checker.allowed_mask())
            probabilities = weights * allowed[row]
            token = int(rng.choice(tokenizer.vocab_size, p=probabilities / probabilities.sum()))
            checker.feed(token)
            chosen.append(token)
        state = masker.update(state, tf.constant(chosen, tf.int32), params)
        for name in ("ended", "elapsed", "sounding", "slot"):
            np.testing.assert_array_equal(state[name].numpy(), [checker.value(name) for checker in checkers])
    assert any(checker.ended for checker in checkers)
    assert max(checker.value("notes_played") for checker in checkers) > 5
