"""Settings and choices of the sentiment demo (no TensorFlow import, so the CLI can read them).

:class:`SentimentConfig` is a training run: the split, the seed, the bag-of-words baseline
and the classifier trained from scratch. :class:`PretrainConfig` is the pretrained encoder
(forward and backward language models), :class:`FineTuneConfig` the classifier fine-tuned
from it (ULMFiT).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from musicgen.data.splits import DEFAULT_FRACTIONS, check_fractions
from musicgen.errors import ConfigError

CELLS = ("rnn", "irnn", "lstm", "gru")  # musicgen.models.cells.CELL_KINDS, without importing Keras
IMPLEMENTATIONS = ("custom", "keras")
POOLINGS = ("last", "max", "mean", "max_mean")
LABEL_NAMES = ("negative", "positive")
POOLED_LAYERS = ("top", "all")  # what a fine-tuned head pools: the top recurrent layer, or every level
DEFAULT_TRAIN_DIR = "runs/sentiment"  # where `musicgen sentiment train` writes unless told
DEFAULT_ENCODER_DIR = "runs/sentiment-encoder"  # where `musicgen sentiment pretrain` writes unless told
# The fields of SentimentConfig that describe the network trained from scratch; a pretrained
# encoder brings its own (see PretrainConfig), so they do not apply to fine-tuning.
SCRATCH_ARCHITECTURE = ("cell", "implementation", "pooling", "members", "units", "embedding_dim",
                        "embedding_dropout")


class _Settings:
    """``to_dict``/``from_dict`` for the config dataclasses; unknown keys are ignored, lists become tuples."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]):
        fields = {item.name: item for item in dataclasses.fields(cls)}
        values = {key: tuple(value) if isinstance(value, list) else value
                  for key, value in values.items() if key in fields}
        return cls(**values)


def _check_at_least_one(config: Any, names: tuple[str, ...]) -> None:
    for name in names:
        if getattr(config, name) < 1:
            raise ConfigError(f"{name} must be at least 1, got {getattr(config, name)}")


def _check_rate(config: Any, names: tuple[str, ...]) -> None:
    for name in names:
        if not 0.0 <= getattr(config, name) < 1.0:
            raise ConfigError(f"{name} must be in [0, 1), got {getattr(config, name)}")


def _check_positive(config: Any, names: tuple[str, ...]) -> None:
    for name in names:
        if not getattr(config, name) > 0:
            raise ConfigError(f"{name} must be positive, got {getattr(config, name)}")


@dataclass
class SentimentConfig(_Settings):
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
        _check_at_least_one(self, ("units", "embedding_dim", "members", "max_tokens", "min_count", "max_length",
                                   "epochs", "batch_size", "patience", "baseline_epochs"))
        _check_rate(self, ("embedding_dropout", "dropout"))
        _check_positive(self, ("learning_rate", "baseline_learning_rate"))
        if self.baseline_l2 < 0:
            raise ConfigError(f"baseline_l2 must not be negative, got {self.baseline_l2}")
        check_fractions(self.fractions)


@dataclass
class PretrainConfig(_Settings):
    """Every default of pretraining the encoder: a forward and a backward language model.

    Both directions share the word embedding and the output layer (as in ELMo), so the
    classifier built on them holds one embedding. The vocabulary is every word seen at
    least ``min_count`` times in the pretraining sentences and the training split of the
    sentiment data (split by ``fractions`` and ``salt``, which fine-tuning must share).
    """

    cell: str = "lstm"
    implementation: str = "custom"
    embedding_dim: int = 200
    units: int = 256
    num_layers: int = 2
    word_dropout: float = 0.1
    dropout: float = 0.25
    min_count: int = 2
    max_words: int = 20_000
    max_length: int = 48
    batch_size: int = 128
    epochs: int = 30
    learning_rate: float = 3e-3
    clipnorm: float = 1.0
    validation_fraction: float = 0.03
    max_minutes: float | None = None
    seed: int = 0
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS
    salt: str = ""

    def validate(self) -> None:
        """Raise ``ConfigError`` for out-of-range values."""
        if self.cell not in CELLS:
            raise ConfigError(f"cell must be one of {', '.join(CELLS)}, got {self.cell!r}")
        if self.implementation not in IMPLEMENTATIONS:
            raise ConfigError(f"implementation must be custom or keras, got {self.implementation!r}")
        _check_at_least_one(self, ("embedding_dim", "units", "num_layers", "min_count", "max_words", "max_length",
                                   "batch_size", "epochs"))
        _check_rate(self, ("word_dropout", "dropout"))
        _check_positive(self, ("learning_rate", "clipnorm"))
        if not 0.0 < self.validation_fraction < 1.0:
            raise ConfigError(f"validation_fraction must be in (0, 1), got {self.validation_fraction}")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise ConfigError(f"max_minutes must be positive, got {self.max_minutes}")
        check_fractions(self.fractions)


@dataclass
class FineTuneConfig(_Settings):
    """Every default of fine-tuning a pretrained encoder for sentiment, ULMFiT-style.

    The classifier pools each direction's top layer (last, max and mean over the words;
    with ``pooled_layers="all"`` every level, the word vectors included, as ELMo mixes
    them), gives each direction its own head and averages their probabilities. Layer groups, top
    first: the heads, each recurrent layer, the embedding. Group ``g`` learns at
    ``learning_rate / layer_decay ** g`` (discriminative rates); with ``gradual_unfreezing``
    epoch ``e`` (from 0) trains groups ``0..e`` only. The rate follows a slanted triangular
    schedule: a linear rise over the first ``warmup_fraction`` of the epochs, then a linear
    fall. ``freeze_encoder`` trains the heads alone. ``lm_epochs`` first fine-tune the
    language models on the training split's sentences (no labels).

    The defaults are the settings that scored best on the validation split
    (``docs/results.md``): every level pooled, one rate for all groups, no gradual
    unfreezing, and two epochs of language-model fine-tuning first. ULMFiT's own schedule
    (``layer_decay=2.6``, ``gradual_unfreezing=True``) stays available; it scored lower.
    """

    max_length: int = 48
    pooled_layers: str = "all"
    head_units: int = 50
    dropout: float = 0.4
    epochs: int = 12
    patience: int = 4
    batch_size: int = 32
    learning_rate: float = 3e-3
    layer_decay: float = 1.0
    warmup_fraction: float = 0.1
    gradual_unfreezing: bool = False
    freeze_encoder: bool = False
    lm_epochs: int = 2
    lm_learning_rate: float = 1e-3
    refit: bool = True

    def validate(self) -> None:
        """Raise ``ConfigError`` for out-of-range values."""
        if self.pooled_layers not in POOLED_LAYERS:
            raise ConfigError(f"pooled_layers must be one of {', '.join(POOLED_LAYERS)}, got {self.pooled_layers!r}")
        _check_at_least_one(self, ("max_length", "epochs", "patience", "batch_size"))
        _check_rate(self, ("dropout", "warmup_fraction"))
        _check_positive(self, ("learning_rate", "lm_learning_rate"))
        if self.head_units < 0 or self.lm_epochs < 0:
            raise ConfigError(f"head_units and lm_epochs must not be negative, got {self.head_units}, {self.lm_epochs}")
        if self.layer_decay < 1.0:
            raise ConfigError(f"layer_decay must be at least 1 (lower layers learn slower), got {self.layer_decay}")
