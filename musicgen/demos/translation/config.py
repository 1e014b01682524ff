"""Training settings and choices of the translation demo (no TensorFlow import, so the CLI can read them)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

CELLS = ("gru", "lstm", "rnn", "irnn")
IMPLEMENTATIONS = ("custom", "keras")


@dataclass
class TranslatorConfig:
    """Every training default of the translation demo, in one place."""

    cell: str = "gru"
    units: int = 256
    embedding_dim: int = 128
    attention_score: str = "additive"
    dropout: float = 0.1
    implementation: str = "custom"
    max_tokens: int = 7
    min_count: int = 2
    max_source_vocabulary: int = 8000
    max_target_vocabulary: int = 4000
    batch_size: int = 64
    epochs: int = 10
    learning_rate: float = 2e-3
    clipnorm: float = 1.0
    max_minutes: float | None = None
    max_train_pairs: int | None = None
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TranslatorConfig:
        known = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})
