"""musicgen's recurrent layer: ``keras.layers.RNN`` with a fused fast path.

:class:`Recurrent` is a drop-in ``keras.layers.RNN``. For LSTM, GRU (``reset_after=True``)
and SimpleRNN cells (tanh or relu) with Keras's weight layout it runs the sequence
through :mod:`musicgen.models.kernels`: input projections of all timesteps in one matrix
product, a lean time-major loop, and a hand-written backward pass whose weight
gradients are single large matrix products. Anything else (masks, recurrent dropout
while training, unknown cells, other activations) takes Keras's generic loop, so
behaviour never changes, only speed. ``product_dtype`` (``"bfloat16"``) runs the fused
loop's products in a lower precision, its states and gates staying in the layer's.
"""

from __future__ import annotations

import keras
from keras import ops

_CELL_KINDS = {"LSTMCell": "lstm", "GRUCell": "gru", "SimpleRNNCell": "rnn"}


def _activation_name(activation) -> str | None:
    if isinstance(activation, str):
        return activation
    return getattr(activation, "__name__", None)


def fast_path_kind(cell) -> str | None:
    """The fused kernel that can run ``cell`` (``"lstm"``, ``"gru"``, ``"rnn"``), else ``None``.

    Only Keras's own cells and musicgen's cells (same names, same weight layout) qualify;
    a subclass elsewhere may change the step and must keep the generic loop.
    """
    cell_type = type(cell)
    kind = _CELL_KINDS.get(cell_type.__name__)
    module = cell_type.__module__
    if kind is None or not (module.startswith("keras.") or module.startswith("musicgen.")):
        return None
    if not hasattr(cell, "units"):
        return None
    activation = _activation_name(getattr(cell, "activation", "tanh"))
    recurrent_activation = _activation_name(getattr(cell, "recurrent_activation", "sigmoid"))
    if kind == "rnn":
        return kind if activation in ("tanh", "relu") else None
    if activation != "tanh" or recurrent_activation != "sigmoid":
        return None
    if kind == "gru" and not getattr(cell, "reset_after", True):
        return None
    return kind


@keras.saving.register_keras_serializable(package="musicgen")
class Recurrent(keras.layers.RNN):
    """A ``keras.layers.RNN`` that runs LSTM, GRU and SimpleRNN cells through fused kernels.

    Outputs, states, ``go_backwards`` ordering, dropout semantics (one input mask per
    sequence, applied before the input projection) and serialization match
    ``keras.layers.RNN``; only the loop differs.

    Args:
        cell: an RNN cell (``musicgen.models.cells`` or ``keras.layers`` LSTM/GRU/SimpleRNN cells
            take the fast path; any other cell runs Keras's generic loop).
        return_sequences: return every timestep's output rather than the last.
        return_state: also return the final states.
        go_backwards: process the sequence in reverse (outputs in processing order).
        use_fast_path: set ``False`` to force Keras's generic loop (for comparisons).
        jit_kernels: compile the fused forward and backward loops with XLA on their own.
            Off by default: on CPU it measured slower than the plain kernels; with
            ``model.compile(jit_compile=True)`` the kernels are compiled with the model anyway.
    """

    def __init__(
        self,
        cell,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        use_fast_path: bool = True,
        jit_kernels: bool = False,
        **kwargs,
    ):
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            **kwargs,
        )
        self.use_fast_path = use_fast_path
        self.jit_kernels = jit_kernels
        # The fused loop's matrix products run in this dtype (None: the layer's own); a run's
        # choice (musicgen.models.precision), not part of the saved model.
        self.product_dtype: str | None = None

    def fast_path_applies(self, mask=None, training: bool = False) -> bool:
        """Whether a call with this ``mask`` and ``training`` takes the fused kernels."""
        if not self.use_fast_path or mask is not None or keras.backend.backend() != "tensorflow":
            return False
        if fast_path_kind(self.cell) is None:
            return False
        if training and getattr(self.cell, "recurrent_dropout", 0.0) > 0:
            return False
        return True

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        if not self.fast_path_applies(mask, training):
            return super().inner_loop(sequences, initial_state, mask, training=training)
        if training and getattr(self.cell, "dropout", 0.0) > 0:
            dropout_mask = self.cell.get_dropout_mask(sequences[:, 0, :])
            if isinstance(dropout_mask, (list, tuple)):
                # Keras's LSTMCell(implementation=1) draws one mask per gate.
                return super().inner_loop(sequences, initial_state, mask, training=training)
            sequences = sequences * ops.expand_dims(dropout_mask, 1)
        return self._fast_loop(sequences, list(initial_state))

    def _fast_loop(self, sequences, initial_state):
        import tensorflow as tf

        from musicgen.models import kernels

        cell = self.cell
        kind = fast_path_kind(cell)
        dtype = sequences.dtype
        weights = self.product_dtype or dtype  # cast once here: the kernels' products run in it
        kernel = tf.cast(cell.kernel, weights)
        recurrent_kernel = tf.cast(cell.recurrent_kernel, weights)
        bias = getattr(cell, "bias", None)
        if bias is None:
            columns = recurrent_kernel.shape[1]
            bias = tf.zeros([2, columns] if kind == "gru" else [columns], dtype)
        else:
            bias = tf.cast(bias, dtype)
        states = [tf.cast(state, dtype) for state in initial_state]

        inputs = tf.transpose(sequences, [1, 0, 2])
        if self.go_backwards:
            inputs = tf.reverse(inputs, [0])
        if kind == "rnn":
            kind = f"rnn_{_activation_name(cell.activation)}"
        sequence = kernels.sequence_function(kind, jit_compile=self.jit_kernels)
        outputs, *final_states = sequence(inputs, *states, kernel, recurrent_kernel, bias)
        last_output = final_states[0]
        outputs = tf.transpose(outputs, [1, 0, 2])
        return last_output, outputs, final_states

    def get_config(self) -> dict:
        config = super().get_config()
        config["use_fast_path"] = self.use_fast_path
        config["jit_kernels"] = self.jit_kernels
        return config
