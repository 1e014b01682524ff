"""Train a recurrent language model on token streams and keep a resumable checkpoint.

Teacher forcing with sparse categorical cross-entropy on logits, Adam with clipping by
global norm, validation every epoch, early stopping on validation loss and learning-rate
reduction on plateau. The epoch loop is ours (one ``fit`` call per epoch) so that the
early-stopping and plateau counters, the learning rate and the data order live in
``state.json`` and ``--resume`` continues exactly where the last epoch ended: epoch
``e`` always sees the windows ``window_dataset(seed=config.seed, epoch=e)``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from musicgen import checkpoint as ckpt
from musicgen.errors import ConfigError, DataError
from musicgen.trainer import build_trainer

# TrainConfig fields that fix the network: --resume refuses to change them.
ARCHITECTURE_FIELDS = ("cell", "implementation", "units", "num_layers", "embedding_dim", "one_hot", "dropout")


@dataclass
class TrainConfig:
    """Every training option and its default (saved as ``train_config.json``)."""

    cell: str = "lstm"
    implementation: str = "custom"
    units: int = 256
    num_layers: int = 2
    embedding_dim: int = 128
    dropout: float = 0.2
    one_hot: bool = False
    seq_len: int = 256
    batch_size: int = 16
    epochs: int = 40
    learning_rate: float = 2e-3
    clipnorm: float | None = 1.0
    augment: bool = True
    transpose_range: tuple[int, int] = (-3, 3)
    stretch_range: tuple[float, float] = (0.95, 1.05)
    seed: int = 0
    steps_per_epoch: int | None = None
    max_minutes: float | None = None
    early_stopping_patience: int = 6
    lr_patience: int = 2
    lr_factor: float = 0.5
    min_learning_rate: float = 1e-5
    distribute: str = "none"
    cpu_replicas: int = 0
    mixed_precision: bool = False
    jit_compile: str = "auto"
    deterministic: bool = True
    tokenizer: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["transpose_range"] = list(self.transpose_range)
        values["stretch_range"] = list(self.stretch_range)
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are a ``ConfigError``."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(f"unknown training options: {', '.join(unknown)}")
        values = dict(values)
        for name in ("transpose_range", "stretch_range"):
            if name in values:
                values[name] = tuple(values[name])
        return cls(**values)

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
        if self.jit_compile not in ("auto", "on", "off"):
            raise ConfigError(f"jit-compile must be auto, on or off, got {self.jit_compile!r}")
        if not 0 < self.lr_factor < 1:
            raise ConfigError(f"lr_factor must be in (0, 1), got {self.lr_factor}")


@dataclass
class TrainResult:
    """What a call to :func:`train` did."""

    directory: Path
    epochs_completed: int
    best_epoch: int | None
    best_val_loss: float | None
    stopped: str
    seconds: float
    history: list[dict[str, Any]] = field(default_factory=list)
    model: Any = field(default=None, repr=False)


def train(
    data: Any,
    out_dir: str | os.PathLike,
    config: TrainConfig | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> TrainResult:
    """Train on ``data`` (a music folder, a prepared cache or a ``TokenCache``) into ``out_dir``.

    ``resume`` continues ``out_dir``'s last completed epoch (optimizer state and data
    order restored); otherwise an existing checkpoint there is refused unless
    ``overwrite``. Every file is written atomically.
    """
    config = config or TrainConfig()
    config.validate()
    out_dir = Path(out_dir).expanduser()
    if _is_chief_process(config):
        ckpt.check_output(out_dir, resume, overwrite)
    # Open the data before TensorFlow starts: preparing a music folder forks worker processes.
    cache = _open(data, config)
    from musicgen import distribute

    strategy = distribute.make_strategy(config.distribute, config.cpu_replicas)
    chief = distribute.is_chief(strategy)
    train_streams, val_streams, split = _split_streams(cache, config.seq_len)
    tokenizer = cache.tokenizer
    saved_state = _check_resume(out_dir, config, tokenizer) if resume else None
    write_dir = out_dir if chief else distribute.output_directory(out_dir, strategy)
    if chief and overwrite and not resume:
        ckpt.clear(out_dir)
    ckpt.ensure_writable(write_dir)
    ckpt.write_metadata(write_dir, tokenizer, config, split)
    try:
        result = _run(config, strategy, tokenizer, train_streams, val_streams, write_dir, saved_state, progress and chief)
        result.directory = out_dir
        return result
    finally:
        if not chief:
            shutil.rmtree(write_dir, ignore_errors=True)


def _run(config, strategy, tokenizer, train_streams, val_streams, out_dir, saved, progress) -> TrainResult:
    """Seed, switch on deterministic ops for the run (CPU only), then train."""
    import tensorflow as tf
    from tensorflow.python.framework.config import disable_op_determinism, is_op_determinism_enabled

    from musicgen.runtime import set_seed

    started = time.monotonic()
    set_seed(config.seed)
    deterministic = config.deterministic and not tf.config.list_physical_devices("GPU")
    was_deterministic = is_op_determinism_enabled()
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    try:
        return _fit(config, strategy, tokenizer, train_streams, val_streams, out_dir, saved, progress, started)
    finally:
        if deterministic and not was_deterministic:
            disable_op_determinism()


def _fit(config, strategy, tokenizer, train_streams, val_streams, out_dir, saved, progress, started) -> TrainResult:
    import keras
    import tensorflow as tf

    from musicgen import distribute, windows
    from musicgen.callbacks import EpochProgress, HistoryLog, TimeBudget

    deadline = started + config.max_minutes * 60 if config.max_minutes else None
    previous_policy = keras.config.dtype_policy()
    if config.mixed_precision:
        keras.config.set_dtype_policy("mixed_float16")
    try:
        with strategy.scope():
            model, trainer = build_trainer(
                config, tokenizer.vocab_size, out_dir if saved and saved.get("resumable") else None,
                multi_worker=distribute.is_multi_worker(strategy),
            )
    finally:
        keras.config.set_dtype_policy(previous_policy)
    export = keras.Model(model.input, model.output, name=model.name)  # uncompiled view for model.keras

    state = _initial_state(config, saved, model)
    if saved:
        model.optimizer.learning_rate.assign(state["learning_rate"])
    full_steps = windows.steps_per_epoch(train_streams, config.seq_len, config.batch_size)
    if full_steps == 0:
        raise DataError(
            f"the training split has {windows.window_count(train_streams, config.seq_len)} windows of "
            f"{config.seq_len} tokens, fewer than one batch of {config.batch_size}; lower --batch-size or --seq-len"
        )
    steps = min(full_steps, config.steps_per_epoch or full_steps)
    augment = None
    if config.augment:
        from musicgen.augment import Augmentation

        augment = Augmentation(tokenizer, semitones=tuple(config.transpose_range), stretch=tuple(config.stretch_range))
    val_data = windows.window_dataset(
        val_streams, config.seq_len, config.batch_size, shuffle=False, drop_remainder=False
    ).apply(tf.data.experimental.assert_cardinality(
        windows.steps_per_epoch(val_streams, config.seq_len, config.batch_size, drop_remainder=False)
    ))
    log = HistoryLog(out_dir, HistoryLog.read_rows(out_dir / ckpt.HISTORY_FILE) if saved else [])
    progress_bar = EpochProgress(config.epochs, steps, config.batch_size * config.seq_len, enabled=progress)
    budget = TimeBudget(deadline)
    last_epoch_seconds = 0.0
    stopped = "completed"
    if progress:
        _say(f"training {model.count_params():,} parameters on {distribute.describe(strategy)}: "
             f"{len(train_streams)} training / {len(val_streams)} validation pieces, {steps} steps per epoch")
        if saved and saved.get("resumable"):
            _say(f"resuming {out_dir} after epoch {state['epoch']}"
                 + (f", step {state['step_in_epoch']}" if state["step_in_epoch"] else ""))
    try:
        for epoch in range(state["epoch"], config.epochs):
            if state["wait"] >= config.early_stopping_patience:
                stopped = "early_stopping"
                break
            skip = state["step_in_epoch"] if epoch == state["epoch"] else 0
            epoch_data = windows.window_dataset(
                train_streams, config.seq_len, config.batch_size, shuffle=True, seed=config.seed,
                augment=augment, epoch=epoch,
            ).skip(skip).take(steps - skip).apply(tf.data.experimental.assert_cardinality(steps - skip))
            progress_bar.steps = steps - skip
            epoch_started = time.monotonic()
            fitted = trainer.fit(
                epoch_data, epochs=epoch + 1, initial_epoch=epoch, steps_per_epoch=steps - skip,
                verbose=0, shuffle=False, callbacks=[progress_bar, budget],
            )
            logs = {key: values[-1] for key, values in fitted.history.items()}
            state["wall_seconds"] += time.monotonic() - epoch_started
            if budget.stopped and skip + budget.steps_done < steps:
                state["step_in_epoch"] = skip + budget.steps_done
                _save_partial(out_dir, model, export, state)
                stopped = "time_budget"
                break
            val = trainer.evaluate(val_data, verbose=0, return_dict=True)
            row = _history_row(epoch, logs, val, model, progress_bar, time.monotonic() - epoch_started)
            last_epoch_seconds = row["seconds"]
            improved = _update_state(state, row, config, model)
            if improved:
                ckpt.save_model_file(export, out_dir / ckpt.MODEL_FILE)
            ckpt.save_model_file(model, out_dir / ckpt.LAST_FILE)
            state["last_sha256"] = ckpt.fileio.sha256_file(out_dir / ckpt.LAST_FILE)
            log.append(row)
            state["history"] = _summary(log.rows)
            ckpt.write_state(out_dir, state)
            if progress:
                _say(_epoch_line(row, config.epochs, improved))
            if deadline is not None and time.monotonic() + last_epoch_seconds > deadline:
                stopped = "time_budget"
                break
    finally:
        progress_bar.close()
        log.close()
    if progress:
        _say(f"stopped ({stopped}) after {state['epoch']} epochs; best validation loss "
             f"{_format(state['best_val_loss'])} at epoch {state['best_epoch']}; checkpoint in {out_dir}")
    return TrainResult(
        out_dir, state["epoch"], state["best_epoch"], state["best_val_loss"], stopped,
        time.monotonic() - started, list(log.rows), model,
    )


def _open(data: Any, config: TrainConfig) -> Any:
    if hasattr(data, "streams") and hasattr(data, "tokenizer"):
        return data
    from musicgen.data import open_data
    from musicgen.tokenizer import TokenizerConfig

    tokenizer_config = TokenizerConfig.from_dict(config.tokenizer) if config.tokenizer else None
    return open_data(data, tokenizer_config=tokenizer_config)


def _split_streams(cache: Any, seq_len: int) -> tuple[list, list, dict]:
    """Training and validation streams plus ``split.json``'s content.

    When the validation split has no piece longer than a window (a tiny data set), the
    last tenth (at least one window) of each long training piece is held out instead.
    """
    train_streams = list(cache.streams("train"))
    val_streams = list(cache.streams("validation"))
    all_streams = list(cache.streams("all"))
    if not all_streams:
        raise DataError(f"{cache.directory} holds no encoded pieces")
    longest = max(len(stream) for stream in all_streams)
    if longest <= seq_len:
        raise DataError(
            f"--seq-len {seq_len} is longer than every piece (the longest has {longest - 1} "
            f"predictable tokens); lower --seq-len"
        )
    manifest = cache.manifest
    split = {name: cache.files(name) for name in ("train", "validation", "test")}
    split.update(source_dir=str(manifest.get("source_dir", "")), cache=str(cache.directory),
                 build_id=manifest.get("build_id"), validation_source="validation split")
    if not any(len(stream) > seq_len for stream in train_streams):
        raise DataError(f"no training piece is longer than --seq-len {seq_len}; lower --seq-len or add music")
    if not any(len(stream) > seq_len for stream in val_streams):
        heads, tails = [], []
        for stream in train_streams:
            holdout = max(seq_len + 1, len(stream) // 10)
            if len(stream) - holdout > seq_len:
                heads.append(stream[:-holdout])
                tails.append(stream[-holdout:])
            else:
                heads.append(stream)
        if not tails:
            raise DataError(
                f"no validation data: the validation split has no piece longer than --seq-len {seq_len} "
                "and no training piece is long enough to hold out its tail; add music or lower --seq-len"
            )
        train_streams, val_streams = heads, tails
        split["validation_source"] = "last tenth of each long training piece (validation split too small)"
    return train_streams, val_streams, split


def _is_chief_process(config: TrainConfig) -> bool:
    """Whether this process is the chief, judged from ``TF_CONFIG`` before TensorFlow starts."""
    if config.distribute != "multiworker":
        return True
    from musicgen import distribute

    task = distribute.read_tf_config().get("task", {})
    return task.get("type") == "chief" or (task.get("type") == "worker" and int(task.get("index", 0)) == 0
                                          and "chief" not in distribute.read_tf_config().get("cluster", {}))


def _check_resume(out_dir: Path, config: TrainConfig, tokenizer: Any) -> dict[str, Any]:
    """The saved state to resume from, after checking the data and model match the checkpoint."""
    architecture = {name: getattr(config, name) for name in ARCHITECTURE_FIELDS}
    state = ckpt.check_resumable(out_dir, architecture, tokenizer)
    if state is None:
        return {"resumable": False}
    if state.get("last_sha256") not in (None, ckpt.fileio.sha256_file(out_dir / ckpt.LAST_FILE)):
        # Only a crash in the instant between the two renames can cause this.
        _say(f"warning: {out_dir / ckpt.LAST_FILE} is newer than {ckpt.STATE_FILE} (training was killed "
             f"between the two writes); continuing from it with the state of epoch {state.get('epoch')}")
    return {**state, "resumable": True}


def _initial_state(config: TrainConfig, saved: dict | None, model: Any) -> dict[str, Any]:
    if saved and saved.get("resumable"):
        state = {key: value for key, value in saved.items() if key not in ("resumable", "format", "format_version")}
        state["resumed"] = state.get("resumed", 0) + 1
        return state
    return {
        "epoch": 0, "step_in_epoch": 0, "best_val_loss": None, "best_epoch": None, "wait": 0,
        "learning_rate": float(config.learning_rate), "seed": config.seed,
        "data_order": "windows.window_dataset(seed=seed, epoch=e) for epoch e",
        "wall_seconds": 0.0, "history": {}, "resumed": 0, "parameters": int(model.count_params()),
    }


def _update_state(state: dict, row: dict, config: TrainConfig, model: Any) -> bool:
    """Advance the epoch, early-stopping and plateau counters; True when validation improved."""
    state["epoch"] = row["epoch"]
    state["step_in_epoch"] = 0
    val_loss = row["val_loss"]
    best = state["best_val_loss"]
    improved = math.isfinite(val_loss) and (best is None or val_loss < best)
    if improved:
        state.update(best_val_loss=val_loss, best_epoch=row["epoch"], wait=0)
    else:
        state["wait"] += 1
        if state["wait"] % config.lr_patience == 0:
            new_rate = max(state["learning_rate"] * config.lr_factor, config.min_learning_rate)
            state["learning_rate"] = new_rate
            model.optimizer.learning_rate.assign(new_rate)
    return improved


def _save_partial(out_dir: Path, model: Any, export: Any, state: dict) -> None:
    """Checkpoint a mid-epoch stop: ``last.keras`` plus the step to resume from."""
    if not (out_dir / ckpt.MODEL_FILE).is_file():
        ckpt.save_model_file(export, out_dir / ckpt.MODEL_FILE)
    ckpt.save_model_file(model, out_dir / ckpt.LAST_FILE)
    state["last_sha256"] = ckpt.fileio.sha256_file(out_dir / ckpt.LAST_FILE)
    ckpt.write_state(out_dir, state)


def _history_row(epoch: int, logs: dict, val: dict, model: Any, progress_bar: Any, seconds: float) -> dict:
    from musicgen.callbacks import perplexity

    return {
        "epoch": epoch + 1,
        "loss": float(logs["loss"]), "perplexity": perplexity(logs["loss"]),
        "accuracy": float(logs.get("accuracy", float("nan"))),
        "gradient_norm": float(logs.get("gradient_norm", float("nan"))),
        "val_loss": float(val["loss"]), "val_perplexity": perplexity(val["loss"]),
        "val_accuracy": float(val.get("accuracy", float("nan"))),
        "learning_rate": float(model.optimizer.learning_rate.numpy()),
        "tokens_per_second": round(progress_bar.tokens_per_second, 1), "seconds": round(seconds, 3),
    }


def _summary(rows: list[dict]) -> dict[str, Any]:
    if not rows:
        return {}
    return {
        "epochs": len(rows), "first_loss": rows[0]["loss"], "last_loss": rows[-1]["loss"],
        "first_val_loss": rows[0]["val_loss"], "last_val_loss": rows[-1]["val_loss"],
        "min_val_loss": min(row["val_loss"] for row in rows),
    }


def _epoch_line(row: dict, epochs: int, improved: bool) -> str:
    return (
        f"epoch {row['epoch']}/{epochs}: loss {row['loss']:.4f} (ppl {row['perplexity']:.2f}, "
        f"acc {row['accuracy']:.3f}, |g| {row['gradient_norm']:.2f}) val_loss {row['val_loss']:.4f} "
        f"(ppl {row['val_perplexity']:.2f}, acc {row['val_accuracy']:.3f}) lr {row['learning_rate']:.2e} "
        f"{row['tokens_per_second']:,.0f} tok/s{' *best*' if improved else ''}"
    )


def _format(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _say(message: str) -> None:
    import sys

    print(message, file=sys.stderr, flush=True)
