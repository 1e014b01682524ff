"""Train a recurrent language model on token streams and keep a resumable checkpoint.

Teacher forcing with sparse categorical cross-entropy on logits, Adam with clipping by
global norm. The schedule counts updates (:mod:`musicgen.training.schedule`): a warm-up, a
validation every ``eval_every`` updates, learning-rate cuts on a plateau and early
stopping, within a budget of ``max_updates``; :mod:`musicgen.training.recipe` chooses what the
user leaves open for the data's size. One ``fit`` call trains the updates between two
validations (a round). The counters, the learning rate and the data position live in a
typed :class:`~musicgen.training.schedule.TrainState` saved as ``state.json``, so ``--resume``
continues exactly where the last round ended: update ``u`` always trains batch
``u % E`` of ``WindowPlan(seed=config.seed).dataset(epoch=u // E)``. The checkpoint
directory is locked for the run (:mod:`musicgen.training.locks`); when it ends, the best model and
an n-gram are scored on the validation pieces, with a verdict (:mod:`musicgen.training.feedback`).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from musicgen.data.bar_windows import tokens_to_hold
from musicgen.data.profile import ModelProfile
from musicgen.errors import CheckpointError, DiskFullError
from musicgen.training import checkpoint as ckpt
from musicgen.training import recipe
from musicgen.training.config import TrainConfig
from musicgen.training.inputs import (
    check_enough,
    open_training_data,
    split_streams,
    training_windows,
)
from musicgen.training.locks import DirectoryLock
from musicgen.training.schedule import Schedule, TrainState, unigram_loss
from musicgen.training.trainer import build_trainer

if TYPE_CHECKING:
    from musicgen.tokens import Tokenizer, TokenizerConfig
    from musicgen.training.checkpoint import Checkpoint

__all__ = ["Schedule", "TrainConfig", "TrainResult", "TrainState", "TrainingRun", "train"]


@dataclass
class TrainResult:
    """What a call to :func:`train` did."""

    directory: Path
    updates: int
    epochs: float
    best_updates: int | None
    best_val_loss: float | None
    stopped: str
    seconds: float
    config: TrainConfig | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    feedback: Any = None
    model: Any = field(default=None, repr=False)


def train(
    data: Any,
    out_dir: str | os.PathLike,
    config: TrainConfig | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    tokenizer_config: TokenizerConfig | None = None,
    tokenizer_options: dict[str, Any] | None = None,
) -> TrainResult:
    """Train on ``data`` (a music folder, a prepared cache or a ``TokenCache``) into ``out_dir``.

    ``resume`` continues ``out_dir``'s last round (optimizer state and data order
    restored); otherwise an existing checkpoint there is refused unless ``overwrite``.
    ``config.base`` fine-tunes a trained checkpoint (:mod:`musicgen.training.finetune`). A music
    folder is encoded with ``tokenizer_config``, or with the configuration its profile
    calls for, ``tokenizer_options`` winning over the choices. Options left at ``None``
    are chosen for the data (:mod:`musicgen.training.recipe`). Every file is written atomically,
    and ``out_dir`` is locked against a second run for as long as this one lasts.
    """
    config = config or TrainConfig()
    config.validate()
    out_dir = Path(out_dir).expanduser()
    chief = _is_chief_process(config)
    existed = out_dir.exists()
    if chief:
        ckpt.check_output(out_dir, resume, overwrite)
    lock = DirectoryLock(out_dir).acquire() if chief else None
    try:
        return _train(data, out_dir, config, resume, overwrite, progress, tokenizer_config, tokenizer_options, chief)
    except DiskFullError as error:
        raise DiskFullError(f"{error}; the last good checkpoint in {out_dir} is intact "
                            "(continue it with --resume once there is room)") from error
    finally:
        if lock is not None:
            lock.release()
            if not existed and not ckpt.is_checkpoint(out_dir):
                shutil.rmtree(out_dir, ignore_errors=True)


def _train(data: Any, out_dir: Path, config: TrainConfig, resume: bool, overwrite: bool, progress: bool,
           tokenizer_config: TokenizerConfig | None, tokenizer_options: dict | None, chief: bool) -> TrainResult:
    from musicgen.training import finetune

    saved_config = ckpt.read_train_config(out_dir) if resume and (out_dir / ckpt.CONFIG_FILE).is_file() else None
    requested = finetune.requested_base(config)
    if saved_config is not None:
        saved = finetune.requested_base(saved_config)
        if requested == finetune.AUTO:
            requested = saved  # a resumed run keeps the start it chose
        elif saved != requested:
            raise CheckpointError(f"cannot resume {out_dir}: it was trained --from {saved or 'none'}, "
                                  f"not --from {requested or 'none'}; resume without --from or with the same one")
    base = finetune.load_base(requested) if requested not in (None, finetune.AUTO) else None
    if base is not None:
        tokenizer_config = finetune.base_tokenizer_config(base, tokenizer_config, tokenizer_options)
        tokenizer_options = None
    # Open the data before TensorFlow starts: preparing a music folder forks worker processes.
    cache = open_training_data(data, tokenizer_config, tokenizer_options, progress)
    if base is not None:
        finetune.check_representable(cache, base)
    base_fits = True  # whether the end-of-run hints may offer fine-tuning the base model
    reason = ""
    if requested == finetune.AUTO:
        base, cache, reason, base_fits = finetune.choose_base(
            config, cache, data, tokenizer_config is not None or bool(tokenizer_options),
            lambda folder, tokens: open_training_data(folder, tokens, None, progress))
        _say(progress, reason)
    config = dataclasses.replace(config, base=str(base.directory) if base is not None else None)
    check_enough(cache)
    from musicgen.training import distribute

    strategy = distribute.make_strategy(config.distribute, config.cpu_replicas)
    chief = distribute.is_chief(strategy)
    tokenizer = cache.tokenizer
    cached_train = cache.streams("train")
    train_tokens = sum(len(stream) for stream in cached_train) or cache.manifest["total_tokens"]
    hold = tokens_to_hold(cached_train, tokenizer)
    config = recipe.resolve_model(config, train_tokens, base.train_config if base is not None else None, hold)
    requested_implementation = config.implementation  # recorded as asked: a resume elsewhere chooses anew
    config = dataclasses.replace(config, implementation=recipe.implementation(config))
    train_streams, val_streams, split = split_streams(cache, config.seq_len, tokenizer)
    saved = _check_resume(out_dir, config, tokenizer) if resume else None
    plan = training_windows(config, tokenizer, train_streams)  # too little data fails before any write
    updates_per_epoch = min(plan.batches, config.steps_per_epoch or plan.batches)
    config = recipe.resolve_schedule(config, updates_per_epoch)
    _say(progress, recipe.describe(config, len(cache.pieces), train_tokens, updates_per_epoch,
                                   base.directory if base is not None else None))
    _say(progress, f"validation: {split['validation_source']}")
    write_dir = out_dir if chief else distribute.output_directory(out_dir, strategy)
    if chief and overwrite and not resume:
        ckpt.clear(out_dir)
    ckpt.ensure_writable(write_dir)
    ckpt.write_metadata(write_dir, tokenizer, dataclasses.replace(config, implementation=requested_implementation), split)
    profile = ModelProfile.of(train_streams, cache.stats("train"), tokenizer, cache.manifest)
    ckpt.write_profile(write_dir, profile)
    try:
        run = TrainingRun(config, strategy, tokenizer, train_streams, val_streams, write_dir, saved,
                          progress and chief, plan=plan, base=base)
        result = run.fit()
        result.directory = out_dir
        if chief and result.updates:
            held_out = {"validation": val_streams, "test": cache.streams("test")}
            scratch = None if base is not None else (reason if requested == finetune.AUTO else "--from none was given")
            result.feedback = run.assess(train_tokens, len(cache.pieces), base_fits,
                                         {name: (len(streams), sum(len(s) for s in streams))
                                          for name, streams in held_out.items()}, scratch)
        return result
    finally:
        if not chief:
            shutil.rmtree(write_dir, ignore_errors=True)


class TrainingRun:
    """One training run: the model, the data plan, the state, and the loop of rounds."""

    def __init__(self, config: TrainConfig, strategy: Any, tokenizer: Tokenizer, train_streams: list, val_streams: list,
                 out_dir: Path, saved: TrainState | None, progress: bool, plan: Any = None, base: Checkpoint | None = None) -> None:
        self.config, self.strategy, self.tokenizer = config, strategy, tokenizer
        self.out_dir, self.saved, self.progress, self.base = out_dir, saved, progress, base
        self.train_streams, self.val_streams = train_streams, val_streams
        self.plan = plan or training_windows(config, tokenizer, train_streams)
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

        from musicgen.data import windows
        from musicgen.models.precision import apply_precision, choose_precision
        from musicgen.training import distribute
        from musicgen.training.history import HistoryLog

        config = self.config
        self.precision, why = choose_precision(config.precision)
        _say(self.progress, f"precision: {self.precision} ({why})")
        previous_policy = keras.config.dtype_policy()
        if self.precision == "float16":  # everything in float16, with Keras's loss scaling (GPUs)
            keras.config.set_dtype_policy("mixed_float16")
        try:
            with self.strategy.scope():
                self.model, self.trainer = build_trainer(
                    config, self.tokenizer.vocab_size, self.out_dir if self.saved else None,
                    multi_worker=distribute.is_multi_worker(self.strategy),
                    base_model=self.base.model if self.base is not None and not self.saved else None,
                )
        finally:
            keras.config.set_dtype_policy(previous_policy)
        if self.precision == "bfloat16":
            apply_precision(self.model, self.precision)
        # The uncompiled view that model.keras holds (no optimizer state).
        self.export = keras.Model(self.model.input, self.model.output, name=self.model.name)
        self.steps = min(self.plan.batches, config.steps_per_epoch or self.plan.batches)
        if self.saved:
            self.state = dataclasses.replace(self.saved, resumed=self.saved.resumed + 1)
        else:
            self.state = TrainState(
                learning_rate=float(config.learning_rate), seed=config.seed, updates_per_epoch=self.steps,
                parameters=int(self.model.count_params()),
                base=str(self.base.directory) if self.base is not None else None,
                base_wall_seconds=_total_seconds(self.base.state) if self.base is not None else 0.0,
                unigram_loss=unigram_loss(self.train_streams, self.val_streams, self.tokenizer.vocab_size,
                                          self.tokenizer.pad_id),
            )
        if self.state.updates_per_epoch != self.steps:
            raise CheckpointError(
                f"cannot resume {self.out_dir}: an epoch was {self.state.updates_per_epoch} batches and is now "
                f"{self.steps} (the data or --batch-size changed); train into a new --out directory"
            )
        validation = windows.WindowPlan(self.val_streams, config.seq_len, config.batch_size, shuffle=False,
                                        drop_remainder=False, tokenizer=self.tokenizer)
        self.val_data = validation.dataset(epoch=0, cardinality=True)
        self.log = HistoryLog(self.out_dir, HistoryLog.read_rows(self.out_dir / ckpt.HISTORY_FILE)
                              if self.saved else [])

    def _fit(self) -> TrainResult:
        from musicgen.training import distribute
        from musicgen.training.callbacks import RoundProgress, StepLearningRate, TimeBudget

        self._build()
        config, state = self.config, self.state
        deadline = self.started + config.max_minutes * 60 if config.max_minutes else None
        self.progress_bar = RoundProgress(config.max_updates, config.batch_size * config.seq_len,
                                          enabled=self.progress)
        self.budget = TimeBudget(deadline)
        self.rate = StepLearningRate(lambda update: self.schedule.learning_rate(self.state, update))
        stopped, validation_seconds, rounds = "completed", 0.0, 0
        _say(self.progress, f"training {self.model.count_params():,} parameters ({config.implementation} layers) on "
             f"{distribute.describe(self.strategy)}: {len(self.train_streams)} training / {len(self.val_streams)} "
             f"validation pieces, {self.steps} updates per epoch")
        if self.saved:
            _say(self.progress, f"resuming {self.out_dir} after {state.updates:,} updates ({state.epoch:.1f} epochs)")
        try:
            if self.base is not None and not self.log.rows:
                self._validate({})  # where fine-tuning starts: the base model on this data
            while True:
                if state.updates >= config.max_updates:
                    break
                if self.schedule.should_stop(state):
                    stopped = "early_stopping"
                    _say(self.progress, f"stopping early: {self.schedule.why_stopped(state)}")
                    break
                if rounds and deadline is not None and time.monotonic() + validation_seconds >= deadline:
                    stopped = "time_budget"
                    break
                count = min(config.eval_every - state.updates % config.eval_every, config.max_updates - state.updates)
                self.budget.deadline = None if deadline is None else deadline - validation_seconds
                logs = self._train_round(count)
                validated = time.monotonic()
                self._validate(logs)
                validation_seconds, rounds = time.monotonic() - validated, rounds + 1
                if self.budget.stopped:
                    stopped = "time_budget"
                    break
        finally:
            self.progress_bar.close()
            self.log.close()
        _say(self.progress, f"stopped ({stopped}) after {state.updates:,} updates ({state.epoch:.1f} epochs); best "
             f"validation loss {_format(state.best_val_loss)} at {state.best_updates or 0:,} updates; "
             f"checkpoint in {self.out_dir}")
        return TrainResult(self.out_dir, state.updates, state.epoch, state.best_updates, state.best_val_loss, stopped,
                           time.monotonic() - self.started, config, list(self.log.rows), model=self.model)

    def _train_round(self, count: int) -> dict:
        """Train up to ``count`` updates (fewer when the time runs out); the round's last logs."""
        state = self.state
        self.progress_bar.first_update, self.progress_bar.steps = state.updates, count
        self.rate.first_update = state.updates
        started = time.monotonic()
        fitted = self.trainer.fit(
            self._round_data(state.updates, count), epochs=1, steps_per_epoch=count, verbose=0, shuffle=False,
            callbacks=[self.rate, self.progress_bar, self.budget],
        )
        state.wall_seconds += time.monotonic() - started
        state.total_wall_seconds = state.base_wall_seconds + state.wall_seconds
        state.updates += self.budget.steps_done
        self.round_tokens_per_second = self.progress_bar.tokens_per_second
        return {key: values[-1] for key, values in fitted.history.items()}

    def _round_data(self, start: int, count: int) -> Any:
        """Batches ``start`` to ``start + count`` of the run's fixed order, across epoch boundaries."""
        parts, update = [], start
        while update < start + count:
            epoch, offset = divmod(update, self.steps)
            take = min(self.steps - offset, start + count - update)
            parts.append(self.plan.dataset(epoch=epoch, skip=offset, take=take))
            update += take
        data = parts[0]
        for part in parts[1:]:
            data = data.concatenate(part)
        return data

    def _validate(self, logs: dict) -> dict:
        """Score the validation windows, advance the schedule and write the checkpoint."""
        from musicgen.models.likelihood import perplexity

        val = self.trainer.evaluate(self.val_data, verbose=0, return_dict=True)
        state = self.state
        loss = logs.get("loss")
        row = {
            "updates": state.updates, "epoch": round(state.epoch, 3),
            "loss": None if loss is None else float(loss), "perplexity": None if loss is None else perplexity(loss),
            "accuracy": float(logs.get("accuracy", float("nan"))),
            "gradient_norm": float(logs.get("gradient_norm", float("nan"))),
            "val_loss": float(val["loss"]), "val_perplexity": perplexity(val["loss"]),
            "val_accuracy": float(val.get("accuracy", float("nan"))),
            "learning_rate": float(self.model.optimizer.learning_rate.numpy()) if logs else state.learning_rate,
            "tokens_per_second": round(getattr(self, "round_tokens_per_second", 0.0), 1),
            "seconds": round(state.wall_seconds, 1),
        }
        improved = self.schedule.update(state, row["val_loss"])
        if improved:
            ckpt.save_model_file(self.export, self.out_dir / ckpt.MODEL_FILE)
        self._save_last()
        self.log.append(row)
        state.history = _summary(self.log.rows)
        ckpt.write_state(self.out_dir, state.to_dict())
        _say(self.progress, _round_line(row, self.config.max_updates, improved))
        return row

    def _save_last(self) -> None:
        ckpt.save_model_file(self.model, self.out_dir / ckpt.LAST_FILE)
        self.state.last_sha256 = ckpt.fileio.sha256_file(self.out_dir / ckpt.LAST_FILE)

    def assess(self, train_tokens: int, pieces: int, base_fits: bool = True,
               held_out: dict[str, tuple[int, int]] | None = None, scratch_reason: str | None = None) -> Any:
        """The end-of-run verdict on the best model (printed, and kept in ``state.json``);
        ``base_fits`` false keeps the hints from offering a base model that cannot keep the folder;
        ``held_out`` gives the validation and test splits' pieces and tokens, ``scratch_reason``
        why the run did not fine-tune a base model."""
        from musicgen.training import feedback

        best = ckpt.load_model_file(self.out_dir / ckpt.MODEL_FILE)
        verdict = feedback.assess(best, self.tokenizer, self.train_streams, self.val_streams, self.log.rows,
                                  self.state, train_tokens, pieces, base_fits=base_fits, held_out=held_out,
                                  scratch_reason=scratch_reason)
        self.state.history["feedback"] = verdict.to_dict()
        ckpt.write_state(self.out_dir, self.state.to_dict())
        for line in verdict.lines():
            _say(self.progress, line)
        return verdict


