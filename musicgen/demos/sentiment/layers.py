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


def _lengths(tokens):
    """Words per row of right-padded token ids ``(batch, time)`` (padding is id 0)."""
    return ops.sum(ops.cast(ops.not_equal(tokens, 0), "int32"), axis=1)


@keras.saving.register_keras_serializable(package="musicgen")
class TruncateTokens(layers.Layer):
    """Keep the first ``max_length`` token ids of each row: ``(batch, time)`` -> ``(batch, <= max_length)``."""

    def __init__(self, max_length: int, **kwargs):
        super().__init__(**kwargs)
        self.max_length = int(max_length)

    def call(self, tokens):
        return tokens[:, : self.max_length]

    def get_config(self) -> dict:
        return {**super().get_config(), "max_length": self.max_length}


@keras.saving.register_keras_serializable(package="musicgen")
class PrependToken(layers.Layer):
    """Put ``token_id`` (the start-of-sentence id) before each row: ``(batch, time)`` -> ``(batch, time + 1)``.

    A language model reads ``<s> w1 .. wn`` and predicts ``w1 .. wn </s>``; the classifier
    feeds its encoder the same way, so the encoder starts from the state it was trained in.
    """

    def __init__(self, token_id: int, **kwargs):
        super().__init__(**kwargs)
        self.token_id = int(token_id)

    def call(self, tokens):
        start = ops.full((ops.shape(tokens)[0], 1), self.token_id, dtype=tokens.dtype)
        return ops.concatenate([start, tokens], axis=1)

    def get_config(self) -> dict:
        return {**super().get_config(), "token_id": self.token_id}


@keras.saving.register_keras_serializable(package="musicgen")
class ReverseWithinLength(layers.Layer):
    """Reverse each row's words, keeping the padding on the right: ``a b c 0 0`` -> ``c b a 0 0``.

    The backward language model reads sentences this way, so right padding only ever
    follows the real words in both directions and no mask is needed (the recurrent
    layer keeps its fused fast path).
    """

    def call(self, tokens):
        return tf.reverse_sequence(tokens, _lengths(tokens), seq_axis=1, batch_axis=0)


@keras.saving.register_keras_serializable(package="musicgen")
class SentencePooling(layers.Layer):
    """Concat pooling (ULMFiT): the last, the maximum and the mean of the outputs after each word.

    Call on ``[outputs, tokens]``: ``outputs`` ``(batch, time + 1, units)`` of an encoder that
    read ``<s>`` then ``tokens`` ``(batch, time)`` (right-padded with 0). Step 0 (after ``<s>``
    alone) and the padding steps are left out; a row without words pools to its step 0
    and zeros. Returns ``(batch, 3 * units)``.
    """

    def call(self, inputs):
        outputs, tokens = inputs
        lengths = _lengths(tokens)
        steps = outputs[:, 1:, :]
        keep = ops.expand_dims(ops.arange(ops.shape(steps)[1]) < ops.expand_dims(lengths, 1), -1)
        last = tf.gather(outputs, lengths, axis=1, batch_dims=1)
        highest = ops.max(ops.where(keep, steps, ops.full_like(steps, -1e9)), axis=1)
        highest = ops.where(ops.any(keep, axis=1), highest, ops.zeros_like(highest))
        kept = ops.cast(keep, steps.dtype)
        mean = ops.sum(steps * kept, axis=1) / ops.maximum(ops.sum(kept, axis=1), 1.0)
        return ops.concatenate([last, highest, mean], axis=-1)

    def compute_output_shape(self, input_shape):
        outputs_shape = input_shape[0]
        return (outputs_shape[0], None if outputs_shape[2] is None else 3 * outputs_shape[2])
