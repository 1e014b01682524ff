"""Recurrent layers and the token language model built from them.

:func:`recurrent_layer` is the one place a recurrent layer is made, for the music model
and for the demos: ``implementation="custom"`` runs musicgen's own cells
(:mod:`musicgen.models.cells`) through :class:`musicgen.models.recurrent.Recurrent`;
``implementation="keras"`` uses Keras's ``LSTM``/``GRU``/``SimpleRNN`` with settings
that keep the cuDNN kernels eligible on a GPU. Both hold the same weights in the same
order, so a model of one kind loads the weights of the other.

:class:`musicgen.models.stepping.StepNetwork` runs a built language model one token at a time.
"""

from __future__ import annotations

import numbers
from typing import Any

import keras
from keras import layers

from musicgen.errors import ConfigError
from musicgen.models.architecture import CELL_KINDS, IMPLEMENTATIONS
from musicgen.models.cells import make_cell
from musicgen.models.recurrent import Recurrent  # registers musicgen>Recurrent for load_model

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
    are tiny too, and an LSTM sits on the unigram plateau much longer (measured in
    docs/results.md).
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


def implementation_of(model: keras.Model) -> str:
    """``"custom"`` when the model's recurrent layers are musicgen's, ``"keras"`` when they are Keras's."""
    kinds = {"custom" if isinstance(layer, Recurrent) else "keras"
             for layer in model.layers if isinstance(layer, (Recurrent, layers.RNN))}
    if len(kinds) != 1:
        raise ConfigError(f"model {model.name} has {'no' if not kinds else 'mixed'} recurrent layers")
    return kinds.pop()


def with_implementation(model: keras.Model, implementation: str, config: Any) -> keras.Model:
    """``model`` with its recurrent layers run by ``implementation``, weights unchanged.

    Both implementations hold the same weights in the same order, so a model trained
    with cuDNN on a GPU runs through the fused layer on a CPU and the other way round.
    ``config`` gives the architecture (a :class:`~musicgen.training.config.TrainConfig`).
    """
    if implementation_of(model) == implementation:
        return model
    rebuilt = build_language_model(
        int(model.outputs[0].shape[-1]), cell=config.cell, units=config.units, num_layers=config.num_layers,
        embedding_dim=config.embedding_dim, dropout=config.dropout or 0.0, implementation=implementation,
        one_hot=config.one_hot, name=model.name,
    )
    rebuilt.set_weights(model.get_weights())
    return rebuilt
