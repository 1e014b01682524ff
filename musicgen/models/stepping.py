"""The step network: a language model's weights run one token at a time.

Sampling, beam search, infilling and the gradient diagnostics all advance a model token
by token while carrying its recurrent states; :class:`StepNetwork` is the one place that
does it. It reads the weights of a :func:`musicgen.models.language.build_language_model` model
(``implementation="custom"`` or ``"keras"``: both hold the same weights) and runs the
per-step cell arithmetic of :mod:`musicgen.models.kernels`, the same functions the fused
training layer's loop runs, in plain TensorFlow ops usable inside ``tf.function``,
``tf.while_loop`` and XLA.

What makes a step cheap: the first layer's input projection is folded into the
embedding table (``E @ W + b``, one row gather instead of a product per step); deeper
layers do separate input and recurrent products (no concatenation of ``[x, h]``), one
each per layer, whose sum is split into the gates that :mod:`musicgen.models.kernels`'s
element-wise updates (``lstm_update``, ``gru_update``) take.

The weights are a snapshot taken when the network is built: build a new one after
training further.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from musicgen.errors import CheckpointError
from musicgen.models import kernels


@dataclass(frozen=True)
class StepLayer:
    """One recurrent layer's weights in Keras's layout (LSTM gates i, f, c, o; GRU z, r, h).

    ``kind`` is ``lstm``, ``gru`` or ``rnn`` (the IRNN is an ``rnn`` with ``relu``);
    ``bias`` is zeros for a layer built without one (``(2, 3 * units)`` for the GRU).
    """

    kind: str
    activation: str
    kernel: np.ndarray
    recurrent_kernel: np.ndarray
    bias: np.ndarray

    @property
    def units(self) -> int:
        return int(self.recurrent_kernel.shape[0])


def read_layers(model: Any) -> tuple[np.ndarray, list[StepLayer], np.ndarray, np.ndarray]:
    """``(embedding table, recurrent layers, output kernel, output bias)`` of a language model.

    The embedding is the identity for a one-hot model. A model that is not a musicgen
    language model, or one whose layers cannot be stepped, is a :class:`CheckpointError`.
    """
    from musicgen.models.language import OneHot

    try:
        embedding = model.get_layer("embedding")
        output = model.get_layer("logits")
    except ValueError as error:
        raise CheckpointError(f"not a musicgen language model: {error}") from error
    if isinstance(embedding, OneHot):
        table = np.eye(embedding.depth, dtype=np.float32)
    else:
        table = np.asarray(embedding.embeddings.numpy(), np.float32)
    recurrent = [layer for layer in model.layers if re.fullmatch(r"rnn_\d+", layer.name)]
    recurrent.sort(key=lambda layer: int(layer.name.split("_")[1]))
    if not recurrent:
        raise CheckpointError("not a musicgen language model: it has no rnn_1 layer")
    output_kernel = np.asarray(output.kernel.numpy(), np.float32)
    output_bias = output.bias.numpy() if output.use_bias else np.zeros(output_kernel.shape[1])
    return table, [_step_layer(layer) for layer in recurrent], output_kernel, np.asarray(output_bias, np.float32)


def _step_layer(layer: Any) -> StepLayer:
    import keras

    from musicgen.models import cells

    cell = getattr(layer, "cell", None)
    if getattr(layer, "go_backwards", False):
        raise CheckpointError(f"layer {layer.name!r} runs backwards; a language model cannot be stepped through it")
    if isinstance(cell, (cells.LSTMCell, keras.layers.LSTMCell)):
        kind = "lstm"
    elif isinstance(cell, (cells.GRUCell, keras.layers.GRUCell)):
        kind = "gru"
        if not cell.reset_after:
            raise CheckpointError(f"layer {layer.name!r}: only GRUs with reset_after=True can be stepped")
    elif isinstance(cell, (cells.SimpleRNNCell, keras.layers.SimpleRNNCell)):
        kind = "rnn"
    else:
        raise CheckpointError(f"layer {layer.name!r} is not a recurrent layer musicgen can step")
    activation = getattr(cell.activation, "__name__", str(cell.activation))
    recurrent_activation = getattr(cell, "recurrent_activation", keras.activations.sigmoid)
    if recurrent_activation is not keras.activations.sigmoid:
        raise CheckpointError(f"layer {layer.name!r}: only sigmoid gates can be stepped")
    if activation not in (("tanh", "relu") if kind == "rnn" else ("tanh",)):
        raise CheckpointError(f"layer {layer.name!r}: unsupported activation {activation!r}")
    recurrent_kernel = np.asarray(cell.recurrent_kernel.numpy(), np.float32)
    columns = recurrent_kernel.shape[1]
    if cell.use_bias:
        bias = np.asarray(cell.bias.numpy(), np.float32)
    else:
        bias = np.zeros((2, columns) if kind == "gru" else (columns,), np.float32)
    return StepLayer(kind, activation, np.asarray(cell.kernel.numpy(), np.float32), recurrent_kernel, bias)


class StepNetwork:
    """A language model run one token at a time, carrying its recurrent states.

    States are a tuple with one tuple per layer: ``(h,)`` for rnn and gru, ``(h, c)`` for
    lstm, each ``(batch, units)`` float32. Dropout is inactive (inference). With
    ``precision="bfloat16"`` the recurrent layers' kernels are held, and multiplied, in
    bfloat16 (half the bytes to read per token); states, gates and logits stay float32.
    """

    def __init__(self, model: Any, precision: str = "float32") -> None:
        table, self.layers, output_kernel, output_bias = read_layers(model)
        self.vocab_size = int(output_kernel.shape[1])
        self.precision = precision
        weights = tf.bfloat16 if precision == "bfloat16" else tf.float32
        self._input_kernels: list[Any] = []
        self._recurrent: list[Any] = []
        self._candidate_biases: list[Any] = []
        for index, layer in enumerate(self.layers):
            bias = _input_bias(layer)
            if index == 0:  # the embedding and the first input projection, folded into one table
                self._input_table = tf.constant(table @ layer.kernel + bias)
            else:
                self._input_kernels.append((tf.constant(layer.kernel, weights), tf.constant(bias)))
            self._recurrent.append(tf.constant(layer.recurrent_kernel, weights))
            units = layer.units
            self._candidate_biases.append(tf.constant(layer.bias[1][2 * units:]) if layer.kind == "gru" else None)
        self._output_kernel = tf.constant(output_kernel)
        self._output_bias = tf.constant(output_bias)

    def initial_states(self, batch_size: Any) -> tuple:
        """Zero states for ``batch_size`` sequences (a Python int or a scalar tensor)."""
        states = []
        for layer in self.layers:
            zeros = tf.zeros(tf.stack([batch_size, layer.units]), tf.float32)
            states.append((zeros, zeros) if layer.kind == "lstm" else (zeros,))
        return tuple(states)

    def step(self, tokens: Any, states: tuple) -> tuple[Any, tuple]:
        """Feed ``tokens`` (int32 ``(batch,)``): logits ``(batch, vocab)`` and the new states."""
        new_states = []
        hidden = None
        for index, (layer, state) in enumerate(zip(self.layers, states, strict=True)):
            if index == 0:
                projected = tf.gather(self._input_table, tokens)
            else:
                kernel, bias = self._input_kernels[index - 1]
                projected = kernels.product(hidden, kernel) + bias
            # One recurrent product per layer: at sampling batch sizes it beats one per gate.
            from_state = kernels.product(state[0], self._recurrent[index])
            if layer.kind == "lstm":
                hidden, carry, _ = kernels.lstm_update(state[1], *tf.split(projected + from_state, 4, axis=-1))
                new_states.append((hidden, carry))
                continue
            if layer.kind == "gru":
                a_z, a_r, a_h = tf.split(projected, 3, axis=-1)
                m_z, m_r, m_h = tf.split(from_state, 3, axis=-1)
                hidden, _ = kernels.gru_update(state[0], a_z + m_z, a_r + m_r, a_h, m_h + self._candidate_biases[index])
            else:
                hidden = kernels.ACTIVATIONS[layer.activation](projected + from_state)
            new_states.append((hidden,))
        return self.output_logits(hidden), tuple(new_states)

    def output_logits(self, hidden: Any) -> Any:
        """Logits ``(batch, vocab)`` from the top layer's output."""
        return tf.matmul(hidden, self._output_kernel) + self._output_bias

    def run(self, tokens: Any, states: tuple | None = None) -> tuple[Any, tuple]:
        """Feed ``tokens`` ``(batch, time)`` one step at a time: the last logits and the states."""
        tokens = tf.convert_to_tensor(tokens, tf.int32)
        states = self.initial_states(tf.shape(tokens)[0]) if states is None else states
        logits = tf.zeros(tf.stack([tf.shape(tokens)[0], self.vocab_size]))

        def body(t: Any, logits: Any, states: tuple) -> tuple:
            logits, states = self.step(tokens[:, t], states)
            return t + 1, logits, states

        _, logits, states = tf.while_loop(lambda t, *_: t < tf.shape(tokens)[1], body, (0, logits, states))
        return logits, states


def _input_bias(layer: StepLayer) -> np.ndarray:
    """The bias added to a layer's input projection (the GRU's with z and r folded in)."""
    if layer.kind == "gru":
        return np.asarray(kernels.gru_folded_bias(layer.bias, layer.units), np.float32)
    return layer.bias
