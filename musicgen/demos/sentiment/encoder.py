"""The pretrained encoder's network: one word embedding, a forward and a backward recurrent stack.

The same builder makes the language models (:mod:`~musicgen.demos.sentiment.language_model`)
and the classifier's encoder (:mod:`~musicgen.demos.sentiment.finetuning`), so their layers
have the same names and shapes and weights move between them by name. The forward stack
reads ``<s> w1 .. wn``, the backward stack ``<s> wn .. w1``; right padding always follows
the words, so no mask is needed and musicgen's fused recurrent kernels apply.

Token ids follow ``TextVectorization``: 0 is padding, 1 an unknown word, then the
vocabulary, which starts with the two sentence markers (``<s>`` = 2, ``</s>`` = 3).
"""

from __future__ import annotations

import keras

from musicgen.demos.sentiment.config import PretrainConfig
from musicgen.demos.sentiment.layers import PrependToken, ReverseWithinLength
from musicgen.models import language

DIRECTIONS = ("forward", "backward")
START, END = "<s>", "</s>"  # standardisation never produces '<' or '>', so no word collides
SENTENCE_MARKERS = (START, END)
PAD_ID, UNKNOWN_ID, START_ID, END_ID = 0, 1, 2, 3
EMBEDDING = "embedding"


def recurrent_name(direction: str, index: int) -> str:
    """Name of the ``index``-th (from 1, bottom up) recurrent layer of ``direction``."""
    return f"{direction}_rnn_{index}"


def encoder_groups(num_layers: int) -> list[list[str]]:
    """The encoder's layer names in ULMFiT groups, top first: each recurrent level, then the embedding."""
    levels = [[recurrent_name(direction, index) for direction in DIRECTIONS] for index in range(num_layers, 0, -1)]
    return [*levels, [EMBEDDING]]


def encoder_layer_names(num_layers: int) -> list[str]:
    """Every encoder layer that holds weights."""
    return [name for group in encoder_groups(num_layers) for name in group]


def encode(tokens, vocabulary_size: int, config: PretrainConfig) -> dict[str, list[keras.KerasTensor]]:
    """Build the encoder on right-padded ids ``tokens`` ``(batch, time)``.

    Returns each direction's layer outputs, bottom up: the word vectors ``(batch, time + 1,
    embedding_dim)`` then each recurrent layer's ``(batch, time + 1, units)``; step ``t``
    has read ``<s>`` and ``t`` words (in that direction's order). Dropout (training only)
    drops whole words from the embedding and one mask per sentence of each layer's inputs
    and of the top layer's outputs (variational dropout, as in AWD-LSTM, without weight drop).
    """
    embedding = keras.layers.Embedding(vocabulary_size, config.embedding_dim, name=EMBEDDING)
    starts = {
        "forward": PrependToken(START_ID, name="forward_start")(tokens),
        "backward": PrependToken(START_ID, name="backward_start")(ReverseWithinLength(name="reverse")(tokens)),
    }
    outputs = {}
    for direction, ids in starts.items():
        hidden = keras.layers.Dropout(config.word_dropout, noise_shape=(None, None, 1),
                                      name=f"{direction}_word_dropout")(embedding(ids))
        levels = [hidden]
        for index in range(1, config.num_layers + 1):
            layer = language.recurrent_layer(config.cell, config.units, implementation=config.implementation,
                                           return_sequences=True, dropout=config.dropout,
                                           name=recurrent_name(direction, index))
            levels.append(layer(levels[-1]))
        levels[-1] = keras.layers.Dropout(config.dropout, noise_shape=(None, 1, config.units),
                                          name=f"{direction}_output_dropout")(levels[-1])
        outputs[direction] = levels
    return outputs


def copy_encoder_weights(source: keras.Model, target: keras.Model, num_layers: int) -> None:
    """Set every encoder layer of ``target`` to the weights of the same-named layer of ``source``."""
    for name in encoder_layer_names(num_layers):
        target.get_layer(name).set_weights(source.get_layer(name).get_weights())
