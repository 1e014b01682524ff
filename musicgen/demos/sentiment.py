"""Sentiment demo: a bidirectional many-to-one recurrent classifier on UCI labelled sentences.

Raw sentence -> ``TextVectorization`` (inside the saved model, so it takes strings)
-> embedding -> ``Bidirectional(recurrent_layer(...))`` -> sigmoid probability of
"positive". A bag-of-words logistic regression on the same split is trained beside it:
it scores well on this data but is blind to word order, which the evaluation shows by
shuffling the words of each test sentence.

Checkpoint directory: ``model.keras``, ``baseline.keras``, ``config.json``,
``history.json``, ``metrics.json``.
"""

from __future__ import annotations

import dataclasses
import os
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from musicgen import fileio
from musicgen.demos import text as text_utils
from musicgen.errors import CheckpointError, ConfigError, DataError
from musicgen.paths import SENTIMENT_CHECKPOINT, SENTIMENT_DATA_DIR
from musicgen.splits import DEFAULT_FRACTIONS, SPLIT_NAMES, check_fractions

if TYPE_CHECKING:
    import keras

CHECKPOINT_FORMAT = "musicgen-sentiment"
CHECKPOINT_VERSION = 1
CELLS = ("rnn", "irnn", "lstm", "gru")
IMPLEMENTATIONS = ("custom", "keras")
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
        for name in ("units", "embedding_dim", "max_tokens", "min_count", "max_length", "epochs", "batch_size", "patience", "baseline_epochs"):
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
    """Import Keras (and TensorFlow) on first use and register this module's serialisable function."""
    import keras

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


def recurrent_layer(kind: str, units: int, implementation: str, name: str) -> keras.layers.Layer:
    """The one place this demo gets a recurrent layer: :func:`musicgen.models.recurrent_layer`."""
    from musicgen import models

    return models.recurrent_layer(kind, units, implementation=implementation, return_sequences=False, name=name)


def build_classifier(vocabulary: Sequence[str], config: SentimentConfig) -> keras.Model:
    """Strings ``(batch,)`` to the probability ``(batch, 1)`` that each is positive."""
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
    vectors = keras.layers.Embedding(
        len(vocabulary) + 2, config.embedding_dim, mask_zero=True, name="embedding"
    )(tokens)
    # Drops whole word vectors: a strong regulariser for a few thousand sentences.
    vectors = keras.layers.SpatialDropout1D(config.embedding_dropout, name="embedding_dropout")(vectors)
    encoder = recurrent_layer(config.cell, config.units, config.implementation, name="encoder")
    encoded = keras.layers.Bidirectional(encoder, name="bidirectional")(vectors)
    encoded = keras.layers.Dropout(config.dropout, name="dropout")(encoded)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="probability")(encoded)
    return keras.Model(inputs, outputs, name="sentiment_classifier")


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


# ----------------------------------------------------------------------------- training


@dataclass
class TrainResult:
    """What :func:`train_sentiment` produced: the trained classifier, where it was saved, its scores."""

    classifier: SentimentClassifier
    out_dir: Path
    metrics: dict[str, Any]
    history: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    seconds: float = 0.0


def _dataset(examples: Sequence[Example], batch_size: int, shuffle_seed: int | None = None):
    import tensorflow as tf

    texts = tf.constant([example.text for example in examples], dtype=tf.string)
    labels = tf.constant([[float(example.label)] for example in examples], dtype=tf.float32)
    dataset = tf.data.Dataset.from_tensor_slices((texts, labels))
    if shuffle_seed is not None:
        dataset = dataset.shuffle(len(examples), seed=shuffle_seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size)


def _fit(
    model: keras.Model,
    splits: dict[str, list[Example]],
    config: SentimentConfig,
    epochs: int,
    learning_rate: float,
    description: str,
    progress: bool,
) -> dict[str, list[float]]:
    """Adam on binary cross-entropy; early stopping on validation accuracy restores the best weights.

    Only the train split is fitted and only the validation split selects; test is never seen.
    """
    import sys

    from tqdm import tqdm

    keras = _keras()
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="binary_crossentropy",
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy")],
    )
    callbacks: list[keras.callbacks.Callback] = []
    if splits["validation"]:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_accuracy", mode="max", patience=config.patience, restore_best_weights=True
            )
        )
    bar = tqdm(total=epochs, desc=description, unit="epoch", file=sys.stderr, disable=not progress)

    def on_epoch_end(epoch: int, logs: dict | None = None) -> None:
        shown = ("loss", "accuracy", "val_accuracy")
        bar.set_postfix({key: f"{value:.3f}" for key, value in (logs or {}).items() if key in shown})
        bar.update(1)

    callbacks.append(keras.callbacks.LambdaCallback(on_epoch_end=on_epoch_end))
    history = model.fit(
        _dataset(splits["train"], config.batch_size, shuffle_seed=config.seed),
        validation_data=_dataset(splits["validation"], config.batch_size) if splits["validation"] else None,
        epochs=epochs,
        shuffle=False,  # the dataset is shuffled with the config's seed
        callbacks=callbacks,
        verbose=0,
    )
    bar.close()
    return {key: [float(value) for value in values] for key, values in history.history.items()}


