"""musicgen.models.recurrent: the fused fast path agrees with Keras's generic loop, values and gradients."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from musicgen.models import cells
from musicgen.models.recurrent import Recurrent, fast_path_kind

BATCH, INPUT_DIM, UNITS = 3, 4, 5
KINDS = ("lstm", "gru", "rnn", "irnn")
KERAS_LAYERS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "rnn": keras.layers.SimpleRNN}


def _inputs(length: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(BATCH, length, INPUT_DIM)).astype("float32")


def _states(kind: str, seed: int = 1) -> list[tf.Tensor]:
    rng = np.random.default_rng(seed)
    count = 2 if kind == "lstm" else 1
    return [tf.constant(rng.normal(size=(BATCH, UNITS)).astype("float32")) for _ in range(count)]


def _pair(kind: str, **options) -> tuple[Recurrent, Recurrent]:
    """A fast layer and a generic-loop layer with identical (non-trivial) weights."""
    cell_options = {key: options.pop(key) for key in ("dropout", "recurrent_dropout") if key in options}
    fast = Recurrent(cells.make_cell(kind, UNITS, **cell_options), **options)
    slow = Recurrent(cells.make_cell(kind, UNITS, **cell_options), use_fast_path=False, **options)
    sample = _inputs(2)
    fast(sample)
    slow(sample)
    rng = np.random.default_rng(7)
    weights = [0.5 * rng.normal(size=w.shape).astype("float32") for w in fast.get_weights()]
    fast.set_weights(weights)
    slow.set_weights(weights)
    return fast, slow


def _assert_close(actual, expected) -> None:
    actual, expected = np.asarray(actual), np.asarray(expected)
    scale = max(float(np.abs(expected).max()), 1e-6)
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5 * scale)


def _values_and_gradients(layer: Recurrent, inputs, states, upstream_seed: int = 3):
    inputs = tf.constant(inputs)
    with tf.GradientTape() as tape:
        tape.watch([inputs, *states])
        outputs = layer(inputs, initial_state=list(states), training=True)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        rng = np.random.default_rng(upstream_seed)
        loss = sum(
            tf.reduce_sum(output * rng.normal(size=output.shape).astype("float32"))
            for output in outputs
        )
    cell = layer.cell
    weights = [cell.kernel, cell.recurrent_kernel, cell.bias]
    gradients = tape.gradient(loss, [inputs, *states, *weights])
    return outputs, gradients


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize(
    "return_sequences, return_state", [(True, False), (False, True), (True, True)]
)
def test_fast_path_matches_autodiff_values_and_gradients(
    kind: str, go_backwards: bool, return_sequences: bool, return_state: bool
) -> None:
    fast, slow = _pair(
        kind,
        return_sequences=return_sequences,
        return_state=return_state,
        go_backwards=go_backwards,
    )
    assert fast.fast_path_applies(None, training=True)
    assert not slow.fast_path_applies(None, training=True)
    states = _states(kind)
    fast_values, fast_gradients = _values_and_gradients(fast, _inputs(), states)
    slow_values, slow_gradients = _values_and_gradients(slow, _inputs(), states)
    assert len(fast_values) == len(slow_values)
    for actual, expected in zip(fast_values, slow_values, strict=True):
        _assert_close(actual, expected)
    # inputs, initial states, kernel, recurrent kernel, bias
    for actual, expected in zip(fast_gradients, slow_gradients, strict=True):
        assert actual is not None and expected is not None
        _assert_close(actual, expected)


@pytest.mark.parametrize("length", [1, 5, 12])
def test_lengths_not_divisible_by_the_unrolled_chunk(length: int) -> None:
    fast, slow = _pair("lstm", return_sequences=True)
    states = _states("lstm")
    fast_values, fast_gradients = _values_and_gradients(fast, _inputs(length), states)
    slow_values, slow_gradients = _values_and_gradients(slow, _inputs(length), states)
    for actual, expected in zip(fast_values + fast_gradients, slow_values + slow_gradients, strict=True):
        _assert_close(actual, expected)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_matches_keras_builtin_layers(kind: str, go_backwards: bool) -> None:
    ours = Recurrent(
        cells.make_cell(kind, UNITS), return_sequences=True, return_state=True, go_backwards=go_backwards
    )
    theirs = KERAS_LAYERS[kind](UNITS, return_sequences=True, return_state=True, go_backwards=go_backwards)
    inputs = _inputs()
    ours(inputs)
    theirs(inputs)
    theirs.set_weights(ours.get_weights())
    for actual, expected in zip(ours(inputs), theirs(inputs), strict=True):
        _assert_close(actual, expected)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_cells_without_bias(kind: str) -> None:
    ours = Recurrent(cells.make_cell(kind, UNITS, use_bias=False), return_sequences=True)
    theirs = KERAS_LAYERS[kind](UNITS, use_bias=False, return_sequences=True)
    inputs = _inputs()
    ours(inputs)
    theirs(inputs)
    theirs.set_weights(ours.get_weights())
    assert ours.fast_path_applies(None)
    _assert_close(ours(inputs), theirs(inputs))


def test_keras_cells_also_take_the_fast_path() -> None:
    layer = Recurrent(keras.layers.GRUCell(UNITS), return_sequences=True)
    reference = keras.layers.GRU(UNITS, return_sequences=True)
    inputs = _inputs()
    layer(inputs)
    reference(inputs)
    reference.set_weights(layer.get_weights())
    assert fast_path_kind(layer.cell) == "gru"
    _assert_close(layer(inputs), reference(inputs))


def test_unknown_cells_and_other_activations_fall_back() -> None:
    class PeepholeCell(keras.layers.LSTMCell):
        pass

    assert fast_path_kind(PeepholeCell(UNITS)) is None
    assert fast_path_kind(cells.LSTMCell(UNITS, activation="relu")) is None
    assert fast_path_kind(cells.SimpleRNNCell(UNITS, activation="sigmoid")) is None
    assert fast_path_kind(keras.layers.GRUCell(UNITS, reset_after=False)) is None
    assert fast_path_kind(cells.make_cell("irnn", UNITS)) == "rnn"
    layer = Recurrent(PeepholeCell(UNITS))
    assert not layer.fast_path_applies(None)
    assert layer(_inputs()).shape == (BATCH, UNITS)


def test_masking_falls_back_and_matches_keras() -> None:
    inputs = _inputs()
    inputs[0, 5:] = 0.0
    ours = Recurrent(cells.make_cell("lstm", UNITS), return_sequences=True)
    theirs = keras.layers.LSTM(UNITS, return_sequences=True)
    masking = keras.layers.Masking(0.0)
    ours(inputs)
    theirs(inputs)
    theirs.set_weights(ours.get_weights())
    assert not ours.fast_path_applies(mask=tf.ones((BATCH, 8), bool))
    _assert_close(ours(masking(inputs)), theirs(masking(inputs)))


def _fixed_mask(layer: Recurrent, rate: float) -> np.ndarray:
    mask = (np.random.default_rng(5).random((BATCH, INPUT_DIM)) > rate).astype("float32") / (1 - rate)
    layer.cell.get_dropout_mask = lambda step_input: tf.constant(mask)
    return mask


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_input_dropout_uses_one_mask_for_every_step(kind: str) -> None:
    fast, slow = _pair(kind, return_sequences=True, dropout=0.5)
    _fixed_mask(fast, 0.5)
    _fixed_mask(slow, 0.5)
    states = _states(kind)
    fast_values, fast_gradients = _values_and_gradients(fast, _inputs(), states)
    slow_values, slow_gradients = _values_and_gradients(slow, _inputs(), states)
    for actual, expected in zip(fast_values + fast_gradients, slow_values + slow_gradients, strict=True):
        _assert_close(actual, expected)


def test_dropout_only_in_training_and_recurrent_dropout_falls_back() -> None:
    layer = Recurrent(cells.make_cell("lstm", UNITS, dropout=0.5), return_sequences=True)
    inputs = _inputs()
    inference = layer(inputs, training=False)
    _assert_close(layer(inputs, training=False), inference)
    assert not np.allclose(layer(inputs, training=True), inference)
    recurrent = Recurrent(cells.make_cell("gru", UNITS, recurrent_dropout=0.3))
    assert recurrent.fast_path_applies(None, training=False)
    assert not recurrent.fast_path_applies(None, training=True)
    assert recurrent(inputs, training=True).shape == (BATCH, UNITS)


def test_bidirectional_matches_keras() -> None:
    ours = keras.layers.Bidirectional(Recurrent(cells.make_cell("lstm", UNITS), return_sequences=True))
    theirs = keras.layers.Bidirectional(keras.layers.LSTM(UNITS, return_sequences=True))
    inputs = _inputs()
    ours(inputs)
    theirs(inputs)
    theirs.set_weights(ours.get_weights())
    _assert_close(ours(inputs), theirs(inputs))


def _model(length: int | None = None, kind: str = "lstm", jit: bool = False) -> keras.Model:
    inputs = keras.Input((length, INPUT_DIM))
    hidden = Recurrent(cells.make_cell(kind, 8), return_sequences=True, jit_kernels=jit)(inputs)
    outputs = keras.layers.Dense(1)(hidden)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_fit_lowers_the_loss_with_unknown_length(jit_compile: bool) -> None:
    keras.utils.set_random_seed(0)
    model = _model(None)
    model.compile(optimizer=keras.optimizers.Adam(0.03), loss="mse", jit_compile=jit_compile)
    inputs = _inputs(12)
    targets = np.cumsum(inputs[..., :1], axis=1) / 4.0
    history = model.fit(inputs, targets, epochs=30, batch_size=BATCH, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert model.predict(_inputs(5), verbose=0).shape == (BATCH, 5, 1)


def test_kernels_under_xla_match_plain_kernels() -> None:
    plain, jitted = _model(8), _model(8, jit=True)
    jitted.set_weights(plain.get_weights())
    inputs = tf.constant(_inputs())

    @tf.function
    def gradients(model):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(inputs) ** 2)
        return tape.gradient(loss, model.trainable_weights)

    for actual, expected in zip(gradients(jitted), gradients(plain), strict=True):
        _assert_close(actual, expected)


def test_mixed_precision_computes_in_float16() -> None:
    reference = Recurrent(cells.make_cell("gru", UNITS), return_sequences=True)
    inputs = _inputs()
    expected = reference(inputs)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        layer = Recurrent(cells.make_cell("gru", UNITS), return_sequences=True)
        layer(inputs)
        layer.set_weights(reference.get_weights())
        with tf.GradientTape() as tape:
            outputs = layer(inputs, training=True)
            loss = tf.reduce_sum(tf.cast(outputs, "float32"))
        gradients = tape.gradient(loss, layer.trainable_weights)
    finally:
        keras.config.set_dtype_policy(previous)
    assert outputs.dtype == tf.float16
    assert all(gradient.dtype == tf.float32 for gradient in gradients)
    np.testing.assert_allclose(np.asarray(outputs, "float32"), expected, atol=1e-2)


def test_saving_round_trip_in_safe_mode(tmp_path) -> None:
    model = _model(None, kind="gru")
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded.layers[1], Recurrent)
    inputs = _inputs()
    np.testing.assert_array_equal(loaded.predict(inputs, verbose=0), model.predict(inputs, verbose=0))


MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json, numpy as np
    from musicgen.runtime import configure_cpu_devices
    configure_cpu_devices(2)
    import keras, tensorflow as tf
    from musicgen.models import cells
    from musicgen.models.recurrent import Recurrent

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    weights, losses = [], []
    for fast in (True, False):
        with strategy.scope():
            inputs = keras.Input((6, 3))
            layer = Recurrent(cells.make_cell("lstm", 4), return_sequences=True, use_fast_path=fast)
            model = keras.Model(inputs, keras.layers.Dense(1)(layer(inputs)))
            model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        if weights:
            model.set_weights(weights[0])
        else:
            keras.utils.set_random_seed(0)
            model.set_weights([np.random.default_rng(0).normal(size=w.shape) * 0.5 for w in model.get_weights()])
            weights.append(model.get_weights())
        x = np.random.default_rng(1).normal(size=(8, 6, 3)).astype("float32")
        y = np.random.default_rng(2).normal(size=(8, 6, 1)).astype("float32")
        history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        losses.append(history.history["loss"])
        weights.append(model.get_weights())
    difference = max(float(np.abs(a - b).max()) for a, b in zip(weights[1], weights[2]))
    print(json.dumps({"replicas": strategy.num_replicas_in_sync, "difference": difference, "losses": losses}))
    """
)


