"""The step network: one token at a time through a language model's weights."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from musicgen.errors import CheckpointError
from musicgen.models.language import build_language_model
from musicgen.models.stepping import StepNetwork

VOCAB = 11


def _tokens(batch: int, time: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, VOCAB, (batch, time)).astype("int32")


@pytest.mark.parametrize(
    ("cell", "implementation", "one_hot"),
    [("lstm", "custom", False), ("lstm", "keras", True), ("gru", "custom", False), ("gru", "keras", False),
     ("rnn", "custom", False), ("rnn", "keras", False), ("irnn", "custom", True), ("irnn", "keras", False)],
)
def test_steps_give_the_full_models_logits(cell: str, implementation: str, one_hot: bool) -> None:
    keras.utils.set_random_seed(3)
    model = build_language_model(
        VOCAB, cell=cell, units=6, num_layers=2, embedding_dim=4, implementation=implementation, one_hot=one_hot
    )
    tokens = _tokens(batch=3, time=7)
    full = np.asarray(model(tokens))
    network = StepNetwork(model)
    assert [layer.kind for layer in network.layers] == ["rnn" if cell == "irnn" else cell] * 2
    states = network.initial_states(3)
    for t in range(tokens.shape[1]):
        logits, states = network.step(tf.constant(tokens[:, t]), states)
        np.testing.assert_allclose(np.asarray(logits), full[:, t], rtol=1e-4, atol=1e-5)
    last, run_states = network.run(tokens)
    np.testing.assert_allclose(np.asarray(last), full[:, -1], rtol=1e-4, atol=1e-5)
    for mine, reference in zip(tf.nest.flatten(run_states), tf.nest.flatten(states), strict=True):
        np.testing.assert_allclose(np.asarray(mine), np.asarray(reference), atol=1e-6)


def test_a_model_without_biases_steps_too() -> None:
    inputs = keras.Input((None,), dtype="int32")
    hidden = keras.layers.Embedding(VOCAB, 4, name="embedding")(inputs)
    hidden = keras.layers.GRU(5, use_bias=False, return_sequences=True, name="rnn_1")(hidden)
    model = keras.Model(inputs, keras.layers.Dense(VOCAB, use_bias=False, name="logits")(hidden))
    tokens = _tokens(batch=2, time=4)
    last, _ = StepNetwork(model).run(tokens)
    np.testing.assert_allclose(np.asarray(last), np.asarray(model(tokens))[:, -1], rtol=1e-4, atol=1e-5)


def test_steps_compile_inside_an_xla_while_loop() -> None:
    model = build_language_model(VOCAB, cell="lstm", units=5, num_layers=2, embedding_dim=4)
    network = StepNetwork(model)
    tokens = _tokens(batch=2, time=5)
    compiled = tf.function(network.run, jit_compile=True)
    last, _ = compiled(tf.constant(tokens))
    np.testing.assert_allclose(np.asarray(last), np.asarray(model(tokens))[:, -1], rtol=1e-4, atol=1e-5)


def test_the_network_is_a_snapshot_of_the_weights() -> None:
    model = build_language_model(VOCAB, cell="gru", units=5, num_layers=1, embedding_dim=4)
    tokens = _tokens(batch=1, time=3)
    network = StepNetwork(model)
    before = np.asarray(network.run(tokens)[0])
    kernel = model.get_layer("logits").kernel
    kernel.assign(kernel * 2.0)
    np.testing.assert_array_equal(np.asarray(network.run(tokens)[0]), before)
    assert not np.allclose(np.asarray(StepNetwork(model).run(tokens)[0]), before)


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        (lambda: keras.layers.Dense(3, name="rnn_1"), "not a recurrent layer musicgen can step"),
        (lambda: keras.layers.SimpleRNN(3, activation="sigmoid", return_sequences=True, name="rnn_1"),
         "unsupported activation 'sigmoid'"),
        (lambda: keras.layers.LSTM(3, go_backwards=True, return_sequences=True, name="rnn_1"), "runs backwards"),
    ],
)
def test_layers_that_cannot_be_stepped_are_named(layer, message: str) -> None:
    inputs = keras.Input((None,), dtype="int32")
    hidden = keras.layers.Embedding(VOCAB, 4, name="embedding")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(VOCAB, name="logits")(layer()(hidden)))
    with pytest.raises(CheckpointError, match=message):
        StepNetwork(model)


def test_a_model_that_is_not_a_language_model_is_refused() -> None:
    inputs = keras.Input((None, 3))
    model = keras.Model(inputs, keras.layers.Dense(2, name="logits")(inputs))
    with pytest.raises(CheckpointError, match="not a musicgen language model"):
        StepNetwork(model)
