"""Sentiment demo, data and models: reading the labelled sentences, the config, the networks.

Raw sentence -> ``TextVectorization`` (inside the saved model, so it takes strings)
-> embedding -> ``Bidirectional(recurrent_layer(...))`` -> pooling over time -> sigmoid
probability of "positive". ``config.members`` such stacks, each with its own weights,
can share one vectorizer and average their probabilities (a seed ensemble in one file).
Training, evaluation and prediction live in :mod:`musicgen.demos.sentiment`.

No TensorFlow import at module import time (the CLI reads :class:`SentimentConfig`).
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from musicgen import fileio
from musicgen.demos import text as text_utils
from musicgen.errors import CheckpointError, ConfigError, DataError
from musicgen.paths import SENTIMENT_DATA_DIR
from musicgen.splits import DEFAULT_FRACTIONS, check_fractions

if TYPE_CHECKING:
    import keras

CELLS = ("rnn", "irnn", "lstm", "gru")
IMPLEMENTATIONS = ("custom", "keras")
POOLINGS = ("last", "max", "mean", "max_mean")
LABEL_NAMES = ("negative", "positive")
DATA_FILES = ("amazon_cells_labelled.txt", "imdb_labelled.txt", "yelp_labelled.txt")


@dataclass(frozen=True)
class Example:
    """One labelled sentence; ``source`` is the file stem (``amazon_cells``, ``imdb``, ``yelp``)."""

    text: str
    label: int
    source: str



@dataclass
class SentimentConfig:
    """Every training default in one place."""

    cell: str = "lstm"
    implementation: str = "custom"
    units: int = 32
    embedding_dim: int = 32
    pooling: str = "max_mean"
    members: int = 1
    max_tokens: int = 4000
    min_count: int = 2
    max_length: int = 48
    embedding_dropout: float = 0.4
    dropout: float = 0.4
    epochs: int = 25
    batch_size: int = 32
    learning_rate: float = 1e-3
    patience: int = 4
    baseline_l2: float = 1e-3
    baseline_learning_rate: float = 1e-2
    baseline_epochs: int = 40
    refit: bool = True
    seed: int = 0
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS
    salt: str = ""

    def validate(self) -> None:
        """Raise ``ConfigError`` for out-of-range values."""
        if self.cell not in CELLS:
            raise ConfigError(f"cell must be one of {', '.join(CELLS)}, got {self.cell!r}")
        if self.implementation not in IMPLEMENTATIONS:
            raise ConfigError(f"implementation must be custom or keras, got {self.implementation!r}")
        if self.pooling not in POOLINGS:
            raise ConfigError(f"pooling must be one of {', '.join(POOLINGS)}, got {self.pooling!r}")
        for name in ("units", "embedding_dim", "members", "max_tokens", "min_count", "max_length", "epochs",
                     "batch_size", "patience", "baseline_epochs"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("embedding_dropout", "dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        for name in ("learning_rate", "baseline_learning_rate"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        if self.baseline_l2 < 0:
            raise ConfigError(f"baseline_l2 must not be negative, got {self.baseline_l2}")
        check_fractions(self.fractions)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SentimentConfig:
        known = {item.name for item in dataclasses.fields(cls)}
        values = {key: value for key, value in values.items() if key in known}
        if "fractions" in values:
            values["fractions"] = tuple(values["fractions"])
        return cls(**values)


# ----------------------------------------------------------------------------- data


def load_examples(data_dir: str | os.PathLike = SENTIMENT_DATA_DIR) -> list[Example]:
    """Read every ``*_labelled.txt`` file in ``data_dir`` (``sentence<TAB>label`` lines).

    Sentences are normalised (:func:`musicgen.demos.text.normalize_text`); a label other
    than 0 or 1 or an empty sentence raises ``DataError`` with the file and line.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: no such data directory")
    paths = sorted(data_dir.glob("*_labelled.txt"))
    if not paths:
        raise DataError(f"{data_dir}: no *_labelled.txt files (expected {', '.join(DATA_FILES)})")
    examples = []
    for path in paths:
        source = path.name.removesuffix("_labelled.txt")
        for number, line in enumerate(text_utils.read_lines(path), start=1):
            if not line.strip():
                continue
            sentence, separator, label = line.rpartition("\t")
            if not separator or label.strip() not in ("0", "1"):
                raise DataError(f"{path}: line {number}: expected 'sentence<TAB>0' or 'sentence<TAB>1'")
            sentence = text_utils.normalize_text(sentence)
            if not sentence:
                raise DataError(f"{path}: line {number}: empty sentence")
            examples.append(Example(sentence, int(label), source))
    return examples


def split_examples(
    examples: Sequence[Example], fractions: Sequence[float] = DEFAULT_FRACTIONS, salt: str = ""
) -> dict[str, list[Example]]:
    """Deterministic train/validation/test split by a stable hash of each (case-folded) sentence."""
    return text_utils.split_items(
        examples, key=lambda example: text_utils.split_key(example.text), fractions=fractions, salt=salt
    )


