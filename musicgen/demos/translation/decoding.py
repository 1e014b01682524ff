"""Greedy and beam-search decoding through the model's stateful step interface.

Both encode the source batch once, then run one compiled decoder step per output
token carrying the cell states, for a whole batch of sentences at a time. Beam search
keeps ``beam_size`` hypotheses per sentence in a ``(batch * beam_size)`` batch, reorders
their states after each step and ranks finished hypotheses by log probability divided
by ``length ** length_penalty``. With ``beam_size=1`` it picks the same token as greedy
decoding at every step, so the two give identical output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from musicgen.demos.translation.data import BOS_ID, EOS_ID, PAD_ID
from musicgen.errors import ConfigError


@dataclass
class Decoded:
    """One decoded sentence: target ids (no ``<s>``/``</s>``) and attention ``(len+1, source_len)``."""

    ids: list[int]
    attention: np.ndarray
    score: float


class StepFunctions:
    """Compiled ``encode``, ``decode_step`` and teacher-forced forward pass of a model."""

    def __init__(self, model):
        self.model = model
        self.encode = tf.function(lambda source: model.encode(source), reduce_retracing=True)
        self.step = tf.function(model.decode_step, reduce_retracing=True)
        self.forward = tf.function(
            lambda source, decoder_input: model((source, decoder_input), training=False), reduce_retracing=True
        )


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits.astype(np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _trim(ids: np.ndarray) -> list[int]:
    result = []
    for token in ids.tolist():
        if token in (EOS_ID, PAD_ID):
            break
        result.append(int(token))
    return result


def greedy_decode(steps: StepFunctions, source: np.ndarray, max_length: int) -> list[Decoded]:
    """The most probable next token at each step, for a padded ``(batch, time)`` source."""
    encoder_outputs, mask, states = steps.encode(tf.constant(source, dtype=tf.int32))
    batch = source.shape[0]
    tokens = np.full((batch,), BOS_ID, dtype=np.int32)
    finished = np.zeros((batch,), dtype=bool)
    scores = np.zeros((batch,), dtype=np.float64)
    outputs, attentions = [], []
    for _ in range(max_length):
        logits, states, weights = steps.step(tf.constant(tokens), states, encoder_outputs, mask)
        log_probs = _log_softmax(logits.numpy())
        chosen = np.argmax(log_probs, axis=-1).astype(np.int32)
        scores += np.where(finished, 0.0, log_probs[np.arange(batch), chosen])
        chosen = np.where(finished, PAD_ID, chosen).astype(np.int32)
        outputs.append(chosen)
        attentions.append(weights.numpy())
        finished |= chosen == EOS_ID
        tokens = chosen
        if finished.all():
            break
    ids = np.stack(outputs, axis=1)
    attention = np.stack(attentions, axis=1)
    return [_decoded(ids[row], attention[row], scores[row]) for row in range(batch)]


def _decoded(ids: np.ndarray, attention: np.ndarray, score: float) -> Decoded:
    kept = _trim(ids)
    steps_used = min(len(kept) + 1, len(ids))
    return Decoded(kept, attention[:steps_used], float(score))


def beam_search_decode(
    steps: StepFunctions,
    source: np.ndarray,
    max_length: int,
    beam_size: int,
    length_penalty: float = 1.0,
) -> list[Decoded]:
    """The best of ``beam_size`` hypotheses per sentence, for a padded ``(batch, time)`` source."""
    if beam_size < 1:
        raise ConfigError(f"beam size must be at least 1, got {beam_size}")
    encoder_outputs, mask, states = steps.encode(tf.constant(source, dtype=tf.int32))
    batch, vocab = source.shape[0], len(steps.model.target_vocabulary)
    if beam_size > vocab:
        raise ConfigError(f"beam size {beam_size} exceeds the target vocabulary ({vocab})")
    encoder_outputs = tf.repeat(encoder_outputs, beam_size, axis=0)
    mask = tf.repeat(mask, beam_size, axis=0)
    states = [tf.repeat(state, beam_size, axis=0) for state in states]
    scores = np.full((batch, beam_size), -np.inf)
    scores[:, 0] = 0.0  # all beams start identical: keep one so the first step spreads out
    finished = np.zeros((batch, beam_size), dtype=bool)
    lengths = np.zeros((batch, beam_size))
    history = np.zeros((batch, beam_size, 0), dtype=np.int32)
    attention = np.zeros((batch, beam_size, 0, source.shape[1]), dtype=np.float32)
    tokens = np.full((batch * beam_size,), BOS_ID, dtype=np.int32)
    rows = np.arange(batch)[:, None]
    for _ in range(max_length):
        logits, states, weights = steps.step(tf.constant(tokens), states, encoder_outputs, mask)
        log_probs = _log_softmax(logits.numpy()).reshape(batch, beam_size, vocab)
        log_probs[finished] = -np.inf
        log_probs[finished, PAD_ID] = 0.0  # a finished hypothesis only grows padding, for free
        total = (scores[:, :, None] + log_probs).reshape(batch, beam_size * vocab)
        best = np.argsort(-total, axis=1, kind="stable")[:, :beam_size]
        parent, token = best // vocab, (best % vocab).astype(np.int32)
        scores = np.take_along_axis(total, best, axis=1)
        was_finished = finished[rows, parent]
        lengths = lengths[rows, parent] + ~was_finished
        finished = was_finished | (token == EOS_ID)
        history = np.concatenate([history[rows, parent], token[:, :, None]], axis=2)
        step_attention = weights.numpy().reshape(batch, beam_size, 1, -1)
        attention = np.concatenate([attention[rows, parent], step_attention[rows, parent]], axis=2)
        flat_parent = (rows * beam_size + parent).reshape(-1)
        states = [tf.gather(state, flat_parent) for state in states]
        tokens = token.reshape(-1)
        if finished.all():
            break
    ranked = scores / np.maximum(lengths, 1.0) ** length_penalty
    choice = np.argmax(ranked, axis=1)
    return [
        _decoded(history[row, choice[row]], attention[row, choice[row]], scores[row, choice[row]])
        for row in range(batch)
    ]