def _is_chief_process(config: TrainConfig) -> bool:
    """Whether this process is the chief, judged from ``TF_CONFIG`` before TensorFlow starts."""
    if config.distribute != "multiworker":
        return True
    from musicgen.training import distribute

    cluster = distribute.read_tf_config()
    task = cluster.get("task", {})
    return task.get("type") == "chief" or (task.get("type") == "worker" and int(task.get("index", 0)) == 0
                                          and "chief" not in cluster.get("cluster", {}))


def _check_resume(out_dir: Path, config: TrainConfig, tokenizer: Tokenizer) -> TrainState | None:
    """The saved state to resume from (None before a first epoch), after checking the data and model match."""
    saved = ckpt.check_resumable(out_dir, config.architecture(), tokenizer)
    if saved is None:
        return None
    state = TrainState.from_dict(saved)
    if state.last_sha256 not in (None, ckpt.fileio.sha256_file(out_dir / ckpt.LAST_FILE)):
        # Only a crash in the instant between the two renames can cause this.
        _say(True, f"warning: {out_dir / ckpt.LAST_FILE} is newer than {ckpt.STATE_FILE} (training was killed "
             f"between the two writes); continuing from it with the state after {state.updates:,} updates")
    return state


def _summary(rows: list[dict]) -> dict[str, Any]:
    if not rows:
        return {}
    return {
        "validations": len(rows), "first_loss": rows[0]["loss"], "last_loss": rows[-1]["loss"],
        "first_val_loss": rows[0]["val_loss"], "last_val_loss": rows[-1]["val_loss"],
        "min_val_loss": min(row["val_loss"] for row in rows),
    }


def _round_line(row: dict, budget: int, improved: bool) -> str:
    trained = "" if row["loss"] is None else (
        f"loss {row['loss']:.4f} (ppl {row['perplexity']:.2f}, acc {row['accuracy']:.3f}, "
        f"|g| {row['gradient_norm']:.2f}) ")
    return (
        f"update {row['updates']:,}/{budget:,} (epoch {row['epoch']:.1f}): {trained}val_loss {row['val_loss']:.4f} "
        f"(ppl {row['val_perplexity']:.2f}, acc {row['val_accuracy']:.3f}) lr {row['learning_rate']:.2e} "
        f"{row['tokens_per_second']:,.0f} tok/s{' *best*' if improved else ''}"
    )


def _format(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _say(enabled: bool, message: str) -> None:
    if enabled:
        print(message, file=sys.stderr, flush=True)


def _total_seconds(state: dict | None) -> float:
    """The training time a checkpoint's weights went through (``state.json``; older checkpoints: their own run's)."""
    state = state or {}
    return float(state.get("total_wall_seconds") or state.get("wall_seconds") or 0.0)