def _train_pair(
    splits: dict[str, list[Example]], config: SentimentConfig, epochs: int, baseline_epochs: int,
    progress: bool, suffix: str = "",
) -> tuple[keras.Model, keras.Model, dict[str, dict[str, list[float]]], list[str]]:
    """The classifier and the baseline, each seeded alike, on a vocabulary of the train split only."""
    from musicgen.runtime import set_seed

    vocabulary = build_vocabulary([example.text for example in splits["train"]], config.max_tokens, config.min_count)
    if not vocabulary:
        raise DataError(f"no word occurs {config.min_count} times in the training split")
    set_seed(config.seed)
    model = build_classifier(vocabulary, config)
    history = {"model": _fit(model, splits, config, epochs, config.learning_rate,
                             f"{config.cell} classifier{suffix}", progress)}
    set_seed(config.seed)
    baseline = build_baseline(vocabulary, config)
    history["baseline"] = _fit(baseline, splits, config, baseline_epochs, config.baseline_learning_rate,
                               f"bag-of-words baseline{suffix}", progress)
    return model, baseline, history, vocabulary


def train_sentiment(
    data_dir: str | os.PathLike = SENTIMENT_DATA_DIR,
    out_dir: str | os.PathLike = "runs/sentiment",
    config: SentimentConfig | None = None,
    progress: bool = False,
) -> TrainResult:
    """Train the recurrent classifier and the bag-of-words baseline; save both to ``out_dir``.

    Epochs are chosen by early stopping on the validation split; with ``config.refit``
    both models are then retrained from scratch on train + validation for those epoch
    counts. The test split is only scored. ``progress`` shows a bar per model on stderr.
    The same data, config and seed give the same weights.
    """
    config = config or SentimentConfig()
    config.validate()
    started = time.perf_counter()
    examples = load_examples(data_dir)
    splits = split_examples(examples, config.fractions, config.salt)
    split_sizes = {name: len(splits[name]) for name in SPLIT_NAMES}
    labels = {example.label for example in splits["train"]}
    if labels != {0, 1}:
        raise DataError(f"{data_dir}: the training split needs both labels, found only {sorted(labels)}")
    model, baseline, history, vocabulary = _train_pair(splits, config, config.epochs, config.baseline_epochs, progress)
    metrics = {}
    if splits["validation"]:
        metrics["validation"] = score_models(model, baseline, splits["validation"], "validation", config.seed)
    if config.refit and splits["validation"]:
        # Refit from scratch on train + validation for the epoch counts validation chose.
        epochs = [1 + int(np.argmax(history[name]["val_accuracy"])) for name in ("model", "baseline")]
        splits = {"train": splits["train"] + splits["validation"], "validation": [], "test": splits["test"]}
        model, baseline, refit_history, vocabulary = _train_pair(splits, config, *epochs, progress, " (refit)")
        history.update({f"refit_{name}": values for name, values in refit_history.items()})
    seconds = time.perf_counter() - started
    if splits["test"]:
        metrics["test"] = score_models(model, baseline, splits["test"], "test", config.seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with fileio.atomic_path(out_dir / "model.keras") as temporary:
        model.save(temporary)
    with fileio.atomic_path(out_dir / "baseline.keras") as temporary:
        baseline.save(temporary)
    fileio.atomic_write_json(out_dir / "history.json", history)
    fileio.atomic_write_json(out_dir / "metrics.json", {**metrics, "train_seconds": round(seconds, 1)})
    fileio.atomic_write_json(out_dir / "config.json", {  # written last: marks the directory complete
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "config": config.to_dict(),
        "vocabulary_size": len(vocabulary) + 2,
        "split_sizes": split_sizes,
        "data": data_fingerprint(data_dir),
    })
    classifier = SentimentClassifier(model, config, baseline, out_dir)
    return TrainResult(classifier, out_dir, metrics, history, seconds)


# ----------------------------------------------------------------------------- evaluation


def binary_metrics(labels: Sequence[int], probabilities: Sequence[float]) -> dict[str, Any]:
    """Accuracy, precision, recall and F1 of the positive class, and the confusion matrix.

    ``confusion_matrix[true][predicted]`` with 0 = negative, 1 = positive (threshold 0.5).
    An undefined precision/recall/F1 (no positive predictions or labels) is 0.
    """
    labels = np.asarray(labels, dtype=int).reshape(-1)
    predicted = (np.asarray(probabilities, dtype=float).reshape(-1) >= 0.5).astype(int)
    if labels.shape != predicted.shape or labels.size == 0:
        raise ValueError(f"need as many probabilities as labels (at least one), got {predicted.size} and {labels.size}")
    matrix = np.zeros((2, 2), dtype=int)
    np.add.at(matrix, (labels, predicted), 1)
    true_positive, false_positive, false_negative = matrix[1, 1], matrix[0, 1], matrix[1, 0]
    precision = true_positive / (true_positive + false_positive) if true_positive + false_positive else 0.0
    recall = true_positive / (true_positive + false_negative) if true_positive + false_negative else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "accuracy": float(np.trace(matrix) / labels.size),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "confusion_matrix": matrix.tolist(),
    }


