"""A trained sentiment classifier loaded from its checkpoint, and its predictions."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from musicgen.demos import text as text_utils
from musicgen.demos.sentiment.checkpoint import BASELINE_FILE, MODEL_FILE, read_config
from musicgen.demos.sentiment.config import LABEL_NAMES, FineTuneConfig, SentimentConfig
from musicgen.demos.sentiment.encoder import SENTENCE_MARKERS
from musicgen.demos.sentiment.model import load_model, predict_probabilities
from musicgen.demos.sentiment.words import words_of
from musicgen.errors import CheckpointError, DataError
from musicgen.paths import SENTIMENT_CHECKPOINT

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
                 directory: Path | None = None, fine_tune: FineTuneConfig | None = None,
                 encoder: dict[str, Any] | None = None):
        self.model = model
        self.config = config
        self.baseline = baseline
        self.directory = directory
        self.fine_tune = fine_tune
        self.encoder = encoder  # a fine-tuned classifier's record of its pretrained encoder
        self.vocabulary = frozenset(model.get_layer("vectorize").get_vocabulary()[2:]) - set(SENTENCE_MARKERS)

    @property
    def max_length(self) -> int:
        """Words read per text; the rest is ignored."""
        return (self.fine_tune or self.config).max_length

    def describe(self) -> dict[str, Any]:
        """The network in brief: trained from scratch or fine-tuned, its cell and implementation."""
        settings = self.encoder["config"] if self.encoder else self.config.to_dict()
        return {"encoder": "pretrained" if self.encoder else "scratch", "cell": settings["cell"],
                "implementation": settings["implementation"]}

    @classmethod
    def load(cls, directory: str | os.PathLike = SENTIMENT_CHECKPOINT) -> SentimentClassifier:
        """Load ``model.keras`` (safe mode), ``baseline.keras`` and ``config.json``; ``CheckpointError`` if unusable."""
        directory = Path(directory)
        config, meta = read_config(directory)
        try:
            fine_tune = FineTuneConfig.from_dict(meta["fine_tune"]) if "fine_tune" in meta else None
        except (TypeError, ValueError) as error:
            raise CheckpointError(f"{directory}/config.json: bad fine_tune settings: {error}") from None
        model = load_model(directory / MODEL_FILE)
        baseline = load_model(directory / BASELINE_FILE) if (directory / BASELINE_FILE).exists() else None
        try:
            return cls(model, config, baseline, directory, fine_tune, meta.get("encoder"))
        except ValueError as error:
            raise CheckpointError(f"{directory}/{MODEL_FILE}: not a sentiment classifier: {error}") from None

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Raw probabilities of "positive", no input checks (for batches of known-good text)."""
        return predict_probabilities(self.model, list(texts))

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
        limit = self.max_length
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
