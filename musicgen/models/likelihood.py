"""How well a language model predicts whole pieces: teacher-forced NLL, accuracy and perplexity.

Each piece runs through the network in one pass from its BOS (the recurrent state is
carried over the whole piece, as when sampling), and every token after the first is
scored exactly once. Pieces are batched by length and padded at the end, which a causal
network cannot see. Training's feedback and ``musicgen evaluate`` both score this way.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np


def perplexity(nll: float) -> float:
    """``exp(nll)``: perplexity from a mean NLL in nats, capped so a diverged loss prints as
    a large number, not an overflow."""
    return math.exp(min(float(nll), 700.0))


def score_model(model: Any, pieces: list[np.ndarray], batch_size: int = 8, pad_id: int = 0,
                progress: bool = False) -> tuple[float, int, int]:
    """``(summed NLL in nats, correct argmax predictions, scored tokens)`` of whole pieces."""
    import tensorflow as tf

    order = np.argsort([len(p) for p in pieces], kind="stable")
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    # One graph for every batch shape: called eagerly, the recurrent loop runs step by step
    # in Python, which on a long piece is two orders of magnitude slower.
    forward = tf.function(lambda inputs: model(inputs, training=False), reduce_retracing=True,
                          input_signature=[tf.TensorSpec([None, None], tf.int32)])
    total, correct, count = 0.0, 0, 0
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
        logits = forward(tf.constant(inputs))
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=tf.cast(logits, tf.float32))
        predicted = tf.argmax(logits, axis=-1, output_type=tf.int32).numpy()
        losses = losses.numpy().astype(np.float64)
        total += float(losses[mask].sum())
        correct += int((predicted == targets)[mask].sum())
        count += int(mask.sum())
        if bar is not None:
            bar.update(len(rows))
    if bar is not None:
        bar.close()
    return total, correct, count


def _bar(progress: bool, total: int, description: str, unit: str) -> Any:
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=description, unit=unit, leave=False, file=sys.stderr)
