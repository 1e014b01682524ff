"""Self-describing checkpoint directories: save, validate and load.

A checkpoint directory holds everything needed to sample from or evaluate a model
without any other flag::

    model.keras          the best model by validation loss (no optimizer state);
                         loads with ``keras.saving.load_model(path, safe_mode=True)``
    last.keras           the model at the last validation, compiled, with its
                         optimizer state (what ``--resume`` continues from)
    tokenizer.json       the tokenizer the model's ids belong to
    train_config.json    the TrainConfig the model was trained with
    split.json           which files of the data set are in which split
    profile.json         what the training data had (the sampler keeps to it)
    state.json           updates, best validation loss, seeds, wall time, the base model
    history.csv          one row of metrics per validation (every ``eval_every`` updates)
    tensorboard/         TensorBoard event files
    .lock                held by the run that writes the directory

Every file is written atomically (temporary file, then rename), and ``state.json`` is
written last, so a crash or ``kill -9`` at any moment leaves a loadable directory.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from musicgen import fileio
from musicgen.data.profile import ModelProfile
from musicgen.errors import CheckpointError, ConfigError
from musicgen.models.precision import apply_precision
from musicgen.tokens import Tokenizer, TokenizerConfig
from musicgen.training.config import TrainConfig

MODEL_FILE = "model.keras"
LAST_FILE = "last.keras"
TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "train_config.json"
SPLIT_FILE = "split.json"
PROFILE_FILE = "profile.json"
STATE_FILE = "state.json"
HISTORY_FILE = "history.csv"
TENSORBOARD_DIR = "tensorboard"
FORMAT = "musicgen-checkpoint"
FORMAT_VERSION = 1
REQUIRED_FILES = (MODEL_FILE, TOKENIZER_FILE, CONFIG_FILE, SPLIT_FILE, STATE_FILE)
# Files whose presence marks a directory as a musicgen checkpoint (finished or not).
MARKER_FILES = (STATE_FILE, MODEL_FILE, LAST_FILE, CONFIG_FILE)


@dataclass
class Checkpoint:
    """A loaded checkpoint: the best model and what it needs to be used."""

    model: Any
    tokenizer: Tokenizer
    train_config: TrainConfig
    state: dict[str, Any]
    directory: Path
    split: dict[str, Any] = field(default_factory=dict)
    profile: ModelProfile = field(default_factory=ModelProfile)

    @property
    def vocab_size(self) -> int:
        return int(self.tokenizer.vocab_size)


def is_checkpoint(directory: str | os.PathLike) -> bool:
    """Whether ``directory`` already holds (part of) a musicgen checkpoint."""
    directory = Path(directory)
    return directory.is_dir() and any((directory / name).exists() for name in MARKER_FILES)


def save_model_file(model: Any, path: str | os.PathLike) -> None:
    """Save a Keras model to a ``.keras`` file atomically."""
    with fileio.atomic_path(path) as temporary:
        model.save(str(temporary))


def write_metadata(
    directory: str | os.PathLike,
    tokenizer: Tokenizer,
    train_config: TrainConfig,
    split: dict[str, Any] | None = None,
) -> None:
    """Write ``tokenizer.json``, ``train_config.json`` and ``split.json`` atomically."""
    directory = Path(directory)
    try:
        tokenizer.save(directory / TOKENIZER_FILE)
        fileio.atomic_write_json(directory / CONFIG_FILE, train_config.to_dict())
        fileio.atomic_write_json(directory / SPLIT_FILE, split or {})
    except OSError as error:
        raise CheckpointError(f"cannot write the checkpoint in {directory}: {error}") from error


def write_profile(directory: str | os.PathLike, profile: ModelProfile) -> None:
    """Write ``profile.json`` atomically."""
    try:
        fileio.atomic_write_json(Path(directory) / PROFILE_FILE, profile.to_dict())
    except OSError as error:
        raise CheckpointError(f"cannot write the checkpoint in {directory}: {error}") from error


def read_profile(directory: str | os.PathLike) -> ModelProfile:
    """The checkpoint's :class:`ModelProfile` (empty for a checkpoint from before profiles)."""
    path = Path(directory) / PROFILE_FILE
    if not path.is_file():
        return ModelProfile()
    try:
        return ModelProfile.from_dict(_read_json_file(Path(directory), PROFILE_FILE))
    except TypeError as error:
        raise CheckpointError(f"{path} is corrupt: {error}") from error


def write_state(directory: str | os.PathLike, state: dict[str, Any]) -> None:
    """Write ``state.json`` atomically, stamped with the checkpoint format."""
    fileio.atomic_write_json(
        Path(directory) / STATE_FILE, {**state, "format": FORMAT, "format_version": FORMAT_VERSION}
    )


