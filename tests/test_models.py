"""The language-model builder, its two implementations, saving, and the step interface."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from musicgen.errors import ConfigError
from musicgen.models import language
from musicgen.models.recurrent import Recurrent

VOCAB = 13
KINDS = ["rnn", "irnn", "lstm", "gru"]


def _tokens(batch=2, time=7, seed=0):
    return np.random.default_rng(seed).integers(0, VOCAB, size=(batch, time)).astype("int32")


def _pair(cell, **kwargs):
    """The same small model in both implementations, holding the same weights."""
    options = dict(cell=cell, units=5, num_layers=2, embedding_dim=4, **kwargs)
    custom = language.build_language_model(VOCAB, implementation="custom", **options)
    builtin = language.build_language_model(VOCAB, implementation="keras", **options)
    builtin.set_weights(custom.get_weights())
    return custom, builtin


def _logits_and_gradients(model, tokens):
    targets = np.roll(tokens, -1, axis=1)
    with tf.GradientTape() as tape:
        logits = model(tokens, training=False)
        loss = keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True)
        loss = tf.reduce_mean(loss)
    gradients = tape.gradient(loss, model.trainable_weights)
    return np.asarray(logits), [np.asarray(tf.convert_to_tensor(g)) for g in gradients]


@pytest.mark.parametrize("cell", KINDS)
def test_implementations_agree_on_logits_and_gradients(cell):
    custom, builtin = _pair(cell)
    assert [(w.name, tuple(w.shape)) for w in custom.weights] == [
        (w.name, tuple(w.shape)) for w in builtin.weights
    ]
    tokens = _tokens()
    custom_logits, custom_gradients = _logits_and_gradients(custom, tokens)
    builtin_logits, builtin_gradients = _logits_and_gradients(builtin, tokens)
    np.testing.assert_allclose(custom_logits, builtin_logits, atol=1e-4)
    for mine, reference in zip(custom_gradients, builtin_gradients, strict=True):
        np.testing.assert_allclose(mine, reference, atol=1e-5)


def test_layer_names_shapes_and_float32_logits():
    model = language.build_language_model(VOCAB, cell="gru", units=6, num_layers=3, embedding_dim=4, dropout=0.2)
    names = [layer.name for layer in model.layers]
    assert [n for n in names if n.startswith(("embedding", "rnn_", "logits"))] == [
        "embedding", "rnn_1", "rnn_2", "rnn_3", "logits"
    ]
    assert "dropout_1" in names
    assert isinstance(model.get_layer("rnn_1"), Recurrent)
    logits = model(_tokens(batch=3, time=5))
    assert tuple(logits.shape) == (3, 5, VOCAB) and logits.dtype == "float32"


def test_mixed_precision_keeps_float32_logits():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = language.build_language_model(VOCAB, cell="lstm", units=4, num_layers=1, embedding_dim=4)
        assert model.get_layer("rnn_1").compute_dtype == "bfloat16"
        assert model(_tokens()).dtype == "float32"
    finally:
        keras.config.set_dtype_policy(previous)


def test_one_hot_input_has_no_embedding_weights():
    model = language.build_language_model(VOCAB, cell="lstm", units=4, num_layers=1, one_hot=True)
    assert isinstance(model.get_layer("embedding"), language.OneHot)
    assert tuple(model.get_layer("rnn_1").weights[0].shape) == (VOCAB, 16)
    assert tuple(model(_tokens()).shape) == (2, 7, VOCAB)


@pytest.mark.parametrize("implementation", ["custom", "keras"])
@pytest.mark.parametrize("one_hot", [False, True])
def test_save_and_load_safely_to_identical_outputs(tmp_path, implementation, one_hot):
    model = language.build_language_model(
        VOCAB, cell="lstm", units=4, num_layers=2, embedding_dim=3,
        dropout=0.1, implementation=implementation, one_hot=one_hot,
    )
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    tokens = _tokens()
    np.testing.assert_array_equal(np.asarray(restored(tokens)), np.asarray(model(tokens)))
    assert type(restored.get_layer("rnn_1")) is type(model.get_layer("rnn_1"))


def test_recurrent_layer_keras_settings_keep_cudnn_eligible():
    lstm = language.recurrent_layer("lstm", 4, implementation="keras", dropout=0.2)
    gru = language.recurrent_layer("gru", 4, implementation="keras")
    for layer in (lstm, gru):
        assert layer.cell.activation is keras.activations.tanh
        assert layer.cell.recurrent_activation is keras.activations.sigmoid
        assert layer.recurrent_dropout == 0.0 and not layer.unroll and layer.use_bias
        assert layer.use_cudnn == "auto"
    assert gru.reset_after
    irnn = language.recurrent_layer("irnn", 3, implementation="keras")
    assert isinstance(irnn, keras.layers.SimpleRNN) and irnn.cell.activation is keras.activations.relu
    irnn.build((None, None, 2))
    np.testing.assert_array_equal(np.asarray(irnn.cell.recurrent_kernel), np.eye(3))
    with pytest.raises(ConfigError, match="recurrent_dropout > 0 disables cuDNN"):
        language.recurrent_layer("lstm", 4, implementation="keras", recurrent_dropout=0.1)
    with pytest.raises(ConfigError, match="unknown implementation 'cudnn'"):
        language.recurrent_layer("lstm", 4, implementation="cudnn")
    with pytest.raises(ConfigError, match="unknown cell kind"):
        language.build_language_model(VOCAB, cell="transformer")


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_recurrent_layer_states_and_bidirectional_agree(kind):
    inputs = np.random.default_rng(5).normal(size=(2, 6, 3)).astype("float32")
    custom = language.recurrent_layer(kind, 4, return_sequences=False, return_state=True, go_backwards=True)
    builtin = language.recurrent_layer(
        kind, 4, implementation="keras", return_sequences=False, return_state=True, go_backwards=True
    )
    custom.build(inputs.shape)
    builtin.build(inputs.shape)
    builtin.set_weights(custom.get_weights())
    for mine, reference in zip(custom(inputs), builtin(inputs), strict=True):
        np.testing.assert_allclose(np.asarray(mine), np.asarray(reference), atol=1e-5)
    wrapped = keras.layers.Bidirectional(language.recurrent_layer(kind, 4, return_sequences=False))
    assert tuple(wrapped(inputs).shape) == (2, 8)


def test_training_lowers_the_loss():
    keras.utils.set_random_seed(0)
    model = language.build_language_model(VOCAB, cell="gru", units=16, num_layers=1, embedding_dim=8)
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    pattern = np.tile(np.arange(VOCAB, dtype="int32"), 4)[None, :]
    inputs, targets = np.repeat(pattern[:, :-1], 4, axis=0), np.repeat(pattern[:, 1:], 4, axis=0)
    history = model.fit(inputs, targets, epochs=15, verbose=0).history["loss"]
    assert history[-1] < 0.5 * history[0]
