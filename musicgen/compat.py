"""Every use of Keras's and TensorFlow's private API, in one place.

Each workaround names the version it was written against (Keras 3.15, TensorFlow 2.21)
and what it works around, so that it can be dropped when upstream changes. Nothing
else in musicgen imports ``keras.src`` or ``tensorflow.python``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

# Keras 3.15: keras.layers.RNN creates and resets the per-sequence dropout masks only for
# cells that are instances of this mixin (keras/src/layers/rnn/rnn.py), and the mixin has
# no public name, so musicgen's cells inherit it from its private module.
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

__all__ = ["DropoutRNNCell", "MultiWorkerStepFixes", "loss_tracker", "op_determinism", "unscale_for_replicas"]


def unscale_for_replicas(loss: Any) -> Any:
    """``loss`` times the replicas in sync: the per-replica scaling undone for reporting.

    Keras 3.15's own train step reports the loss through the private
    ``keras.src.losses.loss.unscale_loss_for_distribution``; this is the same arithmetic.
    """
    import tensorflow as tf

    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss * tf.cast(replicas, loss.dtype) if replicas > 1 else loss


def loss_tracker(model: Any) -> Any:
    """The ``Mean`` metric behind the ``loss`` that ``fit`` reports.

    Keras 3.15 keeps it in the private ``Model._loss_tracker``, which its default
    ``train_step`` updates; a ``train_step`` that adds to the default (musicgen's adds
    the gradient norm) must update it the same way, or ``fit`` reports no loss.
    """
    return model._loss_tracker


@contextlib.contextmanager
def op_determinism(enabled: bool) -> Iterator[None]:
    """Deterministic TensorFlow ops inside the block (on a CPU only), restored after it.

    TensorFlow 2.21 has a public switch on (``tf.config.experimental.enable_op_determinism``)
    but no public switch off or query; those are in ``tensorflow.python.framework.config``.
    On a GPU the deterministic kernels are slower or missing, so the flag is left alone.
    """
    import tensorflow as tf
    from tensorflow.python.framework.config import disable_op_determinism, is_op_determinism_enabled

    switch = enabled and not tf.config.list_physical_devices("GPU") and not is_op_determinism_enabled()
    if switch:
        tf.config.experimental.enable_op_determinism()
    try:
        yield
    finally:
        if switch:
            disable_op_determinism()


class MultiWorkerStepFixes:
    """Two fixes for ``fit`` under ``MultiWorkerMirroredStrategy`` in Keras 3.15 (mixed into the trainer).

    - Before the first step Keras builds the metrics from a real batch that it merges
      across replicas with ``strategy.reduce``, which fails for ``(inputs, targets)``
      integer batches under MultiWorkerMirroredStrategy; a small local batch of the same
      structure builds the same thing (``_maybe_symbolic_build`` is private).
    - Keras merges multi-worker step outputs with ``strategy.reduce(..., axis=0)``, which
      needs at least one dimension, so scalar logs are given one (the merged values are
      scalars again).
    """

    multi_worker = False

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        import tensorflow as tf

        if iterator is not None and data_batch is None:
            example = tf.zeros((1, 2), tf.int32)
            data_batch = (example, example)
        return super()._maybe_symbolic_build(data_batch=data_batch)

    def for_reduction(self, logs: dict) -> dict:
        """Step logs in the shape Keras's multi-worker merge needs."""
        import tensorflow as tf

        if not self.multi_worker:
            return logs
        return {name: tf.reshape(value, [1]) for name, value in logs.items()}
