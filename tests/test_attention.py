"""The attention layer: agreement with Keras's own, masking, serialisation."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from musicgen.demos.translation.attention import Attention
from musicgen.errors import ConfigError


def _inputs(seed: int = 0, query_dim: int = 6, value_dim: int = 6):
    rng = np.random.default_rng(seed)
    query = rng.normal(size=(3, 4, query_dim)).astype(np.float32)
    value = rng.normal(size=(3, 5, value_dim)).astype(np.float32)
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]], dtype=bool)
    return query, value, mask


def test_dot_score_matches_keras_attention() -> None:
    query, value, mask = _inputs()
    ours, our_weights = Attention(score="dot")(query, value, value_mask=mask, return_attention_scores=True)
    theirs, their_weights = keras.layers.Attention()(
        [query, value], mask=[None, mask], return_attention_scores=True
    )
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(our_weights), np.asarray(their_weights), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("score", ["general", "additive"])
def test_scores_match_numpy_reference(score: str) -> None:
    query, value, mask = _inputs(1, query_dim=4, value_dim=6)
    layer = Attention(score=score, units=3)
    context, weights = layer(query, value, value_mask=mask, return_attention_scores=True)
    if score == "general":
        scores = np.einsum("bqd,de,bve->bqv", query, np.asarray(layer.kernel), value)
    else:
        hidden = np.tanh(
            (query @ np.asarray(layer.query_kernel))[:, :, None] + (value @ np.asarray(layer.key_kernel))[:, None]
        )
        scores = hidden @ np.asarray(layer.score_vector)
    scores = np.where(mask[:, None, :], scores, -np.inf)
    expected = np.exp(scores - scores.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(np.asarray(weights), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(context), expected @ value, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("score", ["dot", "general", "additive"])
def test_weights_sum_to_one_and_ignore_padding(score: str) -> None:
    query, value, mask = _inputs(2)
    layer = Attention(score=score)
    context, weights = layer(query, value, value_mask=mask, return_attention_scores=True)
    weights = np.asarray(weights)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-6)
    assert np.all(weights[~np.broadcast_to(mask[:, None, :], weights.shape)] == 0.0)
    # Whatever sits in the padding, the second sentence attends as if it were 3 long.
    garbage = value.copy()
    garbage[1, 3:] = 1e3
    changed = layer(query, garbage, value_mask=mask)
    np.testing.assert_allclose(np.asarray(changed)[1], np.asarray(context)[1], rtol=1e-5, atol=1e-6)
    alone = layer(query[1:2], value[1:2, :3])
    np.testing.assert_allclose(np.asarray(alone)[0], np.asarray(context)[1], rtol=1e-5, atol=1e-6)


def test_serialises_in_a_model_with_safe_mode(tmp_path) -> None:
    query_input = keras.Input((None, 4))
    value_input = keras.Input((None, 6))
    output = Attention(score="additive", units=5, name="attention")(query_input, value_input)
    model = keras.Model([query_input, value_input], output)
    query, value, _ = _inputs(3, query_dim=4, value_dim=6)
    path = tmp_path / "attention.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert loaded.get_layer("attention").get_config()["score"] == "additive"
    np.testing.assert_array_equal(np.asarray(loaded([query, value])), np.asarray(model([query, value])))


def test_bad_configuration_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="score must be one of"):
        Attention(score="cosine")
    query, value, _ = _inputs(query_dim=4, value_dim=6)
    with pytest.raises(ConfigError, match="same width|one width"):
        Attention(score="dot")(query, value)
