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
from musicgen.errors import ConfigError
from musicgen.models.architecture import CELL_KINDS, IMPLEMENTATIONS
from musicgen.models.precision import PRECISIONS
from musicgen.training.distribute import STRATEGIES

ARCHITECTURE_FIELDS = ("cell", "units", "num_layers", "embedding_dim", "one_hot", "dropout")
JIT_CHOICES = ("auto", "on", "off")
option = options.option


@dataclass
class TrainConfig:
    """Every training option and its default (saved as ``train_config.json``).

    ``None`` means "chosen for the data" (:meth:`resolve`): the model's size, dropout,
    window length and transposition, and the schedule, which counts updates, so the same
    defaults suit 20 pieces and 20,000. The saved record holds the values chosen.
    """

    base: str | None = option(
        "auto", "fine-tune this trained checkpoint (its tokenizer, its model's shape and weights, a lower "
        "learning rate); 'none' trains from scratch; 'auto' fine-tunes the shipped base model on a small folder "
        "it can represent, when no tokenizer or model-shape option is given", flag="--from",
        metavar="CHECKPOINT", absent=None,
    )
    cell: str = option("lstm", "recurrent cell", choices=CELL_KINDS)
    implementation: str = option(
        "auto", "musicgen's fused recurrent layer ('custom'), Keras's own ('keras': cuDNN on a GPU), or 'auto': "
        "Keras's on a GPU and the fused layer on a CPU; the weights are the same either way",
        choices=("auto", *IMPLEMENTATIONS), absent="custom",
    )
    units: int | None = option(None, "units per recurrent layer", metavar="N", absent=256, default_text="by data size")
    num_layers: int | None = option(None, "recurrent layers", flag="--layers", metavar="N", absent=2,
                                    default_text="by data size")
    embedding_dim: int | None = option(None, "token embedding size", metavar="N", absent=128,
                                       default_text="by data size")
    dropout: float | None = option(None, "dropout between layers", metavar="RATE", absent=0.2,
                                   default_text="by data size")
    one_hot: bool = option(False, "one-hot inputs instead of a learned embedding (the course's contrast)")
    seq_len: int | None = option(None, "tokens per training window", metavar="N", absent=256,
                                 default_text="by data size")
    batch_size: int | None = option(
        None, "global batch size, over all replicas (small data sets learn faster from more, smaller updates)",
        metavar="N", absent=16, default_text="16, fewer when the recipe grows the window past 512 tokens",
    )
    max_updates: int | None = option(
        None, "the budget in updates (batches)", metavar="N", absent=None,
        default_text="40 epochs, at least 2,000 and at most 200,000",
    )
    epochs: int | None = option(None, "a cap in epochs, counting resumed ones", metavar="N", default_text="none")
    learning_rate: float | None = option(
        None, "Adam learning rate", metavar="RATE", absent=2e-3, default_text="2e-3; 5e-4 when fine-tuning"
    )
    warmup_updates: int = option(100, "updates over which the learning rate rises from zero", metavar="N", absent=0)
    clipnorm: float | None = option(1.0, "clip gradients to this global norm; 0 turns clipping off", metavar="NORM")
    augment: bool = option(True, "random transposition and time stretch of training windows")
    transpose_range: tuple[int, ...] | None = option(
        None, "transposition range in semitones, LOW,HIGH", metavar="LOW,HIGH", absent=(-3, 3),
        default_text="by data size",
    )
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
    eval_every: int | None = option(
        None, "updates between validations", metavar="N", absent=None,
        default_text="an epoch, at least 50 and at most 1,000",
    )
    patience_updates: int | None = option(
        None, "updates without validation improvement before stopping", flag="--patience", metavar="N",
        absent=None, default_text="10 validations, at least 300",
    )
    min_updates: int | None = option(
        None, "no early stop before this many updates (nor while the model is no better than the unigram)",
        metavar="N", absent=0, default_text="three epochs, at least 200 and at most 1,000",
    )
    lr_patience_updates: int | None = option(
        None, "updates without improvement before the learning rate is cut", flag="--lr-patience", metavar="N",
        absent=None, default_text="a third of the patience",
    )
    lr_factor: float = option(0.5, "factor that cuts the learning rate on a plateau", metavar="FACTOR")
    min_learning_rate: float = option(1e-5, "the learning rate is never cut below this", metavar="RATE")
    distribute: str = option(
        "none", "tf.distribute strategy (multiworker reads TF_CONFIG)", choices=STRATEGIES
    )
    cpu_replicas: int = option(0, "with --distribute mirrored: mirror over N logical CPU devices", metavar="N")
    precision: str = option(
        "auto", "precision of the recurrent layers' matrix products (weights, state and loss stay float32): auto "
        "(bfloat16 where the CPU or GPU has it, float16 on older GPUs, else float32)", choices=PRECISIONS,
        absent="float32")
    jit_compile: str = option("auto", "XLA compilation of the training step", choices=JIT_CHOICES)
    deterministic: bool = option(True, "deterministic TensorFlow ops on a CPU (same seed, same weights)")

    def to_dict(self) -> dict[str, Any]:
        """A plain JSON-able dict of every option."""
        return options.to_dict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are a ``ConfigError``."""
        # musicgen 0.1 also kept a copy of the tokenizer config here (tokenizer.json is its record)
        # and counted its patience in epochs; until 3 Dec 2026 --mixed-precision meant float16.
        values = dict(values)
        if "mixed_precision" in values:
            mixed = values.pop("mixed_precision")
            values.setdefault("precision", "float16" if mixed else "float32")
        return options.from_dict(cls, values, "training option",
                                 legacy=("tokenizer", "early_stopping_patience", "lr_patience"))

    def architecture(self) -> dict[str, Any]:
        """The options that fix the network (``--resume`` refuses to change them)."""
        return {name: getattr(self, name) for name in ARCHITECTURE_FIELDS}

    def validate(self) -> None:
        """Raise ``ConfigError`` for an out-of-range option (``None`` is "chosen for the data")."""
        positive = ("units", "num_layers", "embedding_dim", "seq_len", "batch_size", "epochs", "max_updates",
                    "eval_every", "patience_updates", "lr_patience_updates", "steps_per_epoch")
        for name in positive:
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value <= 0):
                raise ConfigError(f"{name.replace('_', '-')} must be a positive integer, got {value!r}")
        if self.dropout is not None and not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.learning_rate is not None and not self.learning_rate > 0:
            raise ConfigError(f"learning-rate must be positive, got {self.learning_rate}")
        if self.clipnorm is not None and self.clipnorm < 0:
            raise ConfigError(f"clipnorm must be positive (0 turns clipping off), got {self.clipnorm}")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise ConfigError(f"max-minutes must be positive, got {self.max_minutes}")
        if self.jit_compile not in JIT_CHOICES:
            raise ConfigError(f"jit-compile must be auto, on or off, got {self.jit_compile!r}")
        if not 0 < self.lr_factor < 1:
            raise ConfigError(f"lr_factor must be in (0, 1), got {self.lr_factor}")
        if self.warmup_updates < 0 or (self.min_updates is not None and self.min_updates < 0):
            raise ConfigError("warmup-updates and min-updates must not be negative")
        for name in ("control_dropout", "shuffle_tracks", "infill"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{name.replace('_', '-')} must be in [0, 1], got {getattr(self, name)}")
        for name in ("transpose_range", "stretch_range"):
            value = getattr(self, name)
            if value is not None and len(value) != 2:
                raise ConfigError(f"{name.replace('_', '-')} needs two values LOW,HIGH, got {value}")
