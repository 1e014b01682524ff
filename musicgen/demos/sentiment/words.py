"""The words a sentiment model reads, and the vocabulary built from them.

The same standardisation (:func:`~musicgen.demos.sentiment.layers.standardize_sentence`)
runs inside the saved model's ``TextVectorization``, so the words counted here are
exactly those the model looks up.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import tensorflow as tf

from musicgen.demos.sentiment.layers import standardize_sentence


def words_of(texts: Sequence[str]) -> list[list[str]]:
    """The tokens the model sees for each text (same standardisation and whitespace split)."""
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
