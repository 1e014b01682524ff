"""Recurrent cells written on ``keras.ops``: a simple (Elman) RNN, the LSTM and the GRU.

Each cell computes one time step, ``call(inputs, states) -> (output, new_states)``, and
runs inside ``keras.layers.RNN`` (or musicgen's faster ``recurrent.Recurrent``). Weights
are named and laid out exactly like Keras's built-in cells (``kernel``,
``recurrent_kernel``, ``bias``; LSTM gates in the order i, f, c, o; GRU gates z, r, h with
``reset_after=True`` and a ``(2, 3 * units)`` bias), so ``set_weights`` moves trained
weights between a musicgen layer and ``keras.layers.LSTM``/``GRU``/``SimpleRNN``.

Dropout follows Keras's ``DropoutRNNCell`` mixin: the RNN layer draws one input mask and
one recurrent mask per sequence (variational dropout, Gal and Ghahramani 2016), shared
by every time step and every gate, and applies them only when ``training``.
"""

from __future__ import annotations

import numbers
from typing import Any

import keras
from keras import activations, initializers, ops

from musicgen.compat import DropoutRNNCell
from musicgen.errors import ConfigError
from musicgen.models.architecture import CELL_KINDS


class _RecurrentCell(keras.layers.Layer, DropoutRNNCell):
    """Shared set-up of the three cells: sizes, initialisers, dropout and config."""

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        **kwargs,
    ):
        if isinstance(units, bool) or not isinstance(units, numbers.Integral) or units <= 0:
            raise ConfigError(f"a recurrent cell needs a positive integer number of units, got {units!r}")
        units = int(units)
        for label, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0.0 <= rate < 1.0:
                raise ConfigError(f"{label} must be in [0, 1), got {rate}")
        super().__init__(**kwargs)
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed=seed)

    def _add_weights(self, input_dim: int, gates: int, bias_shape: tuple[int, ...], bias_initializer) -> None:
        self.kernel = self.add_weight(
            shape=(input_dim, gates * self.units), name="kernel", initializer=self.kernel_initializer
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, gates * self.units),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
        )
        if self.use_bias:
            self.bias = self.add_weight(shape=bias_shape, name="bias", initializer=bias_initializer)
        else:
            self.bias = None

    def _dropped_inputs(self, inputs, previous_output, training: bool):
        """Apply this sequence's dropout masks (training only)."""
        if training and self.dropout > 0.0:
            inputs = inputs * self.get_dropout_mask(inputs)
        if training and self.recurrent_dropout > 0.0:
            previous_output = previous_output * self.get_recurrent_dropout_mask(previous_output)
        return inputs, previous_output

    def get_initial_state(self, batch_size=None):
        sizes = self.state_size if isinstance(self.state_size, list) else [self.state_size]
        return [ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in sizes]

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="musicgen")
class SimpleRNNCell(_RecurrentCell):
    """The simple (Elman) recurrent cell.

    ``h_t = activation(x_t W_xh + h_{t-1} W_hh + b)``, with ``W_xh = kernel``,
    ``W_hh = recurrent_kernel`` and ``b = bias``. ``activation`` is tanh by default;
    ReLU with an identity ``recurrent_initializer`` gives the IRNN of Le, Jaitly and
    Hinton (2015), which starts out copying its state forward unchanged.
    """

    def __init__(self, units: int, activation: Any = "tanh", **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        self.state_size = units
        self.output_size = units

    def build(self, input_shape):
        self._add_weights(input_shape[-1], 1, (self.units,), self.bias_initializer)
        self.built = True

    def call(self, inputs, states, training: bool = False):
        nested = isinstance(states, (list, tuple))
        previous_output = states[0] if nested else states
        inputs, previous_output = self._dropped_inputs(inputs, previous_output, training)
        preactivation = ops.matmul(inputs, self.kernel) + ops.matmul(previous_output, self.recurrent_kernel)
        if self.use_bias:
            preactivation = preactivation + self.bias
        output = self.activation(preactivation)
        return output, [output] if nested else output


@keras.saving.register_keras_serializable(package="musicgen")
class LSTMCell(_RecurrentCell):
    """Long short-term memory (Hochreiter and Schmidhuber 1997, with a forget gate).

    With ``[.]`` splitting a row into four blocks in the order i, f, c, o::

        z   = x_t W + h_{t-1} U + b                      (W = kernel, U = recurrent_kernel)
        i_t = sigmoid(z_i)    input gate
        f_t = sigmoid(z_f)    forget gate
        g_t = tanh(z_c)       candidate cell value
        o_t = sigmoid(z_o)    output gate
        c_t = f_t * c_{t-1} + i_t * g_t
        h_t = o_t * tanh(c_t)

    The state is ``[h_t, c_t]``. ``unit_forget_bias`` (default, as in Keras) starts the
    forget-gate bias at 1 so the cell remembers by default (Jozefowicz et al. 2015).
    """

    def __init__(self, units: int, activation: Any = "tanh", unit_forget_bias: bool = True, **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        self.unit_forget_bias = unit_forget_bias
        self.recurrent_activation = activations.sigmoid  # gates are always sigmoid
        self.state_size = [units, units]
        self.output_size = units

    def build(self, input_shape):
        bias_initializer = self.bias_initializer
        if self.unit_forget_bias:
            base = self.bias_initializer

            def bias_initializer(shape, dtype=None):
                units = self.units
                return ops.concatenate(
                    [
                        base((units,), dtype=dtype),
                        ops.ones((units,), dtype=dtype),
                        base((2 * units,), dtype=dtype),
                    ]
                )

        self._add_weights(input_shape[-1], 4, (4 * self.units,), bias_initializer)
        self.built = True

    def call(self, inputs, states, training: bool = False):
        previous_output, previous_carry = states[0], states[1]
        inputs, recurrent_inputs = self._dropped_inputs(inputs, previous_output, training)
        z = ops.matmul(inputs, self.kernel) + ops.matmul(recurrent_inputs, self.recurrent_kernel)
        if self.use_bias:
            z = z + self.bias
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        carry = ops.sigmoid(z_f) * previous_carry + ops.sigmoid(z_i) * self.activation(z_c)
        output = ops.sigmoid(z_o) * self.activation(carry)
        return output, [output, carry]

    def get_config(self) -> dict:
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


@keras.saving.register_keras_serializable(package="musicgen")
class GRUCell(_RecurrentCell):
    """Gated recurrent unit (Cho et al. 2014), reset gate applied after the product.

    With blocks in the order z, r, h, ``b_x = bias[0]`` and ``b_h = bias[1]``::

        a   = x_t W + b_x                                (W = kernel)
        m   = h_{t-1} U + b_h                            (U = recurrent_kernel)
        z_t = sigmoid(a_z + m_z)        update gate
        r_t = sigmoid(a_r + m_r)        reset gate
        n_t = tanh(a_h + r_t * m_h)     candidate state
        h_t = z_t * h_{t-1} + (1 - z_t) * n_t

    This is Keras's default ``reset_after=True`` variant (the one cuDNN implements).
    """

    reset_after = True

    def __init__(self, units: int, activation: Any = "tanh", reset_after: bool = True, **kwargs):
        if not reset_after:
            raise ConfigError("musicgen's GRUCell implements only reset_after=True (Keras's default)")
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = activations.sigmoid  # gates are always sigmoid
        self.state_size = units
        self.output_size = units

    def build(self, input_shape):
        self._add_weights(input_shape[-1], 3, (2, 3 * self.units), self.bias_initializer)
        self.built = True

    def call(self, inputs, states, training: bool = False):
        nested = isinstance(states, (list, tuple))
        previous_output = states[0] if nested else states
        inputs, recurrent_inputs = self._dropped_inputs(inputs, previous_output, training)
        from_inputs = ops.matmul(inputs, self.kernel)
        from_state = ops.matmul(recurrent_inputs, self.recurrent_kernel)
        if self.use_bias:
            from_inputs = from_inputs + self.bias[0]
            from_state = from_state + self.bias[1]
        a_z, a_r, a_h = ops.split(from_inputs, 3, axis=-1)
        m_z, m_r, m_h = ops.split(from_state, 3, axis=-1)
        update = ops.sigmoid(a_z + m_z)
        reset = ops.sigmoid(a_r + m_r)
        candidate = self.activation(a_h + reset * m_h)
        output = update * previous_output + (1.0 - update) * candidate
        return output, [output] if nested else output

    def get_config(self) -> dict:
        return {**super().get_config(), "reset_after": True}


def make_cell(kind: str, units: int, dropout: float = 0.0, recurrent_dropout: float = 0.0, **kwargs) -> _RecurrentCell:
    """A cell by name: ``rnn`` (tanh), ``irnn`` (ReLU, identity recurrent init), ``lstm``, ``gru``."""
    if kind == "rnn":
        return SimpleRNNCell(units, dropout=dropout, recurrent_dropout=recurrent_dropout, **kwargs)
    if kind == "irnn":
        kwargs.setdefault("activation", "relu")
        kwargs.setdefault("recurrent_initializer", "identity")
        return SimpleRNNCell(units, dropout=dropout, recurrent_dropout=recurrent_dropout, **kwargs)
    if kind == "lstm":
        return LSTMCell(units, dropout=dropout, recurrent_dropout=recurrent_dropout, **kwargs)
    if kind == "gru":
        return GRUCell(units, dropout=dropout, recurrent_dropout=recurrent_dropout, **kwargs)
    raise ConfigError(f"unknown cell kind {kind!r}; choose one of {', '.join(CELL_KINDS)}")
