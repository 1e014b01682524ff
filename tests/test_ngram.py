"""The n-gram language model: proper distributions, hand-checked values, sampling, selection."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musicgen.errors import ConfigError, DataError
from musicgen.models.ngram import SMOOTHINGS, NGramModel, select_ngram

# Bigram counts: (0->1) 1, (1->2) 2, (2->1) 1; continuation counts: 1 <- {0, 2}, 2 <- {1}.
CORPUS = [[0, 1, 2, 1, 2]]


def _random_streams(seed: int, count: int = 6, vocab: int = 7) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, vocab, size=rng.integers(2, 30)) for _ in range(count)]


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_every_context_gives_a_distribution(smoothing: str, order: int) -> None:
    model = NGramModel(order, smoothing, vocab_size=9).fit(_random_streams(order))
    for context in ([], [3], [1, 2], [4, 4, 4, 4], [8, 8, 8], [0, 6, 2, 5, 1, 3]):
        probabilities = model.distribution(context)
        assert probabilities.shape == (9,)
        assert np.all(probabilities > 0), (smoothing, context)
        assert probabilities.sum() == pytest.approx(1.0, abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 5), min_size=2, max_size=12), min_size=1, max_size=4),
    st.lists(st.integers(0, 5), max_size=6),
    st.sampled_from(SMOOTHINGS),
    st.integers(1, 4),
)
def test_distribution_property(streams: list, context: list, smoothing: str, order: int) -> None:
    model = NGramModel(order, smoothing, vocab_size=6).fit(streams)
    assert model.distribution(context).sum() == pytest.approx(1.0, abs=1e-12)


def test_kneser_ney_by_hand() -> None:
    model = NGramModel(2, "kneser_ney", discount=0.5, vocab_size=3).fit(CORPUS)
    unigram = {0: 1 / 9, 1: 1.5 / 3 + 1 / 9, 2: 0.5 / 3 + 1 / 9}  # continuation counts 0, 2, 1 of 3
    np.testing.assert_allclose(model.distribution([]), [unigram[0], unigram[1], unigram[2]])  # start: backs off
    expected = [math.log(0.5 + 0.5 * unigram[1]), math.log(1.5 / 2 + 0.25 * unigram[2])]
    np.testing.assert_allclose(model.log_prob([0, 1, 2]), expected)
    np.testing.assert_allclose(model.distribution([2, 1]), [0.25 * unigram[0], 0.25 * unigram[1], 0.75 + 0.25 * unigram[2]])


def test_absolute_discounting_uses_raw_lower_counts() -> None:
    model = NGramModel(2, "absolute", discount=0.5, vocab_size=3).fit(CORPUS)
    unigram = np.array([0.0, 1.5 / 4, 1.5 / 4]) + 0.5 * 2 / 4 / 3
    np.testing.assert_allclose(model.distribution([]), unigram)
    assert model.distribution([1])[2] == pytest.approx(0.75 + 0.25 * unigram[2])


def test_katz_style_backoff_by_hand() -> None:
    model = NGramModel(2, "backoff", discount=0.5, vocab_size=3).fit(CORPUS)
    # Unigrams: seen tokens get (2 - 0.5) / 4; token 0 gets 0.25 / (1 - 2/3) * 1/3.
    np.testing.assert_allclose(model.distribution([]), [0.25, 0.375, 0.375])
    # Context 1: token 2 seen, the rest shares 0.25 in proportion to the unigrams of unseen tokens.
    np.testing.assert_allclose(model.distribution([1]), [0.1, 0.15, 0.75])


def test_backoff_context_followed_by_every_token_interpolates() -> None:
    model = NGramModel(2, "backoff", discount=0.5, vocab_size=3).fit([[0, 0, 0, 1, 0, 2]])
    # Context 0 is followed by 0, 0, 1 and 2, every token: nothing is left to back off to.
    unigram = model.distribution([])
    np.testing.assert_allclose(model.distribution([0]), (np.array([2, 1, 1]) - 0.5) / 4 + 0.5 * 3 / 4 * unigram)
    assert model.distribution([0]).sum() == pytest.approx(1.0)


def test_add_k_by_hand_and_unseen_context_backs_off() -> None:
    model = NGramModel(2, "add_k", k=1.0, vocab_size=3).fit(CORPUS)
    np.testing.assert_allclose(model.distribution([1]), [1 / 5, 1 / 5, 3 / 5])
    np.testing.assert_allclose(model.distribution([]), [1 / 7, 3 / 7, 3 / 7])


def test_nll_is_the_mean_of_log_probs_over_all_streams() -> None:
    train, held_out = _random_streams(1), _random_streams(2)
    model = NGramModel(3).fit(train)
    log_probs = np.concatenate([model.log_prob(stream) for stream in held_out])
    assert len(log_probs) == sum(len(stream) - 1 for stream in held_out)
    assert model.nll(held_out) == pytest.approx(-log_probs.mean())


def test_higher_order_learns_a_second_order_pattern() -> None:
    pattern = [[0] + [3, 4, 3, 5] * 30]
    selection = select_ngram(pattern, pattern, orders=(1, 2, 3), smoothings=("kneser_ney",))
    assert selection.model.order == 3
    assert selection.validation_nll < 0.1
    assert [row["order"] for row in selection.table] == [1, 2, 3]
    assert selection.table[1]["validation_nll"] > 0.3  # after a 3 (half the tokens) a bigram guesses 4 or 5


def test_selection_grid_covers_smoothings_and_k() -> None:
    selection = select_ngram(_random_streams(3), _random_streams(4), orders=(1, 2), vocab_size=7)
    assert {row["smoothing"] for row in selection.table} == set(SMOOTHINGS)
    assert sorted(row["k"] for row in selection.table if row["smoothing"] == "add_k") == [0.001, 0.001, 0.01, 0.01, 0.1, 0.1]
    assert selection.validation_nll == min(row["validation_nll"] for row in selection.table)


def test_sample_is_reproducible_and_stops() -> None:
    model = NGramModel(3).fit([[1, 5, 6, 5, 6, 7, 2], [1, 6, 5, 6, 5, 2]])
    first = model.sample(50, seed=7)
    np.testing.assert_array_equal(first, model.sample(50, seed=7))
    assert first[0] == 1 and len(first) <= 51
    assert first[-1] == 2 or len(first) == 51
    assert np.all((first >= 0) & (first < model.vocab_size))
    long = model.sample(40, seed=3, prefix=[1, 5], stop_token=None, temperature=0.5)
    assert len(long) == 42 and list(long[:2]) == [1, 5]


def test_low_temperature_follows_the_likeliest_path() -> None:
    model = NGramModel(2).fit([[0, 1, 2, 3, 4, 5]] * 5)
    np.testing.assert_array_equal(model.sample(5, seed=0, prefix=[0], temperature=0.01), [0, 1, 2, 3, 4, 5])


def test_errors() -> None:
    with pytest.raises(ConfigError, match="order"):
        NGramModel(0)
    with pytest.raises(ConfigError, match="smoothing"):
        NGramModel(2, "stupid_backoff")
    with pytest.raises(ConfigError, match="discount"):
        NGramModel(2, discount=1.5)
    with pytest.raises(ConfigError, match="not fitted"):
        NGramModel(2).nll([[1, 2]])
    with pytest.raises(DataError, match="two or more"):
        NGramModel(2).fit([[1]])
    model = NGramModel(2, vocab_size=4).fit([[0, 1, 2, 3]])
    with pytest.raises(DataError, match=r"\[0, 4\)"):
        model.log_prob([0, 4])
    with pytest.raises(DataError, match="outside the vocabulary"):
        NGramModel(2, vocab_size=3).fit([[0, 3]])
