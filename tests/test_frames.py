"""The frames encoding: exact frames <-> tokens, its grammar, and the exact NLL per frame."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from musicgen.music.piece import Piece, Track
from musicgen.tokens import Tokenizer, TokenizerConfig
from musicgen.tokens.grammar import check_tokens

QUARTER = TokenizerConfig(encoding="frames", steps_per_quarter=1, velocity_bins=1, pedal="ignore")
TINY = TokenizerConfig(encoding="frames", steps_per_quarter=2, velocity_bins=1, pedal="ignore", min_pitch=60,
                       max_pitch=62)
FRAMES = [(60, 64, 67), (), (62,), (62,), (48, 60), (), ()]  # a held D, silence at the end


def test_frames_are_pitches_ascending_then_frame_end_and_come_back_exactly() -> None:
    tokenizer = Tokenizer(QUARTER)
    ids = tokenizer.encode_frames([(67, 60, 64, 60), (), (62,), [62], (48, 60), (), ()])
    assert tokenizer.describe(ids) == ("BOS PITCH(60) PITCH(64) PITCH(67) FRAME_END FRAME_END PITCH(62) FRAME_END "
                                       "PITCH(62) FRAME_END PITCH(48) PITCH(60) FRAME_END FRAME_END FRAME_END EOS")
    assert tokenizer.decode_frames(ids) == FRAMES
    assert tokenizer.frame_count(ids) == len(FRAMES)
    assert tokenizer.vocab_size == 3 + 88 + 1 and not tokenizer.anchored_windows and not tokenizer.editable


def test_music_is_sampled_on_the_frame_grid_and_decodes_to_held_notes() -> None:
    tokenizer = Tokenizer(TokenizerConfig(encoding="frames", steps_per_quarter=2, velocity_bins=1, pedal="ignore"))
    # beats: a C for a half note, an E from 0.5 to 1.0, a G of a sixteenth (lasts one frame), a rest
    piece = Piece(np.array([(0.0, 1.0, 60, 90, 0), (0.5, 1.0, 64, 90, 0), (1.0, 1.25, 67, 90, 0),
                            (2.0, 2.5, 60, 90, 0)]), (Track(0),))
    ids = tokenizer.encode_piece(piece)
    assert tokenizer.decode_frames(ids) == [(60,), (60, 64), (67,), (), (60,)]
    decoded = tokenizer.decode_piece(ids, tempo=120.0)
    np.testing.assert_allclose(decoded.notes[:, :3], [(0.0, 1.0, 60), (0.5, 1.0, 64), (1.0, 1.5, 67),
                                                      (2.0, 2.5, 60)])
    np.testing.assert_array_equal(tokenizer.encode_piece(decoded), ids)
    held = tokenizer.encode_frames(FRAMES[:5])  # D in two frames: one note of two frames
    assert [note[:3] for note in tokenizer.decode_notes(held) if note[2] == 62] == [(2, 4, 62)]


def test_the_grammar_allows_one_token_sequence_per_frame_sequence() -> None:
    tokenizer = Tokenizer(QUARTER)
    grammar = tokenizer.grammar()
    ids = tokenizer.encode_frames(FRAMES)
    checker = check_tokens(ids, grammar)
    assert checker.ended and checker.value("elapsed") == len(FRAMES)
    pitch = {p: tokenizer.pitch_offset + p - 21 for p in (60, 64)}
    frame_end, bos, eos = tokenizer.frame_end_id, tokenizer.bos_id, tokenizer.eos_id
    for bad in ([bos, pitch[64], pitch[60]],  # descending
                [bos, pitch[60], pitch[60]],  # a key twice
                [bos, eos],  # a piece without a frame
                [bos, pitch[60], eos]):  # an unclosed frame
        with pytest.raises(ValueError, match="is not allowed here"):
            check_tokens(np.array(bad), grammar)
    checker = grammar.checker()
    for token in (bos, pitch[64]):
        checker.feed(token)
    assert checker.closing_tokens() == [frame_end, eos]


def test_the_tensor_masker_agrees_with_the_checker() -> None:
    import tensorflow as tf

    tokenizer = Tokenizer(QUARTER)
    grammar = tokenizer.grammar()
    ids = tokenizer.encode_frames(FRAMES)
    masker, checker = grammar.masker(), grammar.checker()
    params = masker.params()
    state = masker.initial_state(tf.constant(1))
    for token in ids.tolist():
        np.testing.assert_array_equal(masker.allowed(state, params).numpy()[0], checker.allowed_mask())
        checker.feed(token)
        state = masker.update(state, tf.constant([token], tf.int32), params)
    assert bool(state["ended"][0]) and int(state["elapsed"][0]) == len(FRAMES)


def _tiny_model(vocab: int, seed: int = 1):
    import keras

    from musicgen.models.language import build_language_model

    keras.utils.set_random_seed(seed)
    return build_language_model(vocab, cell="gru", units=6, num_layers=1, embedding_dim=3)


def _log_softmax(logits: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray:
    logits = np.where(allowed, logits, -np.inf) if allowed is not None else logits
    top = logits.max(-1, keepdims=True)
    return logits - top - np.log(np.exp(logits - top).sum(-1, keepdims=True))


def test_nll_per_frame_is_the_masked_sum_over_each_frames_tokens() -> None:
    from musicgen.models.likelihood import score_pieces

    tokenizer = Tokenizer(TINY)
    model = _tiny_model(tokenizer.vocab_size)
    pieces = [tokenizer.encode_frames([(60, 62), (), (61,)]), tokenizer.encode_frames([(60, 61, 62), (62,)] * 3)]
    expected, frames = 0.0, 0
    for piece in pieces:
        logits = np.asarray(model(piece[None, :-1].astype(np.int32)))[0].astype(np.float64)
        table = tokenizer.tables.table
        for t, target in enumerate(piece[1:].tolist()):
            allowed = table[piece[t]].copy()
            allowed[tokenizer.eos_id] = False  # the piece goes on: EOS is no frame
            if target != tokenizer.eos_id:
                expected -= _log_softmax(logits[t], allowed)[target]
        frames += tokenizer.frame_count(piece)
    scores = score_pieces(model, pieces, batch_size=2, frames=tokenizer)
    assert scores.frames == frames == 9
    assert scores.frame_nll == pytest.approx(expected, rel=1e-5)
    assert scores.count == sum(len(p) - 1 for p in pieces)  # the usual figures beside: every token once
    assert scores.frame_nll < scores.frame_nll_unmasked  # the mask only renormalises the legal tokens


def test_the_frames_after_a_history_share_a_probability_of_one() -> None:
    """Over all 2**3 frames of a three-key vocabulary: the benchmark's distribution is exact."""
    from musicgen.models.likelihood import score_pieces

    tokenizer = Tokenizer(TINY)
    model = _tiny_model(tokenizer.vocab_size, seed=4)
    history = [(60, 62), (61,)]
    base = score_pieces(model, [tokenizer.encode_frames(history)], frames=tokenizer).frame_nll
    keys = (60, 61, 62)
    subsets = [combo for size in range(4) for combo in itertools.combinations(keys, size)]
    pieces = [tokenizer.encode_frames([*history, frame]) for frame in subsets]
    total = sum(np.exp(-(score_pieces(model, [piece], frames=tokenizer).frame_nll - base)) for piece in pieces)
    assert len(subsets) == 8
    assert total == pytest.approx(1.0, abs=1e-5)