def read_metadata(directory: str | os.PathLike) -> tuple[TrainConfig, dict, dict]:
    """``(train_config, state, split)`` of a checkpoint directory, without loading a model."""
    directory = _check_directory(directory)
    return read_train_config(directory), _read_state(directory), _read_json_file(directory, SPLIT_FILE)


def read_train_config(directory: str | os.PathLike) -> TrainConfig:
    """The :class:`TrainConfig` recorded in ``train_config.json``."""
    directory = Path(directory)
    try:
        return TrainConfig.from_dict(_read_json_file(directory, CONFIG_FILE))
    except ConfigError as error:
        raise CheckpointError(f"{directory / CONFIG_FILE}: {error}") from error


def load_tokenizer(directory: str | os.PathLike) -> Tokenizer:
    """The tokenizer saved in a checkpoint directory."""
    path = _require(_check_directory(directory), TOKENIZER_FILE)
    try:
        return Tokenizer.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CheckpointError(f"{path} is not a valid tokenizer file: {error}") from error


def load_model_file(path: str | os.PathLike, compile: bool = False) -> Any:
    """Load a ``.keras`` file with ``safe_mode=True``; any failure is a ``CheckpointError``."""
    import keras

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path} is missing")
    _register_custom_objects()
    try:
        return keras.saving.load_model(path, compile=compile, safe_mode=True)
    except Exception as error:  # Keras raises many types for a damaged archive.
        raise CheckpointError(f"{path} is not a loadable Keras model ({type(error).__name__}: {error})") from error


def load_last_model(directory: str | os.PathLike) -> Any:
    """``last.keras`` compiled, with its optimizer state (for resuming training)."""
    directory = _check_directory(directory)
    return load_model_file(_require(directory, LAST_FILE), compile=True)


def load_checkpoint(directory: str | os.PathLike, compile: bool = False, implementation: str = "auto") -> Checkpoint:
    """Load a checkpoint directory; anything missing or damaged is a ``CheckpointError``.

    The model runs on ``implementation``'s recurrent layers (``"auto"``: Keras's, for
    cuDNN, on a GPU and musicgen's fused layer on a CPU), whichever it was saved with.
    """
    directory = _check_directory(directory)
    for name in REQUIRED_FILES:
        _require(directory, name)
    train_config, state, split = read_metadata(directory)
    tokenizer = load_tokenizer(directory)
    model = load_model_file(directory / MODEL_FILE, compile=compile)
    vocab_size = model.outputs[0].shape[-1] if getattr(model, "outputs", None) else None
    if vocab_size is not None and vocab_size != tokenizer.vocab_size:
        raise CheckpointError(
            f"{directory}: the model has {vocab_size} outputs but the tokenizer has "
            f"{tokenizer.vocab_size} tokens; the checkpoint mixes files from different runs"
        )
    if not compile:
        model = _on_implementation(model, train_config, implementation)
        # Whatever precision it was trained in, a loaded model computes in float32 until a run asks
        # for another (its weights are float32 either way).
        apply_precision(model, "float32")
    return Checkpoint(model, tokenizer, train_config, state, directory, split, read_profile(directory))


def _on_implementation(model: Any, train_config: TrainConfig, implementation: str) -> Any:
    from musicgen.models import language
    from musicgen.training import recipe

    wanted = recipe.implementation(dataclasses.replace(train_config, implementation=implementation))
    try:
        return language.with_implementation(model, wanted, train_config)
    except (ConfigError, ValueError):
        return model  # not a musicgen language model (no recurrent layers, or another layout)


def check_output(out_dir: str | os.PathLike, resume: bool, overwrite: bool) -> None:
    """Refuse, before any work, an ``--out`` that training must not write to.

    An existing checkpoint is refused unless ``resume`` or ``overwrite``; a file or a
    location that cannot be created is refused. Nothing is created here.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise CheckpointError(f"--out {out_dir} is a file, not a directory")
    if resume and overwrite:
        raise ConfigError("--resume and --overwrite contradict each other; pick one")
    if resume and not is_checkpoint(out_dir):
        raise CheckpointError(f"nothing to resume: {out_dir} holds no checkpoint")
    if not resume and not overwrite and is_checkpoint(out_dir):
        raise CheckpointError(
            f"{out_dir} already holds a checkpoint; pass --resume to continue it or --overwrite to replace it"
        )
    existing = out_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise CheckpointError(f"cannot write the checkpoint to {out_dir}: {existing} is not a writable directory")


def ensure_writable(directory: str | os.PathLike) -> None:
    """Create ``directory`` and prove a file can be written in it (``CheckpointError`` if not)."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".write-test-"):
            pass
    except OSError as error:
        raise CheckpointError(f"cannot write the checkpoint to {directory}: {error.strerror or error}") from error


