"""The forward and backward language models that pretrain the encoder: network, batches, training steps.

One model, two outputs: the forward stack predicts ``w1 .. wn </s>`` from ``<s> w1 .. wn``,
the backward stack ``wn .. w1 </s>`` from ``<s> wn .. w1``. They share the embedding and the
output layer; the loss is the sum of both directions' mean negative log-likelihood per word.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence

import keras
import numpy as np
import tensorflow as tf

from musicgen.demos.sentiment.config import PretrainConfig
from musicgen.demos.sentiment.encoder import DIRECTIONS, END_ID, PAD_ID, encode
from musicgen.demos.sentiment.layers import standardize_sentence

BATCHES_PER_CHUNK = 50  # sentences are sorted by length within chunks of this many batches


def build_language_model(vocabulary_size: int, config: PretrainConfig) -> keras.Model:
    """Right-padded word ids ``(batch, time)`` to the two directions' logits ``(batch, time + 1, vocabulary)``."""
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    outputs = encode(tokens, vocabulary_size, config)
    logits = keras.layers.Dense(vocabulary_size, name="logits")
    return keras.Model(tokens, [logits(outputs[direction][-1]) for direction in DIRECTIONS], name="language_models")


def vectorize(sentences: list[str], vocabulary: list[str], max_length: int) -> list[list[int]]:
    """Word ids of each sentence, as the classifier's ``TextVectorization`` makes them, cut to ``max_length``."""
    if not sentences:
        return []
    layer = keras.layers.TextVectorization(standardize=standardize_sentence, vocabulary=vocabulary, ragged=True)
    return [row[:max_length] for row in layer(tf.constant(sentences)).to_list()]


def next_word_targets(tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both directions' targets ``(batch, time + 1)``: the words in reading order, ``</s>``, then padding."""
    tokens = np.asarray(tokens, dtype=np.int32)
    batch, width = tokens.shape
    lengths = (tokens != PAD_ID).sum(axis=1)
    rows = np.arange(batch)
    forward = np.zeros((batch, width + 1), dtype=np.int32)
    forward[:, :width] = tokens
    backward = np.zeros_like(forward)
    source = lengths[:, None] - 1 - np.arange(width)[None, :]
    backward[:, :width] = np.where(source >= 0, np.take_along_axis(tokens, np.maximum(source, 0), axis=1), PAD_ID)
    forward[rows, lengths] = END_ID
    backward[rows, lengths] = END_ID
    return forward, backward


def length_batches(sequences: Sequence[Sequence[int]], batch_size: int,
                   rng: np.random.Generator | None = None) -> list[np.ndarray]:
    """Right-padded int32 batches of sentences of similar length (little padding).

    With ``rng`` the sentences are shuffled, sorted by length within chunks, cut into
    batches and the batches shuffled again; without it the order is fixed.
    """
    order = np.arange(len(sequences))
    if rng is not None:
        rng.shuffle(order)
    chunk = batch_size * BATCHES_PER_CHUNK
    groups = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lambda index: len(sequences[index]))
        groups.extend(part[offset : offset + batch_size] for offset in range(0, len(part), batch_size))
    if rng is not None:
        rng.shuffle(groups)
    batches = []
    for group in groups:
        width = max(1, max(len(sequences[index]) for index in group))
        batch = np.zeros((len(group), width), dtype=np.int32)
        for row, index in enumerate(group):
            batch[row, : len(sequences[index])] = sequences[index]
        batches.append(batch)
    return batches


def _negative_log_likelihood(targets, logits):
    """Summed cross-entropy over the real targets, and their count."""
    weights = tf.cast(tf.not_equal(targets, PAD_ID), tf.float32)
    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=tf.cast(logits, tf.float32))
    return tf.reduce_sum(losses * weights), tf.reduce_sum(weights)


class LanguageModelTrainer:
    """Adam steps on the summed per-word loss of both directions, and held-out evaluation.

    ``learning_rate`` may be changed between steps (``trainer.learning_rate = ...``).
    """

    def __init__(self, model: keras.Model, learning_rate: float, clipnorm: float):
        self.model = model
        self.optimizer = keras.optimizers.Adam(learning_rate, global_clipnorm=clipnorm)
        spec = tf.TensorSpec((None, None), tf.int32)
        self._train = tf.function(self._train_step, input_signature=[spec] * 3)
        self._evaluate = tf.function(self._evaluate_step, input_signature=[spec] * 3)

    @property
    def learning_rate(self) -> float:
        return float(self.optimizer.learning_rate.numpy())

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self.optimizer.learning_rate.assign(value)

    def _losses(self, tokens, forward, backward, training: bool):
        forward_logits, backward_logits = self.model(tokens, training=training)
        forward_sum, count = _negative_log_likelihood(forward, forward_logits)
        backward_sum, _ = _negative_log_likelihood(backward, backward_logits)
        return forward_sum, backward_sum, count

    def _train_step(self, tokens, forward, backward):
        with tf.GradientTape() as tape:
            forward_sum, backward_sum, count = self._losses(tokens, forward, backward, training=True)
            loss = (forward_sum + backward_sum) / tf.maximum(count, 1.0)
        variables = self.model.trainable_variables
        self.optimizer.apply(tape.gradient(loss, variables), variables)
        return forward_sum, backward_sum, count

    def _evaluate_step(self, tokens, forward, backward):
        return self._losses(tokens, forward, backward, training=False)

    def train_epoch(self, batches: Iterable[np.ndarray], deadline: float | None = None,
                    bar=None) -> tuple[dict[str, float], bool]:
        """One pass (stopped early once ``time.monotonic()`` passes ``deadline``).

        Returns the mean per-word loss of each direction and whether the pass finished.
        """
        totals = np.zeros(3)
        for tokens in batches:
            if deadline is not None and time.monotonic() > deadline:
                return _mean_losses(totals), False
            totals += [float(value) for value in self._train(tokens, *next_word_targets(tokens))]
            if bar is not None:
                bar.update(1)
                bar.set_postfix(_mean_losses(totals), refresh=False)
        return _mean_losses(totals), True

    def evaluate(self, batches: Iterable[np.ndarray]) -> dict[str, float]:
        """Mean per-word loss (nats) of each direction on ``batches``."""
        totals = np.zeros(3)
        for tokens in batches:
            totals += [float(value) for value in self._evaluate(tokens, *next_word_targets(tokens))]
        return _mean_losses(totals)


def _mean_losses(totals: np.ndarray) -> dict[str, float]:
    count = max(float(totals[2]), 1.0)
    return {direction: float(totals[index]) / count for index, direction in enumerate(DIRECTIONS)}


def perplexity(loss: float) -> float:
    """``exp(loss)`` of a per-word loss in nats."""
    return float(math.exp(min(loss, 50.0)))
