"""Train a recurrent language model on token streams and keep a resumable checkpoint.

Teacher forcing with sparse categorical cross-entropy on logits, Adam with clipping by
global norm, validation every epoch, early stopping on validation loss and learning-rate
reduction on plateau (:class:`Schedule`). The epoch loop is ours (one ``fit`` call per
epoch, :class:`TrainingRun`) so that the schedule's counters, the learning rate and the
data position live in a typed :class:`TrainState` saved as ``state.json``, and
``--resume`` continues exactly where the last epoch ended: epoch ``e`` always sees the
windows of ``WindowPlan(seed=config.seed).dataset(epoch=e)``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from musicgen import checkpoint as ckpt
from musicgen import options
from musicgen.errors import ConfigError, DataError
from musicgen.profile import ModelProfile
from musicgen.splits import SPLIT_NAMES, hold_out_tails
from musicgen.train_config import TrainConfig
from musicgen.trainer import build_trainer

__all__ = ["Schedule", "TrainConfig", "TrainResult", "TrainState", "TrainingRun", "train"]


@dataclass
class TrainState:
    """What a resumed run needs besides the weights and the optimizer (``state.json``)."""

    epoch: int = 0  # completed epochs
    step_in_epoch: int = 0  # batches of the next epoch already trained (a stop on the time budget)
    best_val_loss: float | None = None
    best_epoch: int | None = None
    wait: int = 0  # epochs since the best one
    learning_rate: float = 0.0
    seed: int = 0
    wall_seconds: float = 0.0
    resumed: int = 0
    parameters: int = 0
    last_sha256: str | None = None  # of last.keras, to notice a crash between two writes
    data_order: str = "WindowPlan(seed=seed).dataset(epoch=e) for epoch e"
    history: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainState:
        return options.from_dict(cls, values, "training state", legacy=("format", "format_version"))


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


@dataclass
class Schedule:
    """Learning-rate cuts on a plateau and early stopping, counted in epochs."""

    patience: int
    lr_patience: int
    lr_factor: float
    min_learning_rate: float

    @classmethod
    def of(cls, config: TrainConfig) -> Schedule:
        return cls(config.early_stopping_patience, config.lr_patience, config.lr_factor, config.min_learning_rate)

    def update(self, state: TrainState, epoch: int, val_loss: float) -> bool:
        """Record a validated epoch; True when it is the best so far. May cut ``state.learning_rate``."""
        state.epoch, state.step_in_epoch = epoch, 0
        improved = math.isfinite(val_loss) and (state.best_val_loss is None or val_loss < state.best_val_loss)
        if improved:
            state.best_val_loss, state.best_epoch, state.wait = val_loss, epoch, 0
        else:
            state.wait += 1
            if state.wait % self.lr_patience == 0:
                state.learning_rate = max(state.learning_rate * self.lr_factor, self.min_learning_rate)
        return improved

    def should_stop(self, state: TrainState) -> bool:
        return state.wait >= self.patience


def train(
    data: Any,
    out_dir: str | os.PathLike,
    config: TrainConfig | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    tokenizer_config: Any = None,
    tokenizer_options: dict[str, Any] | None = None,
) -> TrainResult:
    """Train on ``data`` (a music folder, a prepared cache or a ``TokenCache``) into ``out_dir``.

    ``resume`` continues ``out_dir``'s last completed epoch (optimizer state and data
    order restored); otherwise an existing checkpoint there is refused unless
    ``overwrite``. A music folder is encoded with ``tokenizer_config``, or with the
    configuration its profile calls for, ``tokenizer_options`` winning over the choices.
    Every file is written atomically.
    """
    config = config or TrainConfig()
    config.validate()
    out_dir = Path(out_dir).expanduser()
    if _is_chief_process(config):
        ckpt.check_output(out_dir, resume, overwrite)
    # Open the data before TensorFlow starts: preparing a music folder forks worker processes.
    cache = _open(data, tokenizer_config, tokenizer_options, progress)
    from musicgen import distribute

    strategy = distribute.make_strategy(config.distribute, config.cpu_replicas)
    chief = distribute.is_chief(strategy)
    tokenizer = cache.tokenizer
    train_streams, val_streams, split = _split_streams(cache, config.seq_len, tokenizer)
    saved = _check_resume(out_dir, config, tokenizer) if resume else None
    training_windows(config, tokenizer, train_streams)  # a data set too small for a batch fails before any write
    write_dir = out_dir if chief else distribute.output_directory(out_dir, strategy)
    if chief and overwrite and not resume:
        ckpt.clear(out_dir)
    ckpt.ensure_writable(write_dir)
    ckpt.write_metadata(write_dir, tokenizer, config, split)
    profile = ModelProfile.of(train_streams, cache.stats("train"), tokenizer, cache.manifest)
    ckpt.write_profile(write_dir, profile)
    try:
        run = TrainingRun(config, strategy, tokenizer, train_streams, val_streams, write_dir, saved, progress and chief)
        result = run.fit()
        result.directory = out_dir
        return result
    finally:
        if not chief:
            shutil.rmtree(write_dir, ignore_errors=True)


class TrainingRun:
    """One training run: the model, the data plan, the state, and the epoch loop."""

    def __init__(self, config: TrainConfig, strategy: Any, tokenizer: Any, train_streams: list, val_streams: list,
                 out_dir: Path, saved: TrainState | None, progress: bool) -> None:
        self.config, self.strategy, self.tokenizer = config, strategy, tokenizer
        self.out_dir, self.saved, self.progress = out_dir, saved, progress
        self.train_streams, self.val_streams = train_streams, val_streams
        self.schedule = Schedule.of(config)
        self.started = time.monotonic()

    def fit(self) -> TrainResult:
        """Seed, switch on deterministic ops for the run (CPU only), then train."""
        from musicgen import compat
        from musicgen.runtime import set_seed

        set_seed(self.config.seed)
        with compat.op_determinism(self.config.deterministic):
            return self._fit()

    def _build(self) -> None:
        import keras

        from musicgen import distribute, windows
        from musicgen.history import HistoryLog

        config = self.config
        previous_policy = keras.config.dtype_policy()
        if config.mixed_precision:
            keras.config.set_dtype_policy("mixed_float16")
        try:
            with self.strategy.scope():
                self.model, self.trainer = build_trainer(
                    config, self.tokenizer.vocab_size, self.out_dir if self.saved else None,
                    multi_worker=distribute.is_multi_worker(self.strategy),
                )
        finally:
            keras.config.set_dtype_policy(previous_policy)
        # The uncompiled view that model.keras holds (no optimizer state).
        self.export = keras.Model(self.model.input, self.model.output, name=self.model.name)
        if self.saved:
            self.state = dataclasses.replace(self.saved, resumed=self.saved.resumed + 1)
            self.model.optimizer.learning_rate.assign(self.state.learning_rate)
        else:
            self.state = TrainState(learning_rate=float(config.learning_rate), seed=config.seed,
                                    parameters=int(self.model.count_params()))
        self.plan = training_windows(config, self.tokenizer, self.train_streams)
        self.steps = min(self.plan.batches, config.steps_per_epoch or self.plan.batches)
        validation = windows.WindowPlan(self.val_streams, config.seq_len, config.batch_size, shuffle=False,
                                        drop_remainder=False, tokenizer=self.tokenizer)
        self.val_data = validation.dataset(epoch=0, cardinality=True)
        self.log = HistoryLog(self.out_dir, HistoryLog.read_rows(self.out_dir / ckpt.HISTORY_FILE)
                              if self.saved else [])

    def _fit(self) -> TrainResult:
        from musicgen import distribute
        from musicgen.callbacks import EpochProgress, TimeBudget

        self._build()
        config, state = self.config, self.state
        deadline = self.started + config.max_minutes * 60 if config.max_minutes else None
        self.progress_bar = EpochProgress(config.epochs, self.steps, config.batch_size * config.seq_len,
                                          enabled=self.progress)
        self.budget = TimeBudget(deadline)
        stopped, last_epoch_seconds = "completed", 0.0
        _say(self.progress, f"training {self.model.count_params():,} parameters on {distribute.describe(self.strategy)}: "
             f"{len(self.train_streams)} training / {len(self.val_streams)} validation pieces, "
             f"{self.steps} steps per epoch")
        if self.saved:
            _say(self.progress, f"resuming {self.out_dir} after epoch {state.epoch}"
                 + (f", step {state.step_in_epoch}" if state.step_in_epoch else ""))
        try:
            for epoch in range(state.epoch, config.epochs):
                if self.schedule.should_stop(state):
                    stopped = "early_stopping"
                    break
                epoch_started = time.monotonic()
                logs = self._train_epoch(epoch)
                if logs is None:
                    stopped = "time_budget"
                    break
                row = self._validate(epoch, logs, epoch_started)
                last_epoch_seconds = row["seconds"]
                if deadline is not None and time.monotonic() + last_epoch_seconds > deadline:
                    stopped = "time_budget"
                    break
        finally:
            self.progress_bar.close()
            self.log.close()
        _say(self.progress, f"stopped ({stopped}) after {state.epoch} epochs; best validation loss "
             f"{_format(state.best_val_loss)} at epoch {state.best_epoch}; checkpoint in {self.out_dir}")
        return TrainResult(self.out_dir, state.epoch, state.best_epoch, state.best_val_loss, stopped,
                           time.monotonic() - self.started, list(self.log.rows), self.model)

    def _train_epoch(self, epoch: int) -> dict | None:
        """Train one epoch (the rest of it, after a stop); its logs, or None if the time ran out."""
        state, steps = self.state, self.steps
        skip = state.step_in_epoch if epoch == state.epoch else 0
        data = self.plan.dataset(epoch=epoch, skip=skip, take=steps - skip)
        self.progress_bar.steps = steps - skip
        started = time.monotonic()
        fitted = self.trainer.fit(
            data, epochs=epoch + 1, initial_epoch=epoch, steps_per_epoch=steps - skip,
            verbose=0, shuffle=False, callbacks=[self.progress_bar, self.budget],
        )
        state.wall_seconds += time.monotonic() - started
        if self.budget.stopped and skip + self.budget.steps_done < steps:
            state.step_in_epoch = skip + self.budget.steps_done
            self._save_partial()
            return None
        return {key: values[-1] for key, values in fitted.history.items()}

    def _validate(self, epoch: int, logs: dict, epoch_started: float) -> dict:
        """Score the validation windows, advance the schedule and write the checkpoint."""
        from musicgen.evaluation import perplexity

        val = self.trainer.evaluate(self.val_data, verbose=0, return_dict=True)
        state = self.state
        row = {
            "epoch": epoch + 1,
            "loss": float(logs["loss"]), "perplexity": perplexity(logs["loss"]),
            "accuracy": float(logs.get("accuracy", float("nan"))),
            "gradient_norm": float(logs.get("gradient_norm", float("nan"))),
            "val_loss": float(val["loss"]), "val_perplexity": perplexity(val["loss"]),
            "val_accuracy": float(val.get("accuracy", float("nan"))),
            "learning_rate": float(self.model.optimizer.learning_rate.numpy()),
            "tokens_per_second": round(self.progress_bar.tokens_per_second, 1),
            "seconds": round(time.monotonic() - epoch_started, 3),
        }
        improved = self.schedule.update(state, row["epoch"], row["val_loss"])
        self.model.optimizer.learning_rate.assign(state.learning_rate)
        if improved:
            ckpt.save_model_file(self.export, self.out_dir / ckpt.MODEL_FILE)
        self._save_last()
        self.log.append(row)
        state.history = _summary(self.log.rows)
        ckpt.write_state(self.out_dir, state.to_dict())
        _say(self.progress, _epoch_line(row, self.config.epochs, improved))
        return row

    def _save_last(self) -> None:
        ckpt.save_model_file(self.model, self.out_dir / ckpt.LAST_FILE)
        self.state.last_sha256 = ckpt.fileio.sha256_file(self.out_dir / ckpt.LAST_FILE)

    def _save_partial(self) -> None:
        """Checkpoint a mid-epoch stop: ``last.keras`` plus the step to resume from."""
        if not (self.out_dir / ckpt.MODEL_FILE).is_file():
            ckpt.save_model_file(self.export, self.out_dir / ckpt.MODEL_FILE)
        self._save_last()
        ckpt.write_state(self.out_dir, self.state.to_dict())


def training_windows(config: TrainConfig, tokenizer: Any, streams: list) -> Any:
    """The :class:`~musicgen.windows.WindowPlan` of the training streams (augmented as configured)."""
    from musicgen import windows

    augment = None
    if config.augment:
        from musicgen.augment import Augmentation

        augment = Augmentation(tokenizer, semitones=tuple(config.transpose_range), stretch=tuple(config.stretch_range))
    editor = None
    if tokenizer.config.encoding == "notes":
        from musicgen.window_edits import WindowEditor

        editor = WindowEditor(tokenizer, config.control_dropout, config.shuffle_tracks, config.infill)
    plan = windows.WindowPlan(streams, config.seq_len, config.batch_size, shuffle=True, seed=config.seed,
                              augment=augment, tokenizer=tokenizer, editor=editor)
    if plan.batches == 0:
        raise DataError(
            f"the training split has {plan.plan.num_windows} windows of {config.seq_len} tokens, "
            f"fewer than one batch of {config.batch_size}; lower --batch-size or --seq-len"
        )
    return plan


def _open(data: Any, tokenizer_config: Any, tokenizer_options: dict | None, progress: bool) -> Any:
    if not (hasattr(data, "streams") and hasattr(data, "tokenizer")):
        from musicgen.data import open_data

        data = open_data(data, tokenizer_config=tokenizer_config, tokenizer_options=tokenizer_options,
                         progress=progress)
    if tokenizer_options and any(getattr(data.tokenizer_config, key) != value for key, value in tokenizer_options.items()):
        raise ConfigError(
            f"the prepared cache {data.directory} was encoded with other tokenizer options than "
            f"{tokenizer_options}; train on the music folder {data.manifest.get('source_dir')} instead"
        )
    if progress:
        _say(True, data.summary())
    return data


def _split_streams(cache: Any, seq_len: int, tokenizer: Any) -> tuple[list, list, dict]:
    """Training and validation streams plus ``split.json``'s content.

    When the validation split has no piece longer than a window (a tiny data set), the
    last tenth (at least one window) of each long training piece is held out instead; in
    the notes encoding, where windows may be short, its last tenth of bars under its header.
    """
    if tokenizer.config.encoding == "notes":
        return _split_bar_streams(cache)
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
    split = _split_record(cache)
    if not any(len(stream) > seq_len for stream in train_streams):
        raise DataError(f"no training piece is longer than --seq-len {seq_len}; lower --seq-len or add music")
    if not any(len(stream) > seq_len for stream in val_streams):
        heads, tails = hold_out_tails(train_streams, minimum=seq_len + 1)
        if not tails:
            raise DataError(
                f"no validation data: the validation split has no piece longer than --seq-len {seq_len} "
                "and no training piece is long enough to hold out its tail; add music or lower --seq-len"
            )
        train_streams, val_streams = heads, tails
        split["validation_source"] = "last tenth of each long training piece (validation split too small)"
    return train_streams, val_streams, split


def _split_bar_streams(cache: Any) -> tuple[list, list, dict]:
    from musicgen.bar_windows import hold_out_bars

    train_streams, val_streams = list(cache.streams("train")), list(cache.streams("validation"))
    split = _split_record(cache)
    if not train_streams:
        raise DataError(f"{cache.directory} has no training piece; add music")
    if not val_streams:
        train_streams, val_streams = hold_out_bars(train_streams, cache.tokenizer)
        split["validation_source"] = "last tenth of the bars of each training piece (the validation split is empty)"
    if not val_streams:
        raise DataError("no validation data: the validation split is empty and no training piece has two bars; add music")
    return train_streams, val_streams, split


def _split_record(cache: Any) -> dict:
    manifest = cache.manifest
    split = {name: cache.files(name) for name in SPLIT_NAMES}
    split.update(source_dir=str(manifest.get("source_dir", "")), cache=str(cache.directory),
                 build_id=manifest.get("build_id"), validation_source="validation split")
    return split


def _is_chief_process(config: TrainConfig) -> bool:
    """Whether this process is the chief, judged from ``TF_CONFIG`` before TensorFlow starts."""
    if config.distribute != "multiworker":
        return True
    from musicgen import distribute

    cluster = distribute.read_tf_config()
    task = cluster.get("task", {})
    return task.get("type") == "chief" or (task.get("type") == "worker" and int(task.get("index", 0)) == 0
                                          and "chief" not in cluster.get("cluster", {}))


def _check_resume(out_dir: Path, config: TrainConfig, tokenizer: Any) -> TrainState | None:
    """The saved state to resume from (None before a first epoch), after checking the data and model match."""
    saved = ckpt.check_resumable(out_dir, config.architecture(), tokenizer)
    if saved is None:
        return None
    state = TrainState.from_dict(saved)
    if state.last_sha256 not in (None, ckpt.fileio.sha256_file(out_dir / ckpt.LAST_FILE)):
        # Only a crash in the instant between the two renames can cause this.
        _say(True, f"warning: {out_dir / ckpt.LAST_FILE} is newer than {ckpt.STATE_FILE} (training was killed "
             f"between the two writes); continuing from it with the state of epoch {state.epoch}")
    return state


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


def _say(enabled: bool, message: str) -> None:
    if enabled:
        print(message, file=sys.stderr, flush=True)
