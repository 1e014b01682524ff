"""The sentiment networks: the recurrent classifier and the bag-of-words baseline.

Raw sentence -> ``TextVectorization`` (inside the saved model, so it takes strings)
-> embedding -> ``Bidirectional(recurrent_layer(...))`` -> pooling over time -> sigmoid
probability of "positive". ``config.members`` such stacks, each with its own weights,
can share one vectorizer and average their probabilities (a seed ensemble in one file).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

import musicgen.models.cells  # noqa: F401  (registers the cells for deserialisation)
import musicgen.models.recurrent  # noqa: F401  (registers musicgen>Recurrent)
from musicgen.demos.sentiment.config import SentimentConfig
from musicgen.demos.sentiment.layers import MaskedGlobalMaxPooling1D, standardize_sentence
from musicgen.errors import CheckpointError
from musicgen.models import language


def recurrent_layer(kind: str, units: int, implementation: str, name: str,
                    return_sequences: bool = False) -> keras.layers.Layer:
    """The one place this demo gets a recurrent layer: :func:`musicgen.models.language.recurrent_layer`."""
    return language.recurrent_layer(kind, units, implementation=implementation, return_sequences=return_sequences,
                                  name=name)


def _member(tokens, vocabulary_size: int, config: SentimentConfig, suffix: str):
    """One embedding -> bidirectional encoder -> pooling -> sigmoid stack on ``tokens``."""
    layers = keras.layers
    vectors = layers.Embedding(vocabulary_size, config.embedding_dim, mask_zero=True, name=f"embedding{suffix}")(tokens)
    # Drops whole word vectors: a strong regulariser for a few thousand sentences.
    vectors = layers.SpatialDropout1D(config.embedding_dropout, name=f"embedding_dropout{suffix}")(vectors)
    encoder = recurrent_layer(config.cell, config.units, config.implementation, name=f"encoder{suffix}",
                              return_sequences=config.pooling != "last")
    encoded = layers.Bidirectional(encoder, name=f"bidirectional{suffix}")(vectors)
    # Pooling over every (unmasked) step lets a word anywhere in the sentence count fully.
    pooled = []
    if config.pooling in ("max", "max_mean"):
        pooled.append(MaskedGlobalMaxPooling1D(name=f"max_pool{suffix}")(encoded))
    if config.pooling in ("mean", "max_mean"):
        pooled.append(layers.GlobalAveragePooling1D(name=f"mean_pool{suffix}")(encoded))
    if len(pooled) == 2:
        encoded = layers.Concatenate(name=f"pooled{suffix}")(pooled)
    elif pooled:
        encoded = pooled[0]
    encoded = layers.Dropout(config.dropout, name=f"dropout{suffix}")(encoded)
    return layers.Dense(1, activation="sigmoid", name=f"probability{suffix}")(encoded)


def build_models(vocabulary: Sequence[str], config: SentimentConfig) -> tuple[keras.Model, keras.Model]:
    """The classifier and the model that trains it, sharing every layer.

    The classifier maps strings ``(batch,)`` to the probability ``(batch, 1)`` of positive:
    the mean of its members' probabilities. The training model outputs every member's
    probability ``(batch, members)``, so each member is fitted to the labels on its own
    (an ensemble, not one wide model); with one member both are the same network.
    """
    inputs = keras.Input(shape=(), dtype="string", name="text")
    vectorize = keras.layers.TextVectorization(
        standardize=standardize_sentence,
        output_mode="int",
        output_sequence_length=config.max_length,
        vocabulary=list(vocabulary),
        name="vectorize",
    )
    tokens = vectorize(inputs)
    if config.members == 1:
        outputs = _member(tokens, len(vocabulary) + 2, config, "")
        model = keras.Model(inputs, outputs, name="sentiment_classifier")
        return model, model
    members = [_member(tokens, len(vocabulary) + 2, config, f"_{index}") for index in range(1, config.members + 1)]
    every = keras.layers.Concatenate(name="member_probabilities")(members)
    average = keras.layers.Average(name="probability")(members)
    return (keras.Model(inputs, average, name="sentiment_classifier"),
            keras.Model(inputs, every, name="sentiment_members"))


def build_classifier(vocabulary: Sequence[str], config: SentimentConfig) -> keras.Model:
    """Strings ``(batch,)`` to the probability ``(batch, 1)`` that each is positive."""
    return build_models(vocabulary, config)[0]


def encoders(model: keras.Model) -> list[keras.layers.Layer]:
    """The classifier's ``Bidirectional`` encoder layers, one per member."""
    return [layer for layer in model.layers if layer.name.startswith("bidirectional")]


def build_baseline(vocabulary: Sequence[str], config: SentimentConfig) -> keras.Model:
    """Bag-of-words logistic regression: multi-hot word vector -> Dense sigmoid (L2-regularised)."""
    inputs = keras.Input(shape=(), dtype="string", name="text")
    bag = keras.layers.TextVectorization(
        standardize=standardize_sentence, output_mode="multi_hot", vocabulary=list(vocabulary), name="bag_of_words"
    )(inputs)
    outputs = keras.layers.Dense(
        1, activation="sigmoid", kernel_regularizer=keras.regularizers.L2(config.baseline_l2), name="probability"
    )(bag)
    return keras.Model(inputs, outputs, name="bag_of_words_baseline")


def load_model(path: Path) -> keras.Model:
    """A saved sentiment model (strings in), loaded in safe mode; ``CheckpointError`` if unusable."""
    if not path.is_file():
        raise CheckpointError(f"{path}: missing")
    try:
        model = keras.saving.load_model(path, safe_mode=True, compile=False)  # inference only
    except Exception as error:  # Keras raises many types for a damaged archive
        raise CheckpointError(f"{path}: cannot load: {type(error).__name__}: {error}") from None
    if not isinstance(model, keras.Model) or model.inputs[0].dtype != "string":
        raise CheckpointError(f"{path}: not a sentiment model (it must take strings)")
    return model


def predict_probabilities(model: keras.Model, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
    """The model's probability of "positive" for each text, ``(len(texts),)``, in batches."""
    outputs = [
        model(tf.constant(list(texts[start : start + batch_size]), dtype=tf.string), training=False)
        for start in range(0, len(texts), batch_size)
    ]
    return np.concatenate([np.asarray(output) for output in outputs]).reshape(-1)
