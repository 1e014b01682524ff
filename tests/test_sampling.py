"""The compiled sampler: exact steps, determinism, grammar, primers and the filters."""

from __future__ import annotations

import numpy as np
import pytest

from musicgen.errors import ConfigError
from musicgen.generation.sampler import WHOLE_LOOP_XLA_MAX_BATCH, Sampler
from musicgen.models.language import build_language_model
from musicgen.tokens import Kind, Tokenizer, TokenizerConfig
from musicgen.tokens.grammar import check_tokens

tf = pytest.importorskip("tensorflow")

CONFIG = TokenizerConfig(encoding="events", min_pitch=55, max_pitch=70, max_shift_steps=6, velocity_bins=4, use_programs=True)


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer(CONFIG)


@pytest.fixture(scope="module")
def sampler(tokenizer: Tokenizer) -> Sampler:
    import keras

    keras.utils.set_random_seed(1)
    model = build_language_model(
        tokenizer.vocab_size, cell="lstm", units=16, num_layers=2, embedding_dim=8, implementation="keras"
    )
    return Sampler(model, tokenizer, jit_compile=False)  # tracing without XLA keeps the tests quick


def test_xla_loop_is_deterministic_and_agrees_when_greedy(sampler: Sampler) -> None:
    xla = Sampler.__new__(Sampler)
    xla.__dict__.update(sampler.__dict__, jit_compile=True, _loops={})
    # Greedy decoding uses no random numbers, so XLA and the plain graph must agree exactly.
    np.testing.assert_array_equal(
        xla.sample_tokens(num=4, length=48, temperature=0.0), sampler.sample_tokens(num=4, length=48, temperature=0.0)
    )
    # XLA draws other random numbers than the plain graph, but the same ones for a seed.
    first = xla.sample(num=4, length=48, seed=21, top_k=20)
    np.testing.assert_array_equal(xla.sample_tokens(num=4, length=48, seed=21, top_k=20), first.tokens)
    for row in first.tokens:
        check_tokens(row, sampler.grammar)


def test_token_choice_under_xla_alone_is_deterministic_and_greedy_agrees(sampler: Sampler) -> None:
    hybrid = Sampler.__new__(Sampler)
    hybrid.__dict__.update(sampler.__dict__, jit_compile="tokens", _loops={})
    # The network runs in the same plain graph, so greedy decoding agrees exactly.
    np.testing.assert_array_equal(
        hybrid.sample_tokens(num=4, length=32, temperature=0.0), sampler.sample_tokens(num=4, length=32, temperature=0.0)
    )
    first = hybrid.sample(num=4, length=32, seed=8)
    np.testing.assert_array_equal(hybrid.sample_tokens(num=4, length=32, seed=8), first.tokens)
    for row in first.tokens:
        check_tokens(row, sampler.grammar)
    assert 0.0 <= first.masked_mass_mean <= first.masked_mass_max <= 1.0


def test_auto_mode_picks_the_whole_loop_for_small_batches_only(sampler: Sampler) -> None:
    auto = Sampler.__new__(Sampler)
    auto.__dict__.update(sampler.__dict__, jit_compile="auto", _loops={})
    assert auto.loop_mode(1) is True
    assert auto.loop_mode(WHOLE_LOOP_XLA_MAX_BATCH) == "tokens"
    assert sampler.loop_mode(64) is False
    with pytest.raises(ConfigError, match="jit_compile"):
        Sampler(None, sampler.tokenizer, jit_compile="sometimes")


def test_same_seed_same_tokens_other_seed_other_tokens(sampler: Sampler) -> None:
    first = sampler.sample_tokens(num=4, length=48, seed=11)
    again = sampler.sample_tokens(num=4, length=48, seed=11)
    other = sampler.sample_tokens(num=4, length=48, seed=12)
    np.testing.assert_array_equal(first, again)
    assert first.shape != other.shape or not np.array_equal(first, other)
    assert len({row.tobytes() for row in first}) == 4  # the batch rows differ from each other