def shuffle_words(texts: Sequence[str], seed: int = 0) -> list[str]:
    """Each text's model words in a shuffled order (deterministic for a seed): same bag, new order."""
    generator = random.Random(seed)
    shuffled = []
    for words in words_of(texts):
        generator.shuffle(words)
        shuffled.append(" ".join(words))
    return shuffled


def _probabilities(model: keras.Model, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
    import tensorflow as tf

    outputs = [
        model(tf.constant(list(texts[start : start + batch_size]), dtype=tf.string), training=False)
        for start in range(0, len(texts), batch_size)
    ]
    return np.concatenate([np.asarray(output) for output in outputs]).reshape(-1)


def score_models(
    model: keras.Model, baseline: keras.Model, examples: Sequence[Example], split: str = "test", seed: int = 0
) -> dict[str, Any]:
    """Metrics of the classifier and the baseline on ``examples``, also with word order shuffled.

    The baseline's score does not move when the words are shuffled (a bag has no order);
    the recurrent model's does, as far as it learnt to use word order.
    """
    if not examples:
        raise DataError(f"the {split} split is empty")
    texts = [example.text for example in examples]
    labels = [example.label for example in examples]
    shuffled = shuffle_words(texts, seed)
    probabilities = _probabilities(model, texts)
    result = binary_metrics(labels, probabilities)
    baseline_result = binary_metrics(labels, _probabilities(baseline, texts))
    result.update({f"baseline_{key}": value for key, value in baseline_result.items()})
    result["shuffled_accuracy"] = binary_metrics(labels, _probabilities(model, shuffled))["accuracy"]
    result["baseline_shuffled_accuracy"] = binary_metrics(labels, _probabilities(baseline, shuffled))["accuracy"]
    by_source: dict[str, list[int]] = {}
    for example, probability in zip(examples, probabilities, strict=True):
        by_source.setdefault(example.source, []).append(int((probability >= 0.5) == example.label))
    result["accuracy_by_source"] = {source: float(np.mean(hits)) for source, hits in sorted(by_source.items())}
    result.update({"split": split, "examples": len(examples)})
    return result


def evaluate_sentiment(
    checkpoint: str | os.PathLike = SENTIMENT_CHECKPOINT,
    data_dir: str | os.PathLike = SENTIMENT_DATA_DIR,
    split: str = "test",
) -> dict[str, Any]:
    """Score a saved classifier and its baseline on a split of ``data_dir`` (the checkpoint's split rule)."""
    if split not in SPLIT_NAMES:
        raise ConfigError(f"split must be one of {', '.join(SPLIT_NAMES)}, got {split!r}")
    classifier = SentimentClassifier.load(checkpoint)
    if classifier.baseline is None:
        raise CheckpointError(f"{checkpoint}: missing baseline.keras")
    config = classifier.config
    splits = split_examples(load_examples(data_dir), config.fractions, config.salt)
    result = score_models(classifier.model, classifier.baseline, splits[split], split=split, seed=config.seed)
    result.update({"cell": config.cell, "implementation": config.implementation, "checkpoint": str(checkpoint)})
    return result


# ----------------------------------------------------------------------------- prediction

MAX_TEXT_CHARACTERS = 100_000


@dataclass
class Prediction:
    """The classifier's answer for one text, with what it could and could not read."""

    text: str
    label: str
    probability: float
    words: int
    known_words: int
    truncated: bool
    warning: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class SentimentClassifier:
    """A trained classifier (and its baseline) loaded from a checkpoint directory.

    >>> SentimentClassifier.load("checkpoints/sentiment").predict(["Great food!"])[0].label
    'positive'
    """

    def __init__(self, model: keras.Model, config: SentimentConfig, baseline: keras.Model | None = None,
                 directory: Path | None = None):
        self.model = model
        self.config = config
        self.baseline = baseline
        self.directory = directory
        self.vocabulary = frozenset(model.get_layer("vectorize").get_vocabulary()[2:])

    @classmethod
    def load(cls, directory: str | os.PathLike = SENTIMENT_CHECKPOINT) -> SentimentClassifier:
        """Load ``model.keras`` (safe mode), ``baseline.keras`` and ``config.json``; ``CheckpointError`` if unusable."""
        directory = Path(directory)
        if not directory.is_dir():
            raise CheckpointError(f"{directory}: no such checkpoint directory (train one with 'musicgen sentiment train')")
        try:
            meta = fileio.read_json(directory / "config.json")
        except FileNotFoundError:
            raise CheckpointError(f"{directory}: missing config.json: not a complete sentiment checkpoint") from None
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise CheckpointError(f"{directory}/config.json: corrupt: {error}") from None
        if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"{directory}: config.json is not a {CHECKPOINT_FORMAT} checkpoint")
        if meta.get("version") != CHECKPOINT_VERSION:
            raise CheckpointError(f"{directory}: checkpoint version {meta.get('version')} is not {CHECKPOINT_VERSION}")
        try:
            config = SentimentConfig.from_dict(meta["config"])
            config.validate()
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(f"{directory}/config.json: bad config: {error}") from None
        model = _load_model(directory / "model.keras")
        baseline = _load_model(directory / "baseline.keras") if (directory / "baseline.keras").exists() else None
        try:
            return cls(model, config, baseline, directory)
        except ValueError as error:
            raise CheckpointError(f"{directory}/model.keras: not a sentiment classifier: {error}") from None

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Raw probabilities of "positive", no input checks (for batches of known-good text)."""
        return _probabilities(self.model, list(texts))

    def predict(self, texts: Sequence[str] | str) -> list[Prediction]:
        """Classify each text; raises ``DataError`` for an empty or absurdly long one.

        Words past ``max_length`` are ignored and a text with no known word still gets the
        model's answer; both are flagged in ``Prediction.warning``.
        """
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            return []
        cleaned = []
        for number, text in enumerate(texts, start=1):
            if not isinstance(text, str):
                raise DataError(f"text {number}: expected a string, got {type(text).__name__}")
            if len(text) > MAX_TEXT_CHARACTERS:
                raise DataError(f"text {number} has {len(text)} characters; the limit is {MAX_TEXT_CHARACTERS}")
            cleaned.append(text_utils.normalize_text(text))
        all_words = words_of(cleaned)
        for number, words in enumerate(all_words, start=1):
            if not words:
                raise DataError(f"text {number} is empty: it has no words to classify")
        probabilities = self.probabilities(cleaned)
        return [self._prediction(text, words, float(p)) for text, words, p in zip(texts, all_words, probabilities, strict=True)]

    def _prediction(self, text: str, words: list[str], probability: float) -> Prediction:
        limit = self.config.max_length
        known = sum(word in self.vocabulary for word in words[:limit])
        warnings = []
        if len(words) > limit:
            warnings.append(f"only the first {limit} of {len(words)} words were read")
        if known == 0:
            warnings.append("none of its words is in the vocabulary, so this is a guess")
        return Prediction(
            text=text,
            label=LABEL_NAMES[int(probability >= 0.5)],
            probability=probability,
            words=len(words),
            known_words=known,
            truncated=len(words) > limit,
            warning="; ".join(warnings) or None,
        )


def _load_model(path: Path) -> keras.Model:
    import musicgen.cells  # noqa: F401  (registers the cells and the recurrent layer for deserialisation)
    import musicgen.recurrent  # noqa: F401

    keras = _keras()

    if not path.is_file():
        raise CheckpointError(f"{path}: missing")
    try:
        model = keras.saving.load_model(path, safe_mode=True)
    except Exception as error:  # Keras raises many types for a damaged archive
        raise CheckpointError(f"{path}: cannot load: {type(error).__name__}: {error}") from None
    if not isinstance(model, keras.Model) or model.inputs[0].dtype != "string":
        raise CheckpointError(f"{path}: not a sentiment model (it must take strings)")
    return model
