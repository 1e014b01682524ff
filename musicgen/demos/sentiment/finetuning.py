"""Fine-tuning a pretrained encoder for sentiment, ULMFiT-style.

The classifier reads raw strings: ``TextVectorization`` with the encoder's vocabulary,
the pretrained embedding and forward and backward recurrent stacks, concat pooling
(last, max, mean) of each direction's top layer, and a head per direction; the answer is
the mean of the two directions' probabilities (two classifiers, as ULMFiT averages its
forward and backward models), each fitted to the labels on its own. Training follows
:mod:`~musicgen.demos.sentiment.schedule`: gradual unfreezing, discriminative learning
rates (one Adam per layer group) and a slanted triangular rate. Optionally the language
models are first fine-tuned on the training split's sentences (no labels).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from musicgen.demos.sentiment.config import FineTuneConfig
from musicgen.demos.sentiment.data import Example
from musicgen.demos.sentiment.encoder import (
    DIRECTIONS,
    copy_encoder_weights,
    encode,
    encoder_groups,
)
from musicgen.demos.sentiment.language_model import LanguageModelTrainer, length_batches, vectorize
from musicgen.demos.sentiment.layers import SentencePooling, TruncateTokens, standardize_sentence
from musicgen.demos.sentiment.model import predict_probabilities
from musicgen.demos.sentiment.pretrained import PretrainedEncoder
from musicgen.demos.sentiment.progress import progress_bar
from musicgen.demos.sentiment.schedule import (
    learning_rate_multipliers,
    slanted_triangular,
    trainable_groups,
)
from musicgen.demos.sentiment.words import words_of
from musicgen.runtime import set_seed


def head_names(head_units: int) -> list[str]:
    """The head layers that hold weights: both directions' normalisation, hidden layer (if any) and output."""
    kinds = ["head_norm", *(["head_hidden", "hidden_norm"] if head_units else []), "probability"]
    return [f"{direction}_{kind}" for kind in kinds for direction in DIRECTIONS]


def build_fine_tuned_models(encoder: PretrainedEncoder, config: FineTuneConfig,
                            weights: keras.Model | None = None) -> tuple[keras.Model, keras.Model]:
    """The classifier (strings to the mean probability ``(batch, 1)``) and its training model.

    The training model outputs both directions' probabilities ``(batch, 2)``; both share
    every layer. The encoder layers start from ``weights`` (a language model with the
    encoder's layout; default: the pretrained one).
    """
    inputs = keras.Input(shape=(), dtype="string", name="text")
    tokens = keras.layers.TextVectorization(standardize=standardize_sentence, vocabulary=list(encoder.vocabulary),
                                            name="vectorize")(inputs)
    tokens = TruncateTokens(config.max_length, name="truncate")(tokens)
    outputs = encode(tokens, encoder.vocabulary_size, encoder.config)
    probabilities = []
    for direction in DIRECTIONS:
        levels = outputs[direction] if config.pooled_layers == "all" else outputs[direction][-1:]
        sequence = levels[0] if len(levels) == 1 else keras.layers.Concatenate(name=f"{direction}_levels")(levels)
        hidden = SentencePooling(name=f"{direction}_pooling")([sequence, tokens])
        # Batch normalisation, as in ULMFiT's head: the pooled states differ little from one
        # sentence to the next next to their common offset, and dropout would drown that.
        hidden = keras.layers.BatchNormalization(name=f"{direction}_head_norm")(hidden)
        hidden = keras.layers.Dropout(config.dropout, name=f"{direction}_head_dropout")(hidden)
        if config.head_units:
            hidden = keras.layers.Dense(config.head_units, activation="relu", name=f"{direction}_head_hidden")(hidden)
            hidden = keras.layers.BatchNormalization(name=f"{direction}_hidden_norm")(hidden)
            hidden = keras.layers.Dropout(config.dropout, name=f"{direction}_hidden_dropout")(hidden)
        probabilities.append(keras.layers.Dense(1, activation="sigmoid", name=f"{direction}_probability")(hidden))
    classifier = keras.Model(inputs, keras.layers.Average(name="probability")(probabilities),
                             name="sentiment_classifier")
    training_model = keras.Model(inputs, keras.layers.Concatenate(name="member_probabilities")(probabilities),
                                 name="sentiment_members")
    copy_encoder_weights(weights or encoder.model, classifier, encoder.config.num_layers)
    return classifier, training_model