def test_mirrored_strategy_over_two_cpu_replicas() -> None:
    environment = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}
    completed = subprocess.run(
        [sys.executable, "-c", MIRRORED_SCRIPT], capture_output=True, text=True, env=environment, timeout=300
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert result["difference"] < 1e-5
    fast_losses, slow_losses = result["losses"]
    np.testing.assert_allclose(fast_losses, slow_losses, rtol=1e-5)


def test_bench_train_reports_both_implementations() -> None:
    import argparse

    from musicgen.bench import train

    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    args = parser.parse_args(
        ["--cell", "gru", "--units", "8", "--layers", "1", "--seq-len", "6", "--batch-size", "2",
         "--vocab-size", "11", "--embedding-dim", "4", "--steps", "2", "--warmup", "1"]
    )
    result = train.run(args)
    assert set(result["tokens_per_s"]) == {"custom", "keras"}
    assert result["ratio"] == pytest.approx(
        result["tokens_per_s"]["custom"] / result["tokens_per_s"]["keras"], rel=1e-2
    )
    assert result["config"]["cell"] == "gru" and result["config"]["units"] == 8
    # Same architecture and seed: the two implementations train the same model.
    custom_loss, keras_loss = result["final_loss"]["custom"], result["final_loss"]["keras"]
    assert abs(custom_loss - keras_loss) < 0.05