def data_fingerprint(data_dir: str | os.PathLike) -> dict[str, str]:
    """SHA-256 of each data file, recorded in the checkpoint."""
    return {path.name: fileio.sha256_file(path) for path in sorted(Path(data_dir).glob("*_labelled.txt"))}


# ----------------------------------------------------------------------------- model


def standardize_sentence(inputs):
    """Lower-case; keep letters, digits, in-word apostrophes, and ``!``/``?`` as own tokens.

    TensorFlow string ops, saved inside the model by its registered name
    ``musicgen>standardize_sentence`` (so ``safe_mode=True`` loading accepts it).
    """
    import tensorflow as tf

    text = tf.strings.lower(inputs, encoding="utf-8")
    text = tf.strings.regex_replace(text, r"[!?]", r" \0 ")
    text = tf.strings.regex_replace(text, r"[^\p{L}\p{N}'!?]+", " ")
    return tf.strings.regex_replace(text, r"(^|\s)'+|'+(\s|$)", " ")


def _keras():
    """Import Keras (and TensorFlow) on first use; register this demo's serialisable objects."""
    import keras

    import musicgen.demos.sentiment_layers  # noqa: F401  (registers musicgen>MaskedGlobalMaxPooling1D)

    if keras.saving.get_registered_object("musicgen>standardize_sentence") is None:
        keras.saving.register_keras_serializable(package="musicgen")(standardize_sentence)
    return keras


def words_of(texts: Sequence[str]) -> list[list[str]]:
    """The tokens the model sees for each text (same standardisation and whitespace split)."""
    import tensorflow as tf

    standardized = standardize_sentence(tf.constant(list(texts), dtype=tf.string))
    return [[word.decode("utf-8") for word in row] for row in tf.strings.split(standardized).to_list()]


def build_vocabulary(texts: Sequence[str], max_tokens: int, min_count: int) -> list[str]:
    """The most frequent words seen at least ``min_count`` times, at most ``max_tokens - 2``.

    Index 0 is padding and 1 the out-of-vocabulary token, so the vocabulary leaves room
    for both. Ties are broken alphabetically so the result is deterministic.
    """
    counts = Counter(word for words in words_of(texts) for word in words)
    ranked = sorted((word for word, count in counts.items() if count >= min_count), key=lambda w: (-counts[w], w))
    return ranked[: max(0, max_tokens - 2)]


def recurrent_layer(kind: str, units: int, implementation: str, name: str,
                    return_sequences: bool = False) -> keras.layers.Layer:
    """The one place this demo gets a recurrent layer: :func:`musicgen.models.recurrent_layer`."""
    from musicgen import models

    return models.recurrent_layer(kind, units, implementation=implementation, return_sequences=return_sequences,
                                  name=name)


def _member(tokens, vocabulary_size: int, config: SentimentConfig, suffix: str):
    """One embedding -> bidirectional encoder -> pooling -> sigmoid stack on ``tokens``."""
    from musicgen.demos import sentiment_layers

    layers = _keras().layers
    vectors = layers.Embedding(vocabulary_size, config.embedding_dim, mask_zero=True, name=f"embedding{suffix}")(tokens)
    # Drops whole word vectors: a strong regulariser for a few thousand sentences.
    vectors = layers.SpatialDropout1D(config.embedding_dropout, name=f"embedding_dropout{suffix}")(vectors)
    encoder = recurrent_layer(config.cell, config.units, config.implementation, name=f"encoder{suffix}",
                              return_sequences=config.pooling != "last")
    encoded = layers.Bidirectional(encoder, name=f"bidirectional{suffix}")(vectors)
    # Pooling over every (unmasked) step lets a word anywhere in the sentence count fully.
    pooled = []
    if config.pooling in ("max", "max_mean"):
        pooled.append(sentiment_layers.MaskedGlobalMaxPooling1D(name=f"max_pool{suffix}")(encoded))
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
    keras = _keras()
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
    keras = _keras()
    inputs = keras.Input(shape=(), dtype="string", name="text")
    bag = keras.layers.TextVectorization(
        standardize=standardize_sentence, output_mode="multi_hot", vocabulary=list(vocabulary), name="bag_of_words"
    )(inputs)
    outputs = keras.layers.Dense(
        1, activation="sigmoid", kernel_regularizer=keras.regularizers.L2(config.baseline_l2), name="probability"
    )(bag)
    return keras.Model(inputs, outputs, name="bag_of_words_baseline")


def _load_model(path: Path) -> keras.Model:
    import musicgen.cells  # noqa: F401  (registers the cells and the recurrent layer for deserialisation)
    import musicgen.recurrent  # noqa: F401

    keras = _keras()

    if not path.is_file():
        raise CheckpointError(f"{path}: missing")
    try:
        model = keras.saving.load_model(path, safe_mode=True, compile=False)  # inference only
    except Exception as error:  # Keras raises many types for a damaged archive
        raise CheckpointError(f"{path}: cannot load: {type(error).__name__}: {error}") from None
    if not isinstance(model, keras.Model) or model.inputs[0].dtype != "string":
        raise CheckpointError(f"{path}: not a sentiment model (it must take strings)")
    return model