def clear(directory: str | os.PathLike) -> None:
    """Remove a checkpoint's models, state and logs (for ``--overwrite``)."""
    directory = Path(directory)
    for name in (MODEL_FILE, LAST_FILE, STATE_FILE, HISTORY_FILE):
        (directory / name).unlink(missing_ok=True)
    shutil.rmtree(directory / TENSORBOARD_DIR, ignore_errors=True)


def check_resumable(directory: str | os.PathLike, architecture: dict[str, Any], tokenizer: Tokenizer) -> dict | None:
    """The state to resume ``directory`` from, or ``None`` if no epoch was completed.

    Raises ``CheckpointError`` when the data's tokenizer or the requested model
    (``architecture``: the model-defining training options) differ from the checkpoint's.
    """
    directory = Path(directory)
    saved_config = read_train_config(directory).to_dict() if (directory / CONFIG_FILE).is_file() else {}
    if (directory / TOKENIZER_FILE).is_file():
        try:
            saved_tokenizer = TokenizerConfig.from_dict(json.loads((directory / TOKENIZER_FILE).read_text("utf-8")))
        except (OSError, ValueError) as error:
            raise CheckpointError(f"{directory / TOKENIZER_FILE} is corrupt: {error}") from error
        if saved_tokenizer != tokenizer.config:
            raise CheckpointError(
                f"cannot resume {directory}: it was trained with a different tokenizer than the data's; "
                "train into a new --out directory"
            )
    differences = [
        f"{name} {saved_config[name]!r} -> {value!r}"
        for name, value in architecture.items()
        if name in saved_config and saved_config[name] != value
    ]
    if differences:
        raise CheckpointError(
            f"cannot resume {directory}: it holds a different model ({'; '.join(differences)}); "
            "resume with the original options or train into a new --out directory"
        )
    if not (directory / LAST_FILE).is_file() or not (directory / STATE_FILE).is_file():
        return None
    return _read_state(directory)


def _check_directory(directory: str | os.PathLike) -> Path:
    directory = Path(directory).expanduser()
    if not directory.exists():
        raise CheckpointError(f"checkpoint directory {directory} does not exist")
    if not directory.is_dir():
        raise CheckpointError(f"{directory} is a file, not a checkpoint directory")
    if not any((directory / name).exists() for name in MARKER_FILES):
        raise CheckpointError(
            f"{directory} is not a musicgen checkpoint (no {STATE_FILE} or {MODEL_FILE}); "
            f"train one with 'musicgen train DATA --out {directory}'"
        )
    return directory


def _require(directory: Path, name: str) -> Path:
    path = directory / name
    if not path.is_file():
        hint = " (training has not finished an epoch yet?)" if name == MODEL_FILE else ""
        raise CheckpointError(f"checkpoint {directory} is incomplete: {name} is missing{hint}")
    return path


def _read_json_file(directory: Path, name: str) -> dict[str, Any]:
    path = _require(directory, name)
    try:
        value = fileio.read_json(path)
    except (OSError, ValueError) as error:
        raise CheckpointError(f"{path} is corrupt: {error}") from error
    if not isinstance(value, dict):
        raise CheckpointError(f"{path} is corrupt: expected a JSON object, got {type(value).__name__}")
    return value


def _read_state(directory: Path) -> dict[str, Any]:
    state = _read_json_file(directory, STATE_FILE)
    if state.get("format") != FORMAT:
        raise CheckpointError(f"{directory / STATE_FILE} is not a musicgen checkpoint state file")
    if state.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{directory} has checkpoint format version {state.get('format_version')!r}; "
            f"this musicgen reads version {FORMAT_VERSION}"
        )
    return state


def _register_custom_objects() -> None:
    """Import the modules that register musicgen's layers with Keras's serializer."""
    for name in ("musicgen.models.language", "musicgen.models.recurrent", "musicgen.models.cells"):
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise


def resolve_checkpoint(checkpoint: Checkpoint | str | os.PathLike | None = None) -> Checkpoint:
    """A loaded checkpoint: ``checkpoint`` itself if loaded, else loaded from its directory.

    ``None`` means the shipped model, :data:`musicgen.paths.DEFAULT_CHECKPOINT`.
    """
    if isinstance(checkpoint, Checkpoint):
        return checkpoint
    from musicgen.paths import DEFAULT_CHECKPOINT

    if checkpoint is None:
        if not DEFAULT_CHECKPOINT.exists():
            raise CheckpointError(
                f"no shipped model at {DEFAULT_CHECKPOINT}; train one with "
                f"'musicgen train FOLDER --out {DEFAULT_CHECKPOINT}' or pass --checkpoint DIR"
            )
        checkpoint = DEFAULT_CHECKPOINT
    return load_checkpoint(checkpoint)
