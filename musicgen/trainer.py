"""The training step: the language model wrapped for ``fit``, compiled with its optimizer.

``Trainer`` runs the standard teacher-forcing step and also tracks the global norm of the
gradient (the course's exploding gradients), and carries two work-arounds for Keras 3.15
under ``MultiWorkerMirroredStrategy``. :func:`build_trainer` builds or resumes the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from musicgen import checkpoint as ckpt


def trainer_class() -> type:
    """The ``keras.Model`` subclass that ``fit`` runs (built lazily: it needs TensorFlow)."""
    import keras
    import tensorflow as tf
    from keras.src.losses.loss import unscale_loss_for_distribution

    class Trainer(keras.Model):
        """Wraps the language model for ``fit``: the standard step plus the gradient's global norm."""

        def __init__(self, language_model: keras.Model, **kwargs: Any):
            super().__init__(**kwargs)
            self.language_model = language_model
            self.gradient_norm_tracker = keras.metrics.Mean(name="gradient_norm")
            self.multi_worker = False

        def call(self, inputs, training=False):
            return self.language_model(inputs, training=training)

        @property
        def metrics(self):
            return [*super().metrics, self.gradient_norm_tracker]

        def _maybe_symbolic_build(self, iterator=None, data_batch=None):
            # Under a strategy Keras builds metrics from a real batch merged with
            # strategy.reduce, which fails for (inputs, targets) under
            # MultiWorkerMirroredStrategy; a small local batch builds the same thing.
            if iterator is not None and data_batch is None:
                example = tf.zeros((1, 2), tf.int32)
                data_batch = (example, example)
            return super()._maybe_symbolic_build(data_batch=data_batch)

        def train_step(self, data):
            inputs, targets = data
            with tf.GradientTape() as tape:
                logits = self(inputs, training=True)
                loss = self._compute_loss(x=inputs, y=targets, y_pred=logits, training=True)
                self._loss_tracker.update_state(
                    unscale_loss_for_distribution(loss), sample_weight=tf.shape(inputs)[0]
                )
                scaled_loss = self.optimizer.scale_loss(loss)
            gradients = tape.gradient(scaled_loss, self.trainable_weights)
            # The norm of this replica's mean-loss gradient (undo loss scaling and replica scaling).
            norm = tf.linalg.global_norm(gradients) / self.optimizer.scale_loss(1.0)
            norm *= tf.distribute.get_strategy().num_replicas_in_sync
            self.optimizer.apply_gradients(zip(gradients, self.trainable_weights, strict=True))
            self.gradient_norm_tracker.update_state(norm)
            return self._for_reduction(self.compute_metrics(inputs, targets, logits))

        def test_step(self, data):
            return self._for_reduction(super().test_step(data))

        def _for_reduction(self, logs):
            # Keras merges multi-worker step outputs with strategy.reduce(..., axis=0),
            # which needs at least one dimension; the merged values are scalars again.
            if not self.multi_worker:
                return logs
            return {name: tf.reshape(value, [1]) for name, value in logs.items()}

    return Trainer


def build_trainer(config: Any, vocab_size: int, resume_from: Path | None, multi_worker: bool = False) -> tuple[Any, Any]:
    """The language model (compiled, owning the optimizer) and its ``fit`` wrapper."""
    import keras

    from musicgen import models

    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if resume_from is not None:
        model = ckpt.load_last_model(resume_from)
    else:
        model = models.build_language_model(
            vocab_size, cell=config.cell, units=config.units, num_layers=config.num_layers,
            embedding_dim=config.embedding_dim, dropout=config.dropout,
            implementation=config.implementation, one_hot=config.one_hot,
        )
        clip = config.clipnorm if config.clipnorm else None
        model.compile(optimizer=keras.optimizers.Adam(config.learning_rate, global_clipnorm=clip), loss=loss)
    trainer = trainer_class()(model, name="trainer")
    trainer.multi_worker = multi_worker
    jit = {"auto": "auto", "on": True, "off": False}[config.jit_compile]
    trainer.compile(
        optimizer=model.optimizer, loss=loss, jit_compile=jit,
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    return model, trainer
