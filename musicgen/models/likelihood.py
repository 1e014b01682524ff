"""How well a language model predicts whole pieces: teacher-forced NLL, accuracy and perplexity.

Each piece runs through the network in one pass from its BOS (the recurrent state is
carried over the whole piece, as when sampling), and every token after the first is
scored exactly once. Pieces are batched by length and padded at the end, which a causal
network cannot see. Training's feedback and ``musicgen evaluate`` both score this way. In
the frames encoding, :func:`score_pieces` also gives the benchmark's figure, the NLL per
frame, from the softmax over what the grammar allows.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np


def perplexity(nll: float) -> float:
    """``exp(nll)``: perplexity from a mean NLL in nats, capped so a diverged loss prints as
    a large number, not an overflow."""
    return math.exp(min(float(nll), 700.0))


@dataclass
class Scores:
    """What :func:`score_pieces` measured: summed NLL (nats), correct argmax predictions and scored
    tokens; with a frames tokenizer also the frames and their summed NLL under the grammar's mask
    (``frame_nll``, an exact distribution over frames) and without it (``frame_nll_unmasked``)."""

    total: float = 0.0
    correct: int = 0
    count: int = 0
    frames: int = 0
    frame_nll: float = 0.0
    frame_nll_unmasked: float = 0.0


def score_model(model: Any, pieces: list[np.ndarray], batch_size: int = 8, pad_id: int = 0,
                progress: bool = False) -> tuple[float, int, int]:
    """``(summed NLL in nats, correct argmax predictions, scored tokens)`` of whole pieces."""
    scores = score_pieces(model, pieces, batch_size, pad_id, progress)
    return scores.total, scores.correct, scores.count


def score_pieces(model: Any, pieces: list[np.ndarray], batch_size: int = 8, pad_id: int = 0,
                 progress: bool = False, frames: Any = None) -> Scores:
    """:class:`Scores` of whole pieces, in one pass of the model over each.

    ``frames``, a tokenizer with ``frame_targets`` and ``frame_count`` (the frames encoding),
    also scores frame by frame: a frame's log-probability is the sum of its tokens' (its
    pitches and its FRAME_END), each from the model's softmax over the tokens the grammar
    allows there (illegal tokens get zero probability, the rest renormalised), so the frames
    that may follow a history share a probability of exactly one. A piece's EOS is no frame
    and is not counted; BOS is the conditioning start.
    """
    import tensorflow as tf

    order = np.argsort([len(p) for p in pieces], kind="stable")
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    # One graph for every batch shape: called eagerly, the recurrent loop runs step by step
    # in Python, which on a long piece is two orders of magnitude slower.
    forward = tf.function(lambda inputs: model(inputs, training=False), reduce_retracing=True,
                          input_signature=[tf.TensorSpec([None, None], tf.int32)])
    scores = Scores()
    bar = _bar(progress, len(pieces), "scoring", "piece")
    for batch in batches:
        rows = [pieces[i] for i in batch]
        width = max(len(r) for r in rows) - 1
        width = -(-width // 32) * 32  # round up: fewer distinct shapes to trace
        inputs = np.full((len(rows), width), pad_id, np.int32)
        targets = np.full((len(rows), width), pad_id, np.int32)
        mask = np.zeros((len(rows), width), bool)
        for index, row in enumerate(rows):
            inputs[index, :len(row) - 1] = row[:-1]
            targets[index, :len(row) - 1] = row[1:]
            mask[index, :len(row) - 1] = True
        logits = tf.cast(forward(tf.constant(inputs)), tf.float32)
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits)
        predicted = tf.argmax(logits, axis=-1, output_type=tf.int32).numpy()
        losses = losses.numpy().astype(np.float64)
        scores.total += float(losses[mask].sum())
        scores.correct += int((predicted == targets)[mask].sum())
        scores.count += int(mask.sum())
        if frames is not None:
            _score_frames(scores, frames, rows, logits, targets, losses)
        if bar is not None:
            bar.update(len(rows))
    if bar is not None:
        bar.close()
    return scores


def _score_frames(scores: Scores, tokenizer: Any, rows: list[np.ndarray], logits: Any, targets: np.ndarray,
                  losses: np.ndarray) -> None:
    """Add a batch's frames and their NLL, masked by the grammar and not, to ``scores``."""
    import tensorflow as tf

    allowed = np.zeros(logits.shape, bool)
    counted = np.zeros(targets.shape, bool)
    for index, row in enumerate(rows):
        allowed[index, :len(row) - 1], counted[index, :len(row) - 1] = tokenizer.frame_targets(row)
        scores.frames += tokenizer.frame_count(row)
    masked = tf.where(tf.constant(allowed), logits, tf.constant(-1e30, tf.float32))
    nll = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=masked).numpy().astype(np.float64)
    scores.frame_nll += float(nll[counted].sum())
    scores.frame_nll_unmasked += float(losses[counted].sum())


def _bar(progress: bool, total: int, description: str, unit: str) -> Any:
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=description, unit=unit, leave=False, file=sys.stderr)
