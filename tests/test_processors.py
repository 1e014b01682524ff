"""The logits processors: each transform alone, in a chain, and shared by every sampler."""

from __future__ import annotations

import numpy as np
import pytest

from musicgen.generation.processors import (
    GrammarMask,
    LogitsProcessorList,
    PitchBias,
    StepContext,
    Temperature,
    TopK,
    TopP,
    draw,
    masked_mass,
)

tf = pytest.importorskip("tensorflow")

LOGITS = tf.math.log(tf.constant([[0.5, 0.2, 0.3, 1e-6]]))
EVERYTHING = StepContext(tf.constant([[True, True, True, True]]))


def finite(logits) -> list[bool]:
    return np.isfinite(logits.numpy())[0].tolist()


def test_top_k_keeps_the_k_largest() -> None:
    assert finite(TopK(2)(LOGITS, EVERYTHING)) == [True, False, True, False]
    assert finite(TopK(100)(LOGITS, EVERYTHING)) == [True, True, True, True]


def test_top_p_keeps_the_smallest_set_of_that_mass() -> None:
    assert finite(TopP(0.75)(LOGITS, EVERYTHING)) == [True, False, True, False]  # 0.5 + 0.3 >= 0.75
    assert finite(TopP(0.4)(LOGITS, EVERYTHING)) == [True, False, False, False]
    assert finite(TopP(1.0)(LOGITS, EVERYTHING)) == [True, True, True, True]


def test_temperature_divides_and_the_mask_removes() -> None:
    np.testing.assert_allclose(Temperature(2.0)(LOGITS, EVERYTHING).numpy(), LOGITS.numpy() / 2)
    context = StepContext(tf.constant([[True, False, True, True]]))
    assert finite(GrammarMask()(LOGITS, context)) == [True, False, True, True]


def test_pitch_bias_leaves_drum_rows_alone() -> None:
    logits = tf.zeros([2, 3])
    context = StepContext(tf.ones([2, 3], tf.bool), drums=tf.constant([False, True]))
    biased = PitchBias(tf.constant([1.0, -1.0, 0.0]))(logits, context).numpy()
    np.testing.assert_array_equal(biased, [[1.0, -1.0, 0.0], [0.0, 0.0, 0.0]])


def test_a_chain_applies_its_processors_in_order() -> None:
    context = StepContext(tf.constant([[False, True, True, True]]))
    chain = LogitsProcessorList([GrammarMask(), TopK(1)])
    assert finite(chain(LOGITS, context)) == [False, False, True, False]  # the best allowed token: 0.3
    assert finite(LogitsProcessorList([TopK(1), GrammarMask()])(LOGITS, context)) == [False, False, False, False]


def test_masked_mass_is_what_the_mask_removed_from_the_model() -> None:
    context = StepContext(tf.constant([[False, True, True, True]]))
    np.testing.assert_allclose(masked_mass(LOGITS, context.allowed).numpy(), [0.5], rtol=1e-5)


def test_draw_samples_the_distribution_and_repeats_per_seed() -> None:
    logits = tf.tile(LOGITS, [4000, 1])
    tokens = draw(logits, tf.constant([3, 0], tf.int64)).numpy()
    np.testing.assert_allclose(np.bincount(tokens, minlength=4) / len(tokens), [0.5, 0.2, 0.3, 0.0], atol=0.03)
    np.testing.assert_array_equal(tokens, draw(logits, tf.constant([3, 0], tf.int64)).numpy())


def test_the_compiled_sampler_and_the_guided_sampler_choose_alike(tmp_path) -> None:
    """The same chain and the same rules behind both (every sampled bar reaching its last beat
    included): greedy decoding from BOS gives the same tokens."""
    import keras
    from checkpoint_factory import write_checkpoint

    from musicgen.generation.guided import GuidedSampler
    from musicgen.generation.sampler import Sampler
    from musicgen.generation.session import Session
    from musicgen.models.language import build_language_model
    from musicgen.tokens import Tokenizer, TokenizerConfig
    from musicgen.training.checkpoint import load_checkpoint

    tokenizer = Tokenizer(TokenizerConfig(velocity_bins=1, min_pitch=48, max_pitch=72, max_tracks=2))
    keras.utils.set_random_seed(5)
    model = build_language_model(tokenizer.vocab_size, "lstm", 16, 1, embedding_dim=8)
    loaded = load_checkpoint(write_checkpoint(tmp_path / "ck", model, tokenizer))
    compiled = Sampler.from_checkpoint(loaded, jit_compile=False).sample_tokens(num=1, length=40, temperature=0.0)[0]
    guided = GuidedSampler(Session(loaded), temperature=0.0)
    guided.force([tokenizer.bos_id])
    for token in compiled[1:].tolist():
        if guided.checker.ended:
            break
        assert guided.sample() == token


def test_generate_infill_and_accompany_refuse_the_same_tokens_in_the_same_state(tmp_path) -> None:
    """One grammar: after the same tokens, the compiled sampler (generate), and the guided sampler
    behind infill and accompany, allow exactly the same next tokens under the sampling rules; a
    bar that does not reach its last beat yet may not close, in all three."""
    import keras
    from checkpoint_factory import write_checkpoint

    from musicgen.generation.guided import GuidedSampler
    from musicgen.generation.sampler import Sampler
    from musicgen.generation.session import Session
    from musicgen.models.language import build_language_model
    from musicgen.tokens import Kind, Tokenizer, TokenizerConfig
    from musicgen.training.checkpoint import load_checkpoint

    tokenizer = Tokenizer(TokenizerConfig(velocity_bins=1, min_pitch=48, max_pitch=84, max_tracks=2))
    keras.utils.set_random_seed(5)
    model = build_language_model(tokenizer.vocab_size, "lstm", 8, 1, embedding_dim=4)
    session = Session(load_checkpoint(write_checkpoint(tmp_path / "ck", model, tokenizer)))
    name = tokenizer.id_of
    prefix = [tokenizer.bos_id, name(Kind.PROGRAM, 73), name(Kind.BAR), name(Kind.TIME_SIGNATURE, tokenizer.meters.index((4, 4))),
              name(Kind.TRACK, 0), name(Kind.POSITION, 0), name(Kind.PITCH, 72), tokenizer.duration_id(12)]
    sampler = Sampler.from_checkpoint(session.checkpoint, jit_compile=False)
    masker, params = sampler.masker, sampler._params(None, None, False)
    state = masker.initial_state(1)
    for token in prefix:
        state = masker.update(state, tf.constant([token]), params)
    generate = masker.allowed(state, params).numpy()[0]
    edits = []
    for _ in ("infill", "accompany"):
        guided = GuidedSampler(session, temperature=0.0)
        guided.force(prefix)
        edits.append(guided.checker.allowed_mask())
    for mask in edits:
        np.testing.assert_array_equal(mask, generate)
    assert not generate[name(Kind.BAR)] and not generate[tokenizer.eos_id]  # the bar is not full
    assert generate[name(Kind.POSITION, 36)]
    plain = tokenizer.grammar().checker()
    for token in prefix:
        plain.feed(token)
    assert plain.allowed(name(Kind.BAR))  # outside sampling (a file's bars), a bar may end early
