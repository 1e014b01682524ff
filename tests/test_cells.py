"""musicgen's cells against Keras's built-in layers: weights, outputs, gradients, dropout."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from musicgen.errors import ConfigError
from musicgen.models import cells
from musicgen.models.recurrent import Recurrent

KERAS_LAYERS = {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}


def _inputs(batch=3, time=6, features=5, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, time, features)).astype("float32")


def _outputs_and_gradients(layer, inputs):
    inputs = tf.constant(inputs)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = layer(inputs)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        loss = sum(tf.reduce_sum(tf.sin(output) * (index + 1)) for index, output in enumerate(outputs))
    gradients = tape.gradient(loss, [inputs, *layer.trainable_weights])
    return [np.asarray(output) for output in outputs], [np.asarray(gradient) for gradient in gradients]


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_cell_matches_keras_layer_forward_and_gradients(kind, go_backwards):
    inputs = _inputs()
    ours = Recurrent(
        cells.make_cell(kind, 4), return_sequences=True, return_state=True, go_backwards=go_backwards
    )
    theirs = KERAS_LAYERS[kind](4, return_sequences=True, return_state=True, go_backwards=go_backwards)
    ours.build(inputs.shape)
    theirs.build(inputs.shape)
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    theirs.set_weights(ours.get_weights())
    our_outputs, our_gradients = _outputs_and_gradients(ours, inputs)
    their_outputs, their_gradients = _outputs_and_gradients(theirs, inputs)
    assert len(our_outputs) == len(their_outputs) == (3 if kind == "lstm" else 2)
    for mine, reference in zip(our_outputs + our_gradients, their_outputs + their_gradients, strict=True):
        np.testing.assert_allclose(mine, reference, atol=1e-5)


def test_keras_weights_load_into_our_cells():
    inputs = _inputs(seed=1)
    theirs = keras.layers.GRU(3, return_sequences=True)
    reference = np.asarray(theirs(inputs))
    ours = Recurrent(cells.GRUCell(3), return_sequences=True)
    ours.build(inputs.shape)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(np.asarray(ours(inputs)), reference, atol=1e-6)


def test_weight_layout_and_initial_biases():
    lstm = cells.LSTMCell(3)
    lstm.build((None, 2))
    assert [w.name for w in lstm.weights] == ["kernel", "recurrent_kernel", "bias"]
    assert tuple(lstm.kernel.shape) == (2, 12) and tuple(lstm.recurrent_kernel.shape) == (3, 12)
    np.testing.assert_array_equal(np.asarray(lstm.bias), [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    gru = cells.GRUCell(3)
    gru.build((None, 2))
    assert tuple(gru.bias.shape) == (2, 9) and gru.reset_after is True
    rnn = cells.SimpleRNNCell(3, use_bias=False)
    rnn.build((None, 2))
    assert rnn.bias is None and len(rnn.weights) == 2


def test_irnn_is_relu_with_identity_recurrence():
    cell = cells.make_cell("irnn", 4)
    cell.build((None, 2))
    np.testing.assert_array_equal(np.asarray(cell.recurrent_kernel), np.eye(4))
    output, _ = cell(np.full((1, 2), -10.0, "float32"), [np.zeros((1, 4), "float32")])
    assert np.all(np.asarray(output) >= 0.0)


def test_make_cell_rejects_unknown_kind_and_bad_rates():
    with pytest.raises(ConfigError, match="unknown cell kind 'transformer'"):
        cells.make_cell("transformer", 4)
    with pytest.raises(ConfigError, match="dropout"):
        cells.make_cell("lstm", 4, dropout=1.5)
    with pytest.raises(ConfigError, match="units"):
        cells.make_cell("gru", 0)


def test_input_dropout_uses_one_mask_per_sequence():
    # With no recurrence, every step sees the same input: a per-sequence mask gives
    # identical outputs at every step, and they differ from the output without dropout.
    cell = cells.SimpleRNNCell(8, dropout=0.5, recurrent_initializer="zeros", seed=3)
    layer = Recurrent(cell, return_sequences=True)
    inputs = np.tile(_inputs(batch=2, time=1, features=16), (1, 5, 1))
    trained = np.asarray(layer(inputs, training=True))
    inferred = np.asarray(layer(inputs, training=False))
    np.testing.assert_allclose(trained, np.repeat(trained[:, :1], 5, axis=1), atol=1e-6)
    assert not np.allclose(trained, inferred)
    np.testing.assert_allclose(inferred, np.repeat(inferred[:, :1], 5, axis=1), atol=1e-6)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_recurrent_dropout_only_in_training(kind):
    inputs = _inputs(seed=2)
    plain = Recurrent(cells.make_cell(kind, 4), return_sequences=True)
    dropped = Recurrent(cells.make_cell(kind, 4, recurrent_dropout=0.5, seed=1), return_sequences=True)
    plain.build(inputs.shape)
    dropped.build(inputs.shape)
    dropped.set_weights(plain.get_weights())
    reference = np.asarray(plain(inputs))
    np.testing.assert_allclose(np.asarray(dropped(inputs, training=False)), reference, atol=1e-6)
    assert not np.allclose(np.asarray(dropped(inputs, training=True)), reference)


@pytest.mark.parametrize("kind", ["rnn", "irnn", "lstm", "gru"])
def test_cell_config_round_trip(kind):
    cell = cells.make_cell(kind, 5, dropout=0.25, recurrent_dropout=0.1, seed=7)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(cell))
    assert type(restored) is type(cell)
    assert restored.get_config() == cell.get_config()
    assert restored.dropout == 0.25 and restored.recurrent_dropout == 0.1


def test_cells_work_inside_keras_rnn_and_bidirectional():
    inputs = _inputs(seed=4)
    ours = keras.layers.Bidirectional(Recurrent(cells.LSTMCell(3)))
    theirs = keras.layers.Bidirectional(keras.layers.LSTM(3))
    ours.build(inputs.shape)
    theirs.build(inputs.shape)
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(np.asarray(ours(inputs)), np.asarray(theirs(inputs)), atol=1e-5)
    plain = keras.layers.RNN(cells.GRUCell(3), return_sequences=True)
    assert tuple(plain(inputs).shape) == (3, 6, 3)
