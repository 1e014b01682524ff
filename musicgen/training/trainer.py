"""The training step: the language model wrapped for ``fit``, compiled with its optimizer.

``Trainer`` runs the standard teacher-forcing step and also tracks the global norm of the
gradient (the course's exploding gradients); its work-arounds for Keras under
``MultiWorkerMirroredStrategy`` are in :mod:`musicgen.compat`. :func:`build_trainer`
builds or resumes the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from musicgen.tokens import Tokenizer
from musicgen.training import checkpoint as ckpt

if TYPE_CHECKING:
    from musicgen.training.config import TrainConfig

PAD_ID = Tokenizer.pad_id


def trainer_class() -> type:
    """The ``keras.Model`` subclass that ``fit`` runs (built lazily: it needs TensorFlow)."""
    import keras
    import tensorflow as tf

    from musicgen import compat

    class Trainer(compat.MultiWorkerStepFixes, keras.Model):
        """Wraps the language model for ``fit``: the standard step plus the gradient's global norm."""

        def __init__(self, language_model: keras.Model, **kwargs: Any):
            super().__init__(**kwargs)
            self.language_model = language_model
            self.gradient_norm_tracker = keras.metrics.Mean(name="gradient_norm")

        def call(self, inputs, training=False):
            return self.language_model(inputs, training=training)

        @property
        def metrics(self):
            return [*super().metrics, self.gradient_norm_tracker]

        def train_step(self, data):
            inputs, targets = data
            with tf.GradientTape() as tape:
                logits = self(inputs, training=True)
                loss = self.compute_loss(inputs, targets, logits, training=True)
                compat.loss_tracker(self).update_state(
                    compat.unscale_for_replicas(loss), sample_weight=tf.shape(inputs)[0]
                )
                scaled_loss = self.optimizer.scale_loss(loss)
            gradients = tape.gradient(scaled_loss, self.trainable_weights)
            # The norm of this replica's mean-loss gradient (undo loss scaling and replica scaling).
            norm = tf.linalg.global_norm(gradients) / self.optimizer.scale_loss(1.0)
            norm *= tf.distribute.get_strategy().num_replicas_in_sync
            self.optimizer.apply_gradients(zip(gradients, self.trainable_weights, strict=True))
            self.gradient_norm_tracker.update_state(norm)
            return self.for_reduction(self.compute_metrics(inputs, targets, logits))

        def test_step(self, data):
            return self.for_reduction(super().test_step(data))

    return Trainer


def masked_accuracy_class() -> type:
    """Next-token accuracy over the targets that are not PAD (a ``keras.metrics.Mean``)."""
    import keras
    from keras import ops

    class MaskedAccuracy(keras.metrics.Mean):
        def __init__(self, ignore: int, name: str = "accuracy", **kwargs: Any):
            super().__init__(name=name, **kwargs)
            self.ignore = ignore

        def update_state(self, y_true, y_pred, sample_weight=None):
            y_true = ops.cast(y_true, "int32")
            correct = ops.cast(ops.equal(ops.argmax(y_pred, axis=-1), ops.cast(y_true, "int64")), "float32")
            kept = ops.cast(ops.not_equal(y_true, self.ignore), "float32")
            return super().update_state(correct, sample_weight=kept)

    return MaskedAccuracy


def build_trainer(config: TrainConfig, vocab_size: int, resume_from: Path | None, multi_worker: bool = False,
                  base_model: Any = None) -> tuple[Any, Any]:
    """The language model (compiled, owning the optimizer) and its ``fit`` wrapper.

    ``resume_from`` continues a checkpoint's ``last.keras`` (weights and optimizer state,
    moved to ``config.implementation`` if it was saved with the other one); ``base_model``
    starts from a trained model's weights with a fresh optimizer (fine-tuning).
    """
    import keras

    from musicgen.models import language

    # PAD pads the end of a short window (notes encoding); it is never a target.
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=PAD_ID)
    if resume_from is not None:
        model = _moved(ckpt.load_last_model(resume_from), config, loss)
    else:
        model = language.build_language_model(
            vocab_size, cell=config.cell, units=config.units, num_layers=config.num_layers,
            embedding_dim=config.embedding_dim, dropout=config.dropout,
            implementation=config.implementation, one_hot=config.one_hot,
        )
        if base_model is not None:
            model.set_weights(base_model.get_weights())
        model.compile(optimizer=_adam(config), loss=loss)
    trainer = trainer_class()(model, name="trainer")
    trainer.multi_worker = multi_worker
    jit = {"auto": "auto", "on": True, "off": False}[config.jit_compile]
    trainer.compile(
        optimizer=model.optimizer, loss=loss, jit_compile=jit,
        metrics=[masked_accuracy_class()(PAD_ID, name="accuracy")],
    )
    return model, trainer


def _adam(config: TrainConfig) -> Any:
    import keras

    return keras.optimizers.Adam(config.learning_rate, global_clipnorm=config.clipnorm or None)


def _moved(model: Any, config: TrainConfig, loss: Any) -> Any:
    """A compiled model with ``config.implementation``'s layers, its weights and optimizer state kept."""
    from musicgen.models import language

    rebuilt = language.with_implementation(model, config.implementation, config)
    if rebuilt is model:
        return model
    optimizer = type(model.optimizer).from_config(model.optimizer.get_config())
    rebuilt.compile(optimizer=optimizer, loss=loss)
    optimizer.build(rebuilt.trainable_variables)
    sources, targets = model.optimizer.variables, optimizer.variables
    if [tuple(v.shape) for v in sources] != [tuple(v.shape) for v in targets]:
        raise ckpt.CheckpointError("the optimizer state of last.keras does not match the model; resume is impossible")
    for source, target in zip(sources, targets, strict=True):
        target.assign(source)
    return rebuilt