def layer_groups(model: keras.Model, num_layers: int, head_units: int) -> list[list[keras.layers.Layer]]:
    """The classifier's layers in ULMFiT groups, top first: the heads, each recurrent level, the embedding."""
    names = [head_names(head_units), *encoder_groups(num_layers)]
    return [[model.get_layer(name) for name in group] for group in names]


def set_trainable(groups: Sequence[Sequence[keras.layers.Layer]], count: int) -> None:
    """Make the top ``count`` groups trainable and freeze the others."""
    for index, group in enumerate(groups):
        for layer in group:
            layer.trainable = index < count


def fine_tune_language_model(encoder: PretrainedEncoder, texts: Sequence[str], config: FineTuneConfig,
                             seed: int, progress: bool = False) -> keras.Model:
    """A copy of the language models trained ``config.lm_epochs`` epochs more on ``texts`` (no labels)."""
    model = keras.Model.from_config(encoder.model.get_config())
    model.set_weights(encoder.model.get_weights())
    trainer = LanguageModelTrainer(model, config.lm_learning_rate, encoder.config.clipnorm)
    ids = vectorize(list(texts), encoder.vocabulary, config.max_length)
    rng = np.random.default_rng(seed)
    for epoch in range(1, config.lm_epochs + 1):
        batches = length_batches(ids, config.batch_size, rng)
        with progress_bar(len(batches), f"language models on the training sentences, epoch {epoch}", progress,
                          leave=False) as bar:
            trainer.train_epoch(batches, bar=bar)
    return model


