"""The sequence-to-sequence model with attention (Spanish to English).

- Encoder: source embedding, then a bidirectional recurrent layer made of two of our
  recurrent layers. The backward one reads each sentence reversed *within its own
  length* (``tf.reverse_sequence``), so right padding only ever follows the real
  tokens in both directions: no masks are needed, the fast fused loop always applies,
  and a sentence encodes identically alone or in a padded batch.
- Bridge: the decoder's initial states are ``tanh(Dense([forward_last; backward_last]))``.
- Decoder: target embedding and one of our recurrent layers (teacher forcing in
  training), Luong-style attention of each decoder output over the encoder outputs
  (:class:`musicgen.demos.translation.attention.Attention`), ``tanh(Dense([output; context]))`` and the
  vocabulary logits.
- Stateful step interface for inference: :meth:`Seq2SeqTranslator.encode` once, then
  :meth:`Seq2SeqTranslator.decode_step` once per token, carrying the cell states; the
  step calls ``decoder.cell`` directly on the same weights.

The vocabularies and the English true-casing table are part of the model's config, so
one ``.keras`` file holds everything needed to translate.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf
from keras import layers, ops

from musicgen.demos.translation.attention import Attention
from musicgen.demos.translation.config import CELLS, IMPLEMENTATIONS
from musicgen.demos.translation.data import PAD_ID
from musicgen.errors import ConfigError


def make_recurrent_layer(kind: str, units: int, implementation: str, name: str, dropout: float = 0.0):
    """One recurrent layer returning sequences: our cells via ``musicgen.models.language``."""
    from musicgen.models.language import recurrent_layer

    return recurrent_layer(
        kind, units, implementation=implementation, return_sequences=True, dropout=dropout, name=name
    )


@keras.saving.register_keras_serializable(package="musicgen")
class Seq2SeqTranslator(keras.Model):
    """Encoder-decoder with attention; call on ``(source_ids, decoder_input_ids)`` -> logits."""

    def __init__(
        self,
        source_vocabulary: list[str],
        target_vocabulary: list[str],
        truecase: dict[str, str] | None = None,
        cell: str = "gru",
        units: int = 256,
        embedding_dim: int = 128,
        attention_score: str = "additive",
        dropout: float = 0.0,
        implementation: str = "custom",
        max_tokens: int = 7,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if cell not in CELLS:
            raise ConfigError(f"cell must be one of {', '.join(CELLS)}, got {cell!r}")
        if implementation not in IMPLEMENTATIONS:
            raise ConfigError(f"implementation must be one of {', '.join(IMPLEMENTATIONS)}, got {implementation!r}")
        if units <= 0 or embedding_dim <= 0:
            raise ConfigError(f"units and embedding_dim must be positive, got {units} and {embedding_dim}")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {dropout}")
        self.source_vocabulary = list(source_vocabulary)
        self.target_vocabulary = list(target_vocabulary)
        self.truecase = dict(truecase or {})
        self.cell_kind = cell
        self.units = units
        self.embedding_dim = embedding_dim
        self.attention_score = attention_score
        self.dropout_rate = dropout
        self.implementation = implementation
        self.max_tokens = max_tokens
        self.num_states = 2 if cell == "lstm" else 1

        self.source_embedding = layers.Embedding(len(self.source_vocabulary), embedding_dim, name="source_embedding")
        self.encoder_forward = make_recurrent_layer(cell, units, implementation, "encoder_forward", dropout)
        self.encoder_backward = make_recurrent_layer(cell, units, implementation, "encoder_backward", dropout)
        self.bridges = [layers.Dense(units, activation="tanh", name=f"bridge_{i}") for i in range(self.num_states)]
        self.target_embedding = layers.Embedding(len(self.target_vocabulary), embedding_dim, name="target_embedding")
        self.decoder = make_recurrent_layer(cell, units, implementation, "decoder", dropout)
        self.attention = Attention(score=attention_score, name="attention")
        self.combine = layers.Dense(units, activation="tanh", name="attention_combine")
        self.dropout = layers.Dropout(dropout, name="dropout")
        self.logits = layers.Dense(len(self.target_vocabulary), name="logits")

    # -- encoder -------------------------------------------------------------------------

    def encode(self, source_ids, training: bool = False):
        """Encoder outputs ``(batch, time, 2*units)``, source mask, initial decoder states."""
        source_ids = tf.convert_to_tensor(source_ids, dtype=tf.int32)
        mask = ops.not_equal(source_ids, PAD_ID)
        lengths = ops.maximum(ops.sum(ops.cast(mask, "int32"), axis=1), 1)
        embedded = self.dropout(self.source_embedding(source_ids), training=training)
        forward = self.encoder_forward(embedded, training=training)
        reversed_input = tf.reverse_sequence(embedded, lengths, seq_axis=1, batch_axis=0)
        backward = self.encoder_backward(reversed_input, training=training)
        backward = tf.reverse_sequence(backward, lengths, seq_axis=1, batch_axis=0)
        outputs = ops.concatenate([forward, backward], axis=-1)
        last = lengths - 1
        forward_last = tf.gather(forward, last, axis=1, batch_dims=1)
        backward_first = backward[:, 0]  # the backward layer's output after the whole sentence
        summary = ops.concatenate([forward_last, backward_first], axis=-1)
        states = [bridge(summary) for bridge in self.bridges]
        return outputs, mask, states

    # -- decoder -------------------------------------------------------------------------

    def _output_logits(self, decoder_outputs, encoder_outputs, mask, training: bool = False):
        context, weights = self.attention(
            decoder_outputs, encoder_outputs, value_mask=mask, return_attention_scores=True
        )
        combined = self.combine(ops.concatenate([decoder_outputs, context], axis=-1))
        return self.logits(self.dropout(combined, training=training)), weights

    def call(self, inputs, training: bool = False):
        source_ids, decoder_input_ids = inputs
        encoder_outputs, mask, states = self.encode(source_ids, training=training)
        embedded = self.dropout(self.target_embedding(decoder_input_ids), training=training)
        decoder_outputs = self.decoder(embedded, initial_state=states, training=training)
        logits, _ = self._output_logits(decoder_outputs, encoder_outputs, mask, training=training)
        return logits

    def decode_step(self, token_ids, states, encoder_outputs, mask):
        """One decoder step: ``(logits (batch, vocab), new_states, attention (batch, time))``."""
        embedded = self.target_embedding(token_ids)
        output, new_states = self.decoder.cell(embedded, list(states), training=False)
        if not isinstance(new_states, list | tuple):
            new_states = [new_states]
        logits, weights = self._output_logits(output[:, None, :], encoder_outputs, mask)
        return logits[:, 0], list(new_states), weights[:, 0]

    # -- serialisation -------------------------------------------------------------------

    def build(self, input_shape=None):
        """Create every weight by running a tiny batch through the model."""
        if self.built:
            return
        self.built = True  # before the call, which would otherwise build again
        dummy = ops.ones((1, 2), dtype="int32")
        self((dummy, dummy))

    def get_build_config(self) -> dict:
        return {"built": True}

    def build_from_config(self, config: dict) -> None:
        if config:
            self.build()

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "source_vocabulary": self.source_vocabulary,
            "target_vocabulary": self.target_vocabulary,
            "truecase": self.truecase,
            "cell": self.cell_kind,
            "units": self.units,
            "embedding_dim": self.embedding_dim,
            "attention_score": self.attention_score,
            "dropout": self.dropout_rate,
            "implementation": self.implementation,
            "max_tokens": self.max_tokens,
        }
