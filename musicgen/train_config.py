"""Every training option and its default, in one dataclass saved as ``train_config.json``.

:class:`TrainConfig` is the one record of how a model was trained; ``musicgen train``
builds its options from these fields (:mod:`musicgen.options`), so a default is written
here and nowhere else. :data:`ARCHITECTURE_FIELDS` are the options that fix the network:
``--resume`` refuses to change them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from musicgen import options
from musicgen.architecture import CELL_KINDS, IMPLEMENTATIONS
from musicgen.distribute import STRATEGIES
from musicgen.errors import ConfigError

ARCHITECTURE_FIELDS = ("cell", "implementation", "units", "num_layers", "embedding_dim", "one_hot", "dropout")
JIT_CHOICES = ("auto", "on", "off")
option = options.option


@dataclass
class TrainConfig:
    """Every training option and its default (saved as ``train_config.json``)."""

    cell: str = option("lstm", "recurrent cell", choices=CELL_KINDS)
    implementation: str = option(
        "custom", "musicgen's fused recurrent layer, or Keras's own (cuDNN on a GPU)", choices=IMPLEMENTATIONS
    )
    units: int = option(256, "units per recurrent layer", metavar="N")
    num_layers: int = option(2, "recurrent layers", flag="--layers", metavar="N")
    embedding_dim: int = option(128, "token embedding size", metavar="N")
    dropout: float = option(0.2, "dropout between layers", metavar="RATE")
    one_hot: bool = option(False, "one-hot inputs instead of a learned embedding (the course's contrast)")
    seq_len: int = option(256, "tokens per training window", metavar="N")
    batch_size: int = option(
        16, "global batch size, over all replicas (small data sets learn faster from more, smaller updates)",
        metavar="N",
    )
    epochs: int = option(40, "total epochs, counting resumed ones", metavar="N")
    learning_rate: float = option(2e-3, "Adam learning rate", metavar="RATE")
    clipnorm: float | None = option(1.0, "clip gradients to this global norm; 0 turns clipping off", metavar="NORM")
    augment: bool = option(True, "random transposition and time stretch of training windows")
    transpose_range: tuple[int, ...] = option((-3, 3), "transposition range in semitones, LOW,HIGH", metavar="LOW,HIGH")
    stretch_range: tuple[float, ...] = option((0.95, 1.05), "time-stretch factor range, LOW,HIGH", metavar="LOW,HIGH")
    control_dropout: float = option(
        0.5, "notes encoding: the chance each control token of a window is left out, so any may be unset",
        metavar="P", absent=0.0,
    )
    shuffle_tracks: float = option(
        0.25, "notes encoding: the share of windows whose tracks are put in a random order (for accompaniment)",
        metavar="P", absent=0.0,
    )
    infill: float = option(
        0.2, "notes encoding: the share of windows turned into fill-in-the-middle examples (for infill)",
        metavar="P", absent=0.0,
    )
    seed: int = option(0, "seed of the weights, the data order and the augmentation", metavar="N")
    steps_per_epoch: int | None = option(None, "cap on batches per epoch", metavar="N", default_text="all windows")
    max_minutes: float | None = option(
        None, "time budget; stops cleanly with a saved checkpoint", metavar="MINUTES", default_text="none"
    )
    early_stopping_patience: int = option(
        6, "epochs without validation improvement before stopping", flag="--patience", metavar="N"
    )
    lr_patience: int = option(2, "epochs without improvement before the learning rate is cut", metavar="N")
    lr_factor: float = option(0.5, "factor that cuts the learning rate on a plateau", metavar="FACTOR")
    min_learning_rate: float = option(1e-5, "the learning rate is never cut below this", metavar="RATE")
    distribute: str = option(
        "none", "tf.distribute strategy (multiworker reads TF_CONFIG)", choices=STRATEGIES
    )
    cpu_replicas: int = option(0, "with --distribute mirrored: mirror over N logical CPU devices", metavar="N")
    mixed_precision: bool = option(False, "mixed_float16 compute with float32 logits (for GPUs)")
    jit_compile: str = option("auto", "XLA compilation of the training step", choices=JIT_CHOICES)
    deterministic: bool = option(True, "deterministic TensorFlow ops on a CPU (same seed, same weights)")

    def to_dict(self) -> dict[str, Any]:
        """A plain JSON-able dict of every option."""
        return options.to_dict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are a ``ConfigError``."""
        # musicgen 0.1 also kept a copy of the tokenizer config here; tokenizer.json is its record.
        return options.from_dict(cls, values, "training option", legacy=("tokenizer",))

    def architecture(self) -> dict[str, Any]:
        """The options that fix the network (``--resume`` refuses to change them)."""
        return {name: getattr(self, name) for name in ARCHITECTURE_FIELDS}

    def validate(self) -> None:
        """Raise ``ConfigError`` for an out-of-range option."""
        positive = ("units", "num_layers", "embedding_dim", "seq_len", "batch_size", "epochs")
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ConfigError(f"{name.replace('_', '-')} must be a positive integer, got {value!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if not self.learning_rate > 0:
            raise ConfigError(f"learning-rate must be positive, got {self.learning_rate}")
        if self.clipnorm is not None and self.clipnorm < 0:
            raise ConfigError(f"clipnorm must be positive (0 turns clipping off), got {self.clipnorm}")
        if self.steps_per_epoch is not None and self.steps_per_epoch <= 0:
            raise ConfigError(f"steps-per-epoch must be positive, got {self.steps_per_epoch}")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise ConfigError(f"max-minutes must be positive, got {self.max_minutes}")
        if self.jit_compile not in JIT_CHOICES:
            raise ConfigError(f"jit-compile must be auto, on or off, got {self.jit_compile!r}")
        if not 0 < self.lr_factor < 1:
            raise ConfigError(f"lr_factor must be in (0, 1), got {self.lr_factor}")
        for name in ("control_dropout", "shuffle_tracks", "infill"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{name.replace('_', '-')} must be in [0, 1], got {getattr(self, name)}")
        for name in ("transpose_range", "stretch_range"):
            if len(getattr(self, name)) != 2:
                raise ConfigError(f"{name.replace('_', '-')} needs two values LOW,HIGH, got {getattr(self, name)}")
