"""Attention of a decoder over encoder outputs, as a serializable Keras layer.

The query comes from the decoder state, keys and values from the encoder outputs
(Luong et al. 2015, Bahdanau et al. 2015). Three scores are offered:

- ``"dot"``: ``score = q . k`` (Luong's dot; query and value widths must match);
- ``"general"``: ``score = (q W) . k`` (Luong's multiplicative score; any widths);
- ``"additive"``: ``score = v . tanh(q W_q + k W_k)`` (Bahdanau's additive score).

Padding positions of the value (``value_mask`` False) get zero weight, so a batch of
sentences padded to one length attends exactly as each sentence alone would.
"""

from __future__ import annotations

import keras
from keras import ops

from musicgen.errors import ConfigError

SCORES = ("dot", "general", "additive")


@keras.saving.register_keras_serializable(package="musicgen")
class Attention(keras.layers.Layer):
    """Attention weights and context vectors of queries over a sequence of values.

    Args:
        score: ``"dot"``, ``"general"`` or ``"additive"`` (see the module docstring).
        units: width of the hidden layer of the additive score (defaults to the query width).

    Call arguments:
        query: ``(batch, query_time, query_dim)`` decoder states.
        value: ``(batch, value_time, value_dim)`` encoder outputs (used as keys and values).
        value_mask: optional bool ``(batch, value_time)``; False marks padding.
        return_attention_scores: also return the weights ``(batch, query_time, value_time)``.

    Returns:
        The context ``(batch, query_time, value_dim)``, and the weights if asked.
    """

    def __init__(self, score: str = "general", units: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if score not in SCORES:
            raise ConfigError(f"attention score must be one of {', '.join(SCORES)}, got {score!r}")
        if units is not None and units <= 0:
            raise ConfigError(f"attention units must be positive, got {units}")
        self.score = score
        self.units = units
        self.supports_masking = False

    def build(self, query_shape, value_shape):
        query_dim, value_dim = int(query_shape[-1]), int(value_shape[-1])
        if self.score == "dot" and query_dim != value_dim:
            raise ConfigError(
                f"dot attention needs query and value of one width, got {query_dim} and {value_dim}; "
                "use score='general' or 'additive'"
            )
        if self.score == "general":
            self.kernel = self.add_weight(
                shape=(query_dim, value_dim), initializer="glorot_uniform", name="kernel"
            )
        elif self.score == "additive":
            units = self.units or query_dim
            self.query_kernel = self.add_weight(
                shape=(query_dim, units), initializer="glorot_uniform", name="query_kernel"
            )
            self.key_kernel = self.add_weight(
                shape=(value_dim, units), initializer="glorot_uniform", name="key_kernel"
            )
            self.score_vector = self.add_weight(
                shape=(units,), initializer="glorot_uniform", name="score_vector"
            )
        self.built = True

    def scores(self, query, value):
        """Unnormalised scores ``(batch, query_time, value_time)``."""
        if self.score == "dot":
            return ops.einsum("bqd,bvd->bqv", query, value)
        if self.score == "general":
            projected = ops.matmul(query, self.kernel)
            return ops.einsum("bqd,bvd->bqv", projected, value)
        projected_query = ops.matmul(query, self.query_kernel)[:, :, None, :]
        projected_keys = ops.matmul(value, self.key_kernel)[:, None, :, :]
        hidden = ops.tanh(projected_query + projected_keys)
        return ops.einsum("bqvu,u->bqv", hidden, self.score_vector)

    def call(self, query, value, value_mask=None, return_attention_scores: bool = False):
        scores = self.scores(query, value)
        if value_mask is not None:
            keep = ops.cast(value_mask, "bool")[:, None, :]
            scores = ops.where(keep, scores, ops.full_like(scores, -1e9))
        weights = ops.softmax(scores, axis=-1)
        context = ops.einsum("bqv,bvd->bqd", weights, value)
        if return_attention_scores:
            return context, weights
        return context

    def compute_output_shape(self, query_shape, value_shape):
        return (*query_shape[:-1], value_shape[-1])

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"score": self.score, "units": self.units})
        return config