def test_hot_samples_are_grammatical_and_lose_no_event(sampler: Sampler, tokenizer: Tokenizer) -> None:
    result = sampler.sample(num=16, length=150, temperature=4.0, seed=3)
    assert result.tokens[:, 0].tolist() == [tokenizer.bos_id] * 16
    for row in result.tokens:
        checker = check_tokens(row, sampler.grammar)
        assert checker.ended and not checker.value("sounding")  # EOS last, every note closed
        notes = tokenizer.decode_notes(row)
        assert len(notes) == int(np.sum(sampler.tables.kinds[row] == Kind.NOTE_ON))
    assert 0.0 < result.masked_mass_mean <= result.masked_mass_max <= 1.0
    assert result.sampled_steps > 0


def test_primer_is_continued(sampler: Sampler, tokenizer: Tokenizer) -> None:
    prefix = np.array(
        [tokenizer.bos_id, tokenizer.note_on_id(60), tokenizer.time_shift_id(3), tokenizer.note_off_id(60),
         tokenizer.note_on_id(64), tokenizer.time_shift_id(2)], np.int32
    )
    tokens = sampler.sample_tokens(num=4, length=48, seed=5, prefix=prefix, temperature=2.0)
    np.testing.assert_array_equal(tokens[:, : len(prefix)], np.tile(prefix, (4, 1)))
    for row in tokens:
        check_tokens(row, sampler.grammar)
    # The same primer decides the states: greedy continuations are identical across the batch.
    greedy = sampler.sample_tokens(num=4, length=48, prefix=prefix, temperature=0.0)
    np.testing.assert_array_equal(greedy, np.tile(greedy[0], (4, 1)))


def test_top_k_one_and_tiny_top_p_are_greedy(sampler: Sampler) -> None:
    greedy = sampler.sample_tokens(num=4, length=48, temperature=0.0)
    np.testing.assert_array_equal(sampler.sample_tokens(num=4, length=48, top_k=1, seed=9), greedy)
    np.testing.assert_array_equal(sampler.sample_tokens(num=4, length=48, top_p=1e-6, seed=9), greedy)
    np.testing.assert_array_equal(sampler.beam_search(1, num=1, length=48).tokens, greedy[:1])


def test_temperature_sharpens(sampler: Sampler) -> None:
    cold = sampler.sample(num=4, length=48, temperature=1e-6, seed=2).tokens
    greedy = sampler.sample_tokens(num=4, length=48, temperature=0.0)
    hot = sampler.sample(num=4, length=48, temperature=5.0, seed=2).tokens
    np.testing.assert_array_equal(cold, greedy)
    assert len({row.tobytes() for row in hot}) == 4


def test_time_limit(sampler: Sampler, tokenizer: Tokenizer) -> None:
    tokens = sampler.sample_tokens(num=4, length=300, seed=4, max_time_steps=24)
    kinds, values = sampler.tables.kinds, sampler.tables.values
    for row in tokens:
        checker = check_tokens(row, sampler.grammar)
        shifts = np.where(kinds[row] == Kind.TIME_SHIFT, values[row], 0)
        # Stops at the first time shift reaching 24 steps (closing adds at most one step).
        assert checker.value("elapsed") <= 24 + 6 + 1
        eos_early = checker.value("elapsed") < 24
        assert eos_early or np.cumsum(shifts)[np.flatnonzero(shifts)[-2]] < 24 + 1


def test_beam_search_returns_distinct_grammatical_beams(sampler: Sampler) -> None:
    beams = sampler.beam_search(4, num=3, length=48)
    assert beams.tokens.shape[0] == 3
    assert len({row.tobytes() for row in beams.tokens}) == 3
    for row in beams.tokens:
        check_tokens(row, sampler.grammar)


def test_bad_options_are_config_errors(sampler: Sampler) -> None:
    for options, message in [
        ({"top_p": 0.0}, "--top-p"),
        ({"top_p": 1.5}, "--top-p"),
        ({"temperature": -0.5}, "--temperature"),
        ({"top_k": -1}, "--top-k"),
        ({"prefix": np.ones(20, np.int32), "length": 10}, "primer is 19 tokens"),
    ]:
        with pytest.raises(ConfigError, match=message):
            sampler.sample(**{"length": 30, **options})
    with pytest.raises(ConfigError, match="beam"):
        sampler.beam_search(2, num=3, length=10)
