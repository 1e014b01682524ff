"""Keras objects saved inside the sentiment models, registered as ``musicgen>NAME``.

Registered names (not module paths) are what a ``.keras`` file refers to, so
``keras.saving.load_model(path, safe_mode=True)`` finds them once this module is imported.
Imports Keras: load it only where TensorFlow is wanted.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers, ops


@keras.saving.register_keras_serializable(package="musicgen")
def standardize_sentence(inputs):
    """Lower-case; keep letters, digits, in-word apostrophes, and ``!``/``?`` as own tokens.

    TensorFlow string ops, saved inside the model by its registered name
    ``musicgen>standardize_sentence`` (so ``safe_mode=True`` loading accepts it).
    """
    text = tf.strings.lower(inputs, encoding="utf-8")
    text = tf.strings.regex_replace(text, r"[!?]", r" \0 ")
    text = tf.strings.regex_replace(text, r"[^\p{L}\p{N}'!?]+", " ")
    return tf.strings.regex_replace(text, r"(^|\s)'+|'+(\s|$)", " ")


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
