"""Recurrent layers and the token language model built from them.

:func:`recurrent_layer` is the one place a recurrent layer is made, for the music model
and for the demos: ``implementation="custom"`` runs musicgen's own cells
(:mod:`musicgen.cells`) through :class:`musicgen.recurrent.Recurrent`;
``implementation="keras"`` uses Keras's ``LSTM``/``GRU``/``SimpleRNN`` with settings
that keep the cuDNN kernels eligible on a GPU. Both hold the same weights in the same
order, so a model of one kind loads the weights of the other.

:class:`LanguageModelStepper` runs a built language model's weights one token at a time
as plain TensorFlow ops, for sampling inside ``tf.function``/``tf.while_loop``.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable
from typing import Any, NamedTuple

import keras
from keras import layers

from musicgen import cells
from musicgen.cells import CELL_KINDS, make_cell
from musicgen.errors import ConfigError
from musicgen.recurrent import Recurrent  # registers musicgen>Recurrent for load_model

IMPLEMENTATIONS = ("custom", "keras")


EMBEDDING_INITIALIZER = {"class_name": "RandomUniform", "config": {"minval": -1.0, "maxval": 1.0}}


@keras.saving.register_keras_serializable(package="musicgen")
class OneHot(layers.Layer):
    """Integer tokens ``(batch, time)`` to one-hot float vectors ``(batch, time, depth)``.

    Used instead of a learned embedding when ``build_language_model(one_hot=True)``;
    a named, serializable layer so saved models need no ``Lambda``.
    """

    def __init__(self, depth: int, **kwargs):
        super().__init__(**kwargs)
        self.depth = int(depth)

    def call(self, inputs):
        return keras.ops.one_hot(keras.ops.cast(inputs, "int32"), self.depth, dtype=self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.depth)

    def get_config(self) -> dict:
        return {**super().get_config(), "depth": self.depth}


def _check_choice(label: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"unknown {label} {value!r}; choose one of {', '.join(choices)}")


def _check_positive(label: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ConfigError(f"{label} must be a positive integer, got {value!r}")


def recurrent_layer(
    kind: str,
    units: int,
    implementation: str = "custom",
    return_sequences: bool = True,
    return_state: bool = False,
    go_backwards: bool = False,
    dropout: float = 0.0,
    recurrent_dropout: float = 0.0,
    name: str | None = None,
) -> layers.Layer:
    """One recurrent layer of cell ``kind`` (``rnn|irnn|lstm|gru``).

    ``"custom"`` gives ``Recurrent(make_cell(kind, ...))``; ``"keras"`` gives Keras's own
    layer with default activations, ``use_bias=True``, ``unroll=False`` and (GRU)
    ``reset_after=True``, so LSTM and GRU run on cuDNN on a GPU. Recurrent dropout
    would silently disable cuDNN, so it is refused for Keras LSTM/GRU.
    """
    _check_choice("cell kind", kind, CELL_KINDS)
    _check_choice("implementation", implementation, IMPLEMENTATIONS)
    _check_positive("units", units)
    units = int(units)
    common = dict(return_sequences=return_sequences, return_state=return_state, go_backwards=go_backwards, name=name)
    if implementation == "custom":
        cell = make_cell(kind, units, dropout=dropout, recurrent_dropout=recurrent_dropout)
        return Recurrent(cell, **common)
    for label, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
        if not 0.0 <= rate < 1.0:
            raise ConfigError(f"{label} must be in [0, 1), got {rate}")
    if kind in ("lstm", "gru") and recurrent_dropout > 0.0:
        raise ConfigError(
            "recurrent_dropout > 0 disables cuDNN for Keras's LSTM/GRU; "
            "use implementation='custom' for recurrent dropout"
        )
    if kind == "lstm":
        return layers.LSTM(units, dropout=dropout, **common)
    if kind == "gru":
        return layers.GRU(units, dropout=dropout, reset_after=True, **common)
    if kind == "irnn":
        return layers.SimpleRNN(
            units, activation="relu", recurrent_initializer="identity",
            dropout=dropout, recurrent_dropout=recurrent_dropout, **common,
        )
    return layers.SimpleRNN(units, dropout=dropout, recurrent_dropout=recurrent_dropout, **common)


def build_language_model(
    vocab_size: int,
    cell: str = "lstm",
    units: int = 256,
    num_layers: int = 2,
    embedding_dim: int = 128,
    dropout: float = 0.0,
    implementation: str = "custom",
    one_hot: bool = False,
    name: str | None = None,
) -> keras.Model:
    """A stacked recurrent language model: int tokens ``(batch, time)`` to float32 logits.

    Layers: ``embedding`` (a learned ``Embedding``, or a ``OneHot`` when ``one_hot``),
    ``rnn_1`` .. ``rnn_N``, each followed by ``dropout_i`` when ``dropout > 0``
    (dropout on the non-recurrent connections, Zaremba et al. 2014), and ``logits``, a
    ``Dense`` kept in float32 so a mixed-precision model still has a float32 softmax.

    The embedding starts at unit scale (uniform in [-1, 1], like one-hot inputs) rather
    than Keras's default [-0.05, 0.05]: with tiny inputs the gated cells' pre-activations
    are tiny too, and an LSTM sat on the unigram plateau of the chorales four times longer
    (loss 4.1 against 3.2 after 80 batches of 16 x 256 tokens, measured here).
    """
    _check_choice("cell kind", cell, CELL_KINDS)
    _check_choice("implementation", implementation, IMPLEMENTATIONS)
    for label, value in (("vocab_size", vocab_size), ("units", units), ("num_layers", num_layers)):
        _check_positive(label, value)
    if not one_hot:
        _check_positive("embedding_dim", embedding_dim)
        embedding_dim = int(embedding_dim)
    vocab_size, units, num_layers = int(vocab_size), int(units), int(num_layers)
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"dropout must be in [0, 1), got {dropout}")

    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    if one_hot:
        hidden = OneHot(vocab_size, name="embedding")(tokens)
    else:
        hidden = layers.Embedding(
            vocab_size, embedding_dim, embeddings_initializer=EMBEDDING_INITIALIZER, name="embedding"
        )(tokens)
    for index in range(1, num_layers + 1):
        hidden = recurrent_layer(cell, units, implementation=implementation, name=f"rnn_{index}")(hidden)
        if dropout > 0.0:
            hidden = layers.Dropout(dropout, name=f"dropout_{index}")(hidden)
    logits = layers.Dense(vocab_size, dtype="float32", name="logits")(hidden)
    return keras.Model(tokens, logits, name=name or f"{cell}_language_model")


class StepLayer(NamedTuple):
    """One recurrent layer's weights, as the stepper uses them.

    ``kind`` is ``rnn`` (also the IRNN: see ``activation``), ``lstm`` or ``gru``; the
    weights are the model's own variables, laid out as in :mod:`musicgen.cells`.
    ``bias`` is ``None`` for a layer without bias.
    """

    kind: str
    kernel: Any
    recurrent_kernel: Any
    bias: Any
    activation: Callable


def _variable(weight):
    """The backend ``tf.Variable`` behind a Keras variable."""
    return getattr(weight, "value", weight)


def _step_layer(layer) -> StepLayer:
    cell = getattr(layer, "cell", None)
    if getattr(layer, "go_backwards", False):
        raise ConfigError(f"layer {layer.name!r} runs backwards; a language model cannot be stepped through it")
    if isinstance(cell, (cells.LSTMCell, keras.layers.LSTMCell)):
        kind = "lstm"
    elif isinstance(cell, (cells.GRUCell, keras.layers.GRUCell)):
        kind = "gru"
        if not cell.reset_after:
            raise ConfigError(f"layer {layer.name!r}: only GRUs with reset_after=True can be stepped")
    elif isinstance(cell, (cells.SimpleRNNCell, keras.layers.SimpleRNNCell)):
        kind = "rnn"
    else:
        raise ConfigError(f"layer {layer.name!r} is not a recurrent layer musicgen can step")
    recurrent_activation = getattr(cell, "recurrent_activation", keras.activations.sigmoid)
    if recurrent_activation is not keras.activations.sigmoid:
        raise ConfigError(f"layer {layer.name!r}: only sigmoid gates can be stepped")
    bias = _variable(cell.bias) if cell.use_bias else None
    return StepLayer(kind, _variable(cell.kernel), _variable(cell.recurrent_kernel), bias, cell.activation)


class LanguageModelStepper:
    """Run a model from :func:`build_language_model` one token at a time.

    Everything is plain TensorFlow on the model's own weight variables, so ``step`` can
    run inside a ``tf.function`` or ``tf.while_loop``, and later training of the model is
    seen at once. States are a tuple with one tuple per layer: ``(h,)`` for rnn and gru,
    ``(h, c)`` for lstm, each ``(batch, units)`` float32. Dropout is inactive (inference).

    Attributes: ``embedding`` (``(vocab, dim)`` table; the identity for a one-hot model),
    ``layers`` (tuple of :class:`StepLayer`), ``output_kernel``, ``output_bias``,
    ``vocab_size``.
    """

    def __init__(self, model: keras.Model):
        import tensorflow as tf

        try:
            embedding = model.get_layer("embedding")
            output = model.get_layer("logits")
        except ValueError as error:
            raise ConfigError(f"not a musicgen language model: {error}") from error
        if isinstance(embedding, OneHot):
            self.embedding = tf.eye(embedding.depth, dtype="float32")
        else:
            self.embedding = _variable(embedding.embeddings)
        recurrent = [layer for layer in model.layers if re.fullmatch(r"rnn_\d+", layer.name)]
        recurrent.sort(key=lambda layer: int(layer.name.split("_")[1]))
        if not recurrent:
            raise ConfigError("not a musicgen language model: it has no rnn_1 layer")
        self.model = model
        self.layers = tuple(_step_layer(layer) for layer in recurrent)
        self.output_kernel = _variable(output.kernel)
        self.output_bias = _variable(output.bias) if output.use_bias else None
        self.vocab_size = int(self.output_kernel.shape[-1])

    def initial_states(self, batch_size) -> tuple:
        """Zero states for ``batch_size`` sequences (a Python int or a scalar tensor)."""
        import tensorflow as tf

        states = []
        for layer in self.layers:
            units = int(layer.recurrent_kernel.shape[0])
            zeros = tf.zeros(tf.stack([batch_size, units]), dtype=layer.kernel.dtype)
            states.append((zeros, zeros) if layer.kind == "lstm" else (zeros,))
        return tuple(states)

    def input_projection_table(self):
        """``embedding @ kernel + input bias`` of the first layer: ``(vocab, gates * units)``.

        A sampler may gather rows of this table instead of embedding then projecting,
        and call :meth:`step_projected`.
        """
        return _project(self.layers[0], self.embedding)

    def step(self, tokens, states: tuple):
        """Advance by one token ``(batch,)``: returns ``(logits (batch, vocab), new states)``."""
        import tensorflow as tf

        inputs = tf.gather(self.embedding, tokens)
        return self.step_projected(_project(self.layers[0], inputs), states)

    def step_projected(self, projected, states: tuple):
        """:meth:`step` given the first layer's projected input ``(batch, gates * units)``."""
        new_states = []
        for index, (layer, state) in enumerate(zip(self.layers, states, strict=True)):
            if index > 0:
                projected = _project(layer, new_states[-1][0])
            new_states.append(_recurrence(layer, projected, state))
        return self.output_logits(new_states[-1][0]), tuple(new_states)

    def run_primer(self, tokens, states: tuple):
        """Feed ``tokens (batch, time)`` (time >= 1): returns ``(last logits, final states)``.

        Each layer projects all its inputs in one product, then scans over time.
        """
        import tensorflow as tf

        sequence = tf.transpose(tf.gather(self.embedding, tokens), [1, 0, 2])  # time-major
        final_states = []
        for layer, state in zip(self.layers, states, strict=True):
            projected = _project(layer, sequence)
            history = tf.scan(
                lambda carried, inputs, layer=layer: _recurrence(layer, inputs, carried),
                projected,
                initializer=tuple(state),
            )
            sequence = history[0]
            final_states.append(tuple(part[-1] for part in history))
        return self.output_logits(final_states[-1][0]), tuple(final_states)

    def output_logits(self, hidden):
        """Logits ``(batch, vocab)`` from the top layer's output ``hidden``."""
        import tensorflow as tf

        logits = tf.matmul(hidden, self.output_kernel)
        return logits if self.output_bias is None else logits + self.output_bias


