"""Settings and choices of the sentiment demo (no TensorFlow import, so the CLI can read them)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from musicgen.errors import ConfigError
from musicgen.splits import DEFAULT_FRACTIONS, check_fractions

CELLS = ("rnn", "irnn", "lstm", "gru")  # musicgen.cells.CELL_KINDS, without importing Keras
IMPLEMENTATIONS = ("custom", "keras")
POOLINGS = ("last", "max", "mean", "max_mean")
LABEL_NAMES = ("negative", "positive")


@dataclass
class SentimentConfig:
    """Every training default in one place."""

    cell: str = "lstm"
    implementation: str = "custom"
    units: int = 32
    embedding_dim: int = 32
    pooling: str = "max_mean"
    members: int = 1
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
        if self.pooling not in POOLINGS:
            raise ConfigError(f"pooling must be one of {', '.join(POOLINGS)}, got {self.pooling!r}")
        for name in ("units", "embedding_dim", "members", "max_tokens", "min_count", "max_length", "epochs",
                     "batch_size", "patience", "baseline_epochs"):
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
