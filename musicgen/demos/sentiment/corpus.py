"""The pretraining text: English sentences of the translation corpus that no sentiment split holds.

The English side of Tatoeba's pairs (``data/translation/spa.txt``) gives about 100,000
distinct sentences. A sentence whose words (as the model reads them) equal those of any
labelled sentiment sentence, in any split, is left out, so pretraining never reads a
validation or test sentence. A stable hash of each sentence sets aside a few percent to
measure the language models' held-out loss.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from musicgen.data.splits import split_of
from musicgen.demos import text as text_utils
from musicgen.demos.sentiment.config import PretrainConfig
from musicgen.demos.sentiment.data import Example, load_examples, split_examples
from musicgen.demos.sentiment.encoder import SENTENCE_MARKERS
from musicgen.demos.sentiment.words import words_of
from musicgen.demos.translation.data import read_pairs
from musicgen.errors import DataError

VALIDATION_SALT = "sentiment-language-model"


@dataclass
class PretrainingCorpus:
    """The language models' sentences, and the sentiment training split whose words join the vocabulary."""

    train: list[str]
    validation: list[str]
    excluded: int
    sentiment_train: list[Example]

    def record(self) -> dict[str, int]:
        """Sizes, for the checkpoint's record."""
        return {"train_sentences": len(self.train), "validation_sentences": len(self.validation),
                "excluded_sentiment_sentences": self.excluded, "sentiment_train_sentences": len(self.sentiment_train)}


def _word_key(words: Sequence[str]) -> str:
    return " ".join(words)


def load_corpus(translation_dir: str | os.PathLike, sentiment_dir: str | os.PathLike,
                config: PretrainConfig) -> PretrainingCorpus:
    """Distinct English sentences (file order) minus every sentiment sentence, split train/validation."""
    examples = load_examples(sentiment_dir)
    taken = {_word_key(words) for words in words_of([example.text for example in examples])}
    english = list(dict.fromkeys(text_utils.normalize_text(target) for _, target in read_pairs(translation_dir)))
    kept, excluded = [], 0
    for sentence, words in zip(english, words_of(english), strict=True):
        if not words:
            continue
        if _word_key(words) in taken:
            excluded += 1
        else:
            kept.append(sentence)
    fractions = (1.0 - config.validation_fraction, config.validation_fraction, 0.0)
    splits: dict[str, list[str]] = {"train": [], "validation": []}
    for sentence in kept:
        splits[split_of(text_utils.split_key(sentence), fractions, VALIDATION_SALT)].append(sentence)
    if not splits["train"] or not splits["validation"]:
        raise DataError(f"{translation_dir}: too few English sentences for a training and a validation set")
    sentiment_train = split_examples(examples, config.fractions, config.salt)["train"]
    return PretrainingCorpus(splits["train"], splits["validation"], excluded, sentiment_train)


def build_encoder_vocabulary(corpus: PretrainingCorpus, min_count: int, max_words: int) -> list[str]:
    """The sentence markers, then words seen ``min_count`` times in the pretraining and sentiment training text.

    Most frequent first (ties alphabetical), at most ``max_words`` words. Counting the
    sentiment training sentences gives their words rows of their own; validation and
    test sentences are never counted.
    """
    texts = [*corpus.train, *corpus.validation, *(example.text for example in corpus.sentiment_train)]
    counts = Counter(word for words in words_of(texts) for word in words)
    ranked = sorted((word for word, count in counts.items() if count >= min_count), key=lambda w: (-counts[w], w))
    return [*SENTENCE_MARKERS, *ranked[:max_words]]
