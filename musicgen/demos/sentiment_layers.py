"""Keras layers of the sentiment demo (imports Keras: load it only where TensorFlow is wanted)."""

from __future__ import annotations

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="musicgen")
class MaskedGlobalMaxPooling1D(layers.Layer):
    """Maximum over the unmasked timesteps of ``(batch, time, features)`` -> ``(batch, features)``.

    Keras's ``GlobalMaxPooling1D`` ignores the mask, so the zeros a recurrent layer emits at
    padding steps could win the maximum. A row with every step masked pools to zeros.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.max(inputs, axis=1)
        keep = ops.expand_dims(ops.cast(mask, "bool"), -1)
        lowest = ops.full_like(inputs, -1e9)
        pooled = ops.max(ops.where(keep, inputs, lowest), axis=1)
        return ops.where(ops.any(keep, axis=1), pooled, ops.zeros_like(pooled))

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])