def _project(layer: StepLayer, inputs):
    """``inputs @ kernel`` plus the input part of the bias, over the last axis."""
    import tensorflow as tf

    projected = tf.tensordot(inputs, layer.kernel, axes=1)
    if layer.bias is not None:
        projected = projected + (layer.bias[0] if layer.kind == "gru" else layer.bias)
    return projected


def _recurrence(layer: StepLayer, projected, state: tuple) -> tuple:
    """One step of ``layer`` from its projected input; returns the new state tuple."""
    import tensorflow as tf

    previous = state[0]
    from_state = tf.matmul(previous, layer.recurrent_kernel)
    if layer.kind == "rnn":
        return (layer.activation(projected + from_state),)
    if layer.kind == "lstm":
        z_i, z_f, z_c, z_o = tf.split(projected + from_state, 4, axis=-1)
        carry = tf.sigmoid(z_f) * state[1] + tf.sigmoid(z_i) * layer.activation(z_c)
        return (tf.sigmoid(z_o) * layer.activation(carry), carry)
    if layer.bias is not None:
        from_state = from_state + layer.bias[1]
    a_z, a_r, a_h = tf.split(projected, 3, axis=-1)
    m_z, m_r, m_h = tf.split(from_state, 3, axis=-1)
    update = tf.sigmoid(a_z + m_z)
    candidate = layer.activation(a_h + tf.sigmoid(a_r + m_r) * m_h)
    return (update * previous + (1.0 - update) * candidate,)
