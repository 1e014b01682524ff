"""Training the Spanish-to-English translator: best epoch by validation loss, resumable.

:func:`train_translator` fits :class:`~musicgen.demos.translation.model.Seq2SeqTranslator`
on length-bucketed batches and keeps the epoch with the lowest validation loss in the
checkpoint directory, with a JSON record of the run and the history as CSV.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

import musicgen.demos.translation.data as data
from musicgen import fileio, paths
from musicgen.demos.translation.config import TranslatorConfig
from musicgen.demos.translation.translator import MODEL_FILE, Translator
from musicgen.errors import CheckpointError, ConfigError, DataError

CONFIG_FILE = "train_config.json"
HISTORY_FILE = "history.csv"


@dataclass
class TrainResult:
    """What :func:`train_translator` did."""

    checkpoint_dir: Path
    epochs_run: int
    best_epoch: int
    best_validation_loss: float
    best_validation_accuracy: float
    seconds: float
    history: dict[str, list[float]]


def train_translator(
    data_dir: str | Path = paths.TRANSLATION_DATA_DIR,
    out_dir: str | Path = paths.TRANSLATION_CHECKPOINT,
    config: TranslatorConfig | None = None,
    verbose: int = 1,
    resume: bool = False,
) -> TrainResult:
    """Train on the train split, keep the best epoch by validation loss in ``out_dir``.

    With ``resume``, continue from the model saved in ``out_dir`` for ``config.epochs``
    more epochs: its architecture, vocabularies and length rule are kept, the optimiser
    starts afresh, and history and training time carry on from the earlier run.
    """
    from musicgen.runtime import set_seed

    config = config or TranslatorConfig()
    if config.epochs < 1 or config.batch_size < 1 or config.max_tokens < 1:
        raise ConfigError("epochs, batch size and max tokens must be at least 1")
    out_dir = Path(out_dir)
    previous = _previous_run(out_dir) if resume else None
    if previous is not None:
        config = dataclasses.replace(
            TranslatorConfig.from_dict(previous["config"]), epochs=config.epochs, max_minutes=config.max_minutes,
            learning_rate=config.learning_rate, seed=config.seed + len(previous["history"].get("loss", [])),
        )
    set_seed(config.seed)
    splits = data.load_splits(data_dir, config.max_tokens)
    train_pairs = splits["train"][: config.max_train_pairs] if config.max_train_pairs else splits["train"]
    if not train_pairs or not splits["validation"]:
        raise DataError(f"{data_dir}: too few pairs for a train and a validation split")
    model = Translator.load(out_dir).model if previous is not None else _new_model(config, train_pairs)
    source_index = {token: i for i, token in enumerate(model.source_vocabulary)}
    target_index = {token: i for i, token in enumerate(model.target_vocabulary)}
    train_ids = data.encode_pairs(train_pairs, source_index, target_index)
    validation_ids = data.encode_pairs(splits["validation"], source_index, target_index)
    rng = np.random.default_rng(config.seed)
    model.build()
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate, clipnorm=config.clipnorm),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        jit_compile=False,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    saver = _BestModelSaver(out_dir, config, {name: len(pairs) for name, pairs in splits.items()}, previous)
    callbacks = [saver]
    if config.max_minutes:
        callbacks.append(_TimeLimit(config.max_minutes * 60.0))
    initial_epoch = len(saver.history.get("loss", []))
    with contextlib.redirect_stdout(sys.stderr):  # progress bars go to stderr
        model.fit(
            _dataset(train_ids, rng, config.batch_size), validation_data=_dataset(validation_ids, None, config.batch_size),
            epochs=initial_epoch + config.epochs, initial_epoch=initial_epoch,
            callbacks=callbacks, verbose=verbose, shuffle=False,  # the batches come shuffled
        )
    if saver.best_epoch == 0:
        raise DataError("training stopped before the first epoch finished; raise --max-minutes")
    return TrainResult(
        out_dir, len(saver.history.get("loss", [])), saver.best_epoch, saver.best_loss,
        saver.best_accuracy, saver.seconds(), saver.history,
    )


def _new_model(config: TranslatorConfig, train_pairs: list) -> Any:
    """An untrained translator with vocabularies and truecasing from the training pairs."""
    from musicgen.demos.translation.model import Seq2SeqTranslator

    return Seq2SeqTranslator(
        data.build_vocabulary((p.source_tokens for p in train_pairs), config.min_count, config.max_source_vocabulary),
        data.build_vocabulary((p.target_tokens for p in train_pairs), config.min_count, config.max_target_vocabulary),
        data.build_truecase(pair.target for pair in train_pairs),
        cell=config.cell, units=config.units, embedding_dim=config.embedding_dim,
        attention_score=config.attention_score, dropout=config.dropout,
        implementation=config.implementation, max_tokens=config.max_tokens, name="translator",
    )


def _dataset(ids: tuple, shuffle_rng: Any, batch_size: int) -> Any:
    """Length-bucketed ``((source, target input), target, weights)`` batches of encoded pairs."""
    import tensorflow as tf

    spec = tf.TensorSpec((None, None), tf.int32)
    signature = ((spec, spec), spec, tf.TensorSpec((None, None), tf.float32))
    return tf.data.Dataset.from_generator(
        lambda: data.length_bucketed_batches(*ids, batch_size, shuffle_rng), output_signature=signature,
    ).apply(tf.data.experimental.assert_cardinality(data.count_batches(len(ids[0]), batch_size))).prefetch(4)


def save_model(model, path: str | Path) -> None:
    """Save weights, config and vocabularies atomically, without the optimiser state.

    The optimiser's moments would triple the file; a resumed run starts a fresh one.
    """
    bare = type(model).from_config(model.get_config())
    bare.build()
    bare.set_weights(model.get_weights())
    with fileio.atomic_path(path) as temporary:
        bare.save(temporary)


def _previous_run(out_dir: Path) -> dict[str, Any]:
    """The record of the run saved in ``out_dir`` (for ``resume``); ``CheckpointError`` if none."""
    record = out_dir / CONFIG_FILE
    if not (out_dir / MODEL_FILE).is_file() or not record.is_file():
        raise CheckpointError(f"{out_dir}: nothing to resume (needs {MODEL_FILE} and {CONFIG_FILE})")
    try:
        previous = fileio.read_json(record)
        TranslatorConfig.from_dict(previous["config"])
        if "history" not in previous:  # records of the first version kept it in history.csv only
            previous["history"] = _read_history(out_dir / HISTORY_FILE)
    except (ValueError, KeyError, TypeError, OSError) as error:
        raise CheckpointError(f"{record}: not a translation training record ({error})") from error
    return previous


def _read_history(path: Path) -> dict[str, list[float]]:
    lines = path.read_text(encoding="utf-8").split()
    keys = lines[0].split(",")[1:]
    rows = [[float(value) for value in line.split(",")[1:]] for line in lines[1:]]
    return {key: [row[index] for row in rows] for index, key in enumerate(keys)}


class _BestModelSaver(keras.callbacks.Callback):
    """After each epoch: history and record on disk, the model when validation loss improves."""

    def __init__(
        self, out_dir: Path, config: TranslatorConfig, split_sizes: dict[str, int],
        previous: dict[str, Any] | None = None,
    ):
        super().__init__()
        self.out_dir, self.config, self.split_sizes = out_dir, config, split_sizes
        previous = previous or {}
        self.best_loss = float(previous.get("best_validation_loss", float("inf")))
        self.best_accuracy = float(previous.get("best_validation_accuracy", 0.0))
        self.best_epoch = int(previous.get("best_epoch", 0))
        self.history: dict[str, list[float]] = {k: list(v) for k, v in previous.get("history", {}).items()}
        self.earlier_seconds = float(previous.get("training_seconds", 0.0))
        self.earlier_cpu_seconds = float(previous.get("training_cpu_seconds", 0.0))
        self.runs = int(previous.get("runs", 0)) + 1
        self.started, self.cpu_started = time.monotonic(), time.process_time()

    def seconds(self) -> float:
        return self.earlier_seconds + time.monotonic() - self.started

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))
        validation_loss = float(logs.get("val_loss", float("inf")))
        if validation_loss < self.best_loss:
            self.best_loss, self.best_epoch = validation_loss, epoch + 1
            self.best_accuracy = float(logs.get("val_accuracy", 0.0))
            save_model(self.model, self.out_dir / MODEL_FILE)
        keys = sorted(self.history)
        rows = ["epoch," + ",".join(keys)]
        rows += [
            f"{index + 1}," + ",".join(f"{self.history[key][index]:.6f}" for key in keys)
            for index in range(len(self.history[keys[0]]))
        ] if keys else []
        fileio.atomic_write_text(self.out_dir / HISTORY_FILE, "\n".join(rows) + "\n")
        fileio.atomic_write_json(self.out_dir / CONFIG_FILE, {
            "config": self.config.to_dict(),
            "task": f"Spanish to English, pairs with at most {self.config.max_tokens} tokens per side",
            "split_sizes": self.split_sizes,
            "best_epoch": self.best_epoch,
            "best_validation_loss": self.best_loss,
            "best_validation_accuracy": self.best_accuracy,
            "epochs_run": epoch + 1,
            "runs": self.runs,
            "history": self.history,
            "training_seconds": round(self.seconds(), 1),
            "training_cpu_seconds": round(self.earlier_cpu_seconds + time.process_time() - self.cpu_started, 1),
        })


class _TimeLimit(keras.callbacks.Callback):
    """Stop training once ``seconds`` have passed (checked after each batch)."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds, self.started = seconds, time.monotonic()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if time.monotonic() - self.started > self.seconds:
            self.model.stop_training = True