def _text_batches(examples: Sequence[Example], lengths: Sequence[int], batch_size: int,
                  rng: np.random.Generator) -> list[tuple[tf.Tensor, tf.Tensor]]:
    """Shuffled batches of sentences of similar length, each ``(texts, labels (batch, 2))``."""
    order = [int(index) for index in rng.permutation(len(examples))]
    order.sort(key=lambda index: lengths[index] // 4)  # stable: shuffled within each length band
    groups = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    rng.shuffle(groups)
    return [(tf.constant([examples[index].text for index in group]),
             tf.constant([[float(examples[index].label)] * len(DIRECTIONS) for index in group], dtype=tf.float32))
            for group in groups]


class FineTuner:
    """Trains the classifier's groups on a schedule; one compiled step per number of trainable groups."""

    def __init__(self, training_model: keras.Model, groups: list[list[keras.layers.Layer]], config: FineTuneConfig):
        self.model = training_model
        self.groups = groups
        self.config = config
        self.multipliers = learning_rate_multipliers(len(groups), config.layer_decay)
        self.optimizers = [keras.optimizers.Adam(config.learning_rate) for _ in groups]
        set_trainable(groups, len(groups))
        for optimizer, group in zip(self.optimizers, groups, strict=True):
            optimizer.build([weight for layer in group for weight in layer.trainable_weights])
        self._steps: dict[int, tf.types.experimental.GenericFunction] = {}

    def _step(self, count: int):
        """The compiled training step with the top ``count`` groups trainable."""
        if count not in self._steps:
            set_trainable(self.groups, count)
            variables = [[weight for layer in group for weight in layer.trainable_weights]
                         for group in self.groups[:count]]
            optimizers = self.optimizers[:count]

            @tf.function(input_signature=[tf.TensorSpec((None,), tf.string), tf.TensorSpec((None, 2), tf.float32)])
            def step(texts, labels):
                with tf.GradientTape() as tape:
                    loss = tf.reduce_mean(keras.losses.binary_crossentropy(labels, self.model(texts, training=True)))
                gradients = tape.gradient(loss, [weight for group in variables for weight in group])
                start = 0
                for optimizer, group in zip(optimizers, variables, strict=True):
                    optimizer.apply(gradients[start : start + len(group)], group)
                    start += len(group)
                return loss

            self._steps[count] = step
        set_trainable(self.groups, count)
        return self._steps[count]

    def train_epoch(self, epoch: int, batches: list[tuple[tf.Tensor, tf.Tensor]], bar=None) -> tuple[float, int]:
        """One epoch of the schedule (``epoch`` from 0): the mean loss and how many groups trained."""
        config = self.config
        count = trainable_groups(epoch, len(self.groups), config.gradual_unfreezing, config.freeze_encoder)
        step = self._step(count)
        losses = []
        for index, (texts, labels) in enumerate(batches):
            rate = slanted_triangular((epoch + index / len(batches)) / config.epochs, config.learning_rate,
                                      config.warmup_fraction)
            for optimizer, multiplier in zip(self.optimizers[:count], self.multipliers, strict=False):
                optimizer.learning_rate.assign(rate * multiplier)
            losses.append(float(step(texts, labels)))
            if bar is not None:
                bar.update(1)
        return float(np.mean(losses)), count


def train_fine_tuned(encoder: PretrainedEncoder, splits: dict[str, list[Example]], config: FineTuneConfig,
                     epochs: int, seed: int, progress: bool = False,
                     description: str = "fine-tuned classifier") -> tuple[keras.Model, dict[str, list[float]], int]:
    """Fine-tune a fresh classifier on ``splits["train"]`` for at most ``epochs`` epochs.

    With a validation split, training stops after ``config.patience`` epochs without a
    better validation accuracy (ties go to the lower validation loss) and the best
    epoch's weights are restored; without one it runs ``epochs`` epochs. The rate
    schedule always spans ``config.epochs``, so a refit sees the same rate at each epoch.
    Returns the classifier, the history and the epoch (from 1) whose weights it holds.
    """
    set_seed(seed)
    weights = None
    if config.lm_epochs:
        weights = fine_tune_language_model(encoder, [example.text for example in splits["train"]], config, seed,
                                           progress)
    classifier, training_model = build_fine_tuned_models(encoder, config, weights)
    tuner = FineTuner(training_model, layer_groups(classifier, encoder.config.num_layers, config.head_units), config)
    train, validation = splits["train"], splits["validation"]
    lengths = [len(words) for words in words_of([example.text for example in train])]
    rng = np.random.default_rng(seed)
    history: dict[str, list[float]] = {}
    best: tuple[float, float] | None = None
    best_weights, best_epoch, since_best = None, epochs, 0
    bar = progress_bar(epochs, description, progress, unit="epoch")
    for epoch in range(epochs):
        loss, count = tuner.train_epoch(epoch, _text_batches(train, lengths, config.batch_size, rng))
        history.setdefault("loss", []).append(loss)
        history.setdefault("trainable_groups", []).append(count)
        shown = {"loss": f"{loss:.3f}", "groups": count}
        if validation:
            probabilities = predict_probabilities(classifier, [example.text for example in validation])
            labels = np.array([example.label for example in validation], dtype=float)
            accuracy = float(np.mean((probabilities >= 0.5) == labels))
            clipped = np.clip(probabilities, 1e-7, 1 - 1e-7)
            validation_loss = float(-np.mean(labels * np.log(clipped) + (1 - labels) * np.log(1 - clipped)))
            history.setdefault("val_accuracy", []).append(accuracy)
            history.setdefault("val_loss", []).append(validation_loss)
            shown["val_accuracy"] = f"{accuracy:.3f}"
            if best is None or (accuracy, -validation_loss) > best:
                best, best_weights, since_best = (accuracy, -validation_loss), classifier.get_weights(), 0
                best_epoch = epoch + 1
            else:
                since_best += 1
        bar.set_postfix(shown)
        bar.update(1)
        if validation and since_best >= config.patience:
            break
    bar.close()
    if best_weights is not None:
        classifier.set_weights(best_weights)
    return classifier, history, best_epoch
