"""Checkpoint directories: round trip, safe-mode loading and a clear error for each defect."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from checkpoint_factory import write_checkpoint

from musicgen.errors import CheckpointError
from musicgen.training import checkpoint
from musicgen.training.config import TrainConfig

CONFIG = TrainConfig(cell="gru", units=8, num_layers=1, embedding_dim=4)


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object, object]:
    """A checkpoint written from a tiny untrained model."""
    import keras

    from musicgen.models.language import build_language_model
    from musicgen.tokens import Tokenizer, TokenizerConfig

    keras.utils.set_random_seed(1)
    tokenizer = Tokenizer(TokenizerConfig(encoding="events"))
    model = build_language_model(tokenizer.vocab_size, cell="gru", units=8, num_layers=1, embedding_dim=4)
    last = build_language_model(tokenizer.vocab_size, cell="gru", units=8, num_layers=1, embedding_dim=4)
    last.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    last.optimizer.build(last.trainable_variables)
    directory = tmp_path_factory.mktemp("ckpt") / "run"
    write_checkpoint(
        directory, model, tokenizer, CONFIG, {"epoch": 3, "best_val_loss": 1.5},
        split={"train": ["a.mid"], "validation": ["b.mid"], "test": []}, last_model=last,
    )
    return directory, model, tokenizer


def _copy(source: Path, destination: Path) -> Path:
    import shutil

    shutil.copytree(source, destination)
    return destination


def test_round_trip(saved: tuple[Path, object, object]) -> None:
    directory, model, tokenizer = saved
    for name in checkpoint.REQUIRED_FILES + (checkpoint.LAST_FILE,):
        assert (directory / name).is_file(), name
    loaded = checkpoint.load_checkpoint(directory)
    assert loaded.directory == directory
    assert loaded.train_config == CONFIG
    assert loaded.state["epoch"] == 3 and loaded.state["best_val_loss"] == 1.5
    assert loaded.split["validation"] == ["b.mid"]
    assert loaded.tokenizer.to_json() == tokenizer.to_json()
    assert loaded.vocab_size == tokenizer.vocab_size
    for expected, actual in zip(model.get_weights(), loaded.model.get_weights(), strict=True):
        np.testing.assert_array_equal(expected, actual)
    tokens = np.array([[1, 5, 9, 7]], np.int32)
    np.testing.assert_allclose(model(tokens), loaded.model(tokens), rtol=0, atol=0)


def test_model_file_loads_in_safe_mode_without_optimizer(saved: tuple[Path, object, object]) -> None:
    import keras

    directory, _, _ = saved
    best = keras.saving.load_model(directory / checkpoint.MODEL_FILE, safe_mode=True)
    assert getattr(best, "optimizer", None) is None
    last = checkpoint.load_last_model(directory)
    assert last.optimizer is not None and last.compiled
    assert len(last.optimizer.variables) > 2  # iterations, learning rate and the Adam slots


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        checkpoint.load_checkpoint(tmp_path / "nowhere")


def test_file_is_not_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "model.keras"
    path.write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="is a file, not a checkpoint directory"):
        checkpoint.load_checkpoint(path)


def test_unrelated_directory_is_not_a_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CheckpointError, match="is not a musicgen checkpoint"):
        checkpoint.load_checkpoint(tmp_path)
    assert not checkpoint.is_checkpoint(tmp_path)


@pytest.mark.parametrize("name", checkpoint.REQUIRED_FILES)
def test_missing_file(saved: tuple[Path, object, object], tmp_path: Path, name: str) -> None:
    directory = _copy(saved[0], tmp_path / "copy")
    (directory / name).unlink()
    with pytest.raises(CheckpointError, match=f"incomplete: {name} is missing"):
        checkpoint.load_checkpoint(directory)


def test_truncated_model_file(saved: tuple[Path, object, object], tmp_path: Path) -> None:
    directory = _copy(saved[0], tmp_path / "copy")
    data = (directory / checkpoint.MODEL_FILE).read_bytes()
    (directory / checkpoint.MODEL_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="model.keras is not a loadable Keras model"):
        checkpoint.load_checkpoint(directory)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (checkpoint.STATE_FILE, "{not json", "state.json is corrupt"),
        (checkpoint.STATE_FILE, "[1, 2]", "expected a JSON object"),
        (checkpoint.STATE_FILE, json.dumps({"epoch": 1}), "not a musicgen checkpoint state file"),
        (checkpoint.STATE_FILE, json.dumps({"format": checkpoint.FORMAT, "format_version": 99}), "format version 99"),
        (checkpoint.CONFIG_FILE, "", "train_config.json is corrupt"),
        (checkpoint.TOKENIZER_FILE, "garbage", "not a valid tokenizer file"),
    ],
)
def test_corrupt_json(saved: tuple[Path, object, object], tmp_path: Path, name: str, content: str, message: str) -> None:
    directory = _copy(saved[0], tmp_path / "copy")
    (directory / name).write_text(content)
    with pytest.raises(CheckpointError, match=message):
        checkpoint.load_checkpoint(directory)


def test_model_and_tokenizer_from_different_runs(saved: tuple[Path, object, object], tmp_path: Path) -> None:
    from musicgen.tokens import Tokenizer, TokenizerConfig

    directory = _copy(saved[0], tmp_path / "copy")
    other = Tokenizer(TokenizerConfig(encoding="events", velocity_bins=8))
    (directory / checkpoint.TOKENIZER_FILE).write_text(other.to_json())
    with pytest.raises(CheckpointError, match="different runs"):
        checkpoint.load_checkpoint(directory)


def test_unwritable_destination_is_a_checkpoint_error(saved: tuple[Path, object, object], tmp_path: Path) -> None:
    directory, model, tokenizer = saved
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(CheckpointError, match="cannot write the checkpoint"):
        checkpoint.write_metadata(blocker / "run", tokenizer, CONFIG)
