"""Training: a falling validation loss, reproducibility, kill -9 and resume, clear refusals."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from midi_factory import write_scale_pieces

from musicgen.cli import main
from musicgen.errors import ConfigError
from musicgen.fileio import sha256_file
from musicgen.generation.sampler import Sampler
from musicgen.training import checkpoint
from musicgen.training.loop import TrainConfig, train

TINY = TrainConfig(
    units=16, num_layers=1, embedding_dim=8, dropout=0.0, seq_len=32, batch_size=4, max_updates=6, eval_every=2,
    warmup_updates=2, learning_rate=1e-2, seed=3, transpose_range=(-3, 3), precision="float32",
)
TINY_FLAGS = [
    "--units", "16", "--layers", "1", "--embedding-dim", "8", "--dropout", "0", "--seq-len", "32",
    "--batch-size", "4", "--max-updates", "6", "--eval-every", "2", "--warmup-updates", "2",
    "--learning-rate", "0.01", "--seed", "3", "--transpose-range=-3,3", "--precision", "float32",
]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("training")


@pytest.fixture(scope="module")
def cache(workspace: Path):
    from musicgen.data.sources import prepare

    return prepare(write_scale_pieces(workspace / "midi"), workspace / "cache", workers=1, progress=False)


@pytest.fixture(scope="module")
def trained(cache, workspace: Path):
    """One uninterrupted tiny training run (the reference for the other tests)."""
    return train(cache, workspace / "reference", TINY, progress=False)


def _weights(path: Path) -> list[np.ndarray]:
    import keras

    return keras.saving.load_model(path, compile=False).get_weights()


def _assert_same_weights(first: Path, second: Path) -> None:
    for a, b in zip(_weights(first), _weights(second), strict=True):
        np.testing.assert_array_equal(a, b)


def _hashes(directory: Path) -> dict[str, str]:
    return {path.name: sha256_file(path) for path in sorted(directory.iterdir()) if path.is_file()}


def _environment(workspace: Path) -> dict[str, str]:
    return {
        **os.environ, "CUDA_VISIBLE_DEVICES": "", "MUSICGEN_CACHE_DIR": str(workspace / "caches"),
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }


def test_validation_loss_falls_and_directory_describes_itself(trained, workspace: Path) -> None:
    directory = workspace / "reference"
    history = trained.history
    assert [row["updates"] for row in history] == [2, 4, 6]
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    assert trained.stopped == "completed" and trained.updates == 6
    assert all(np.isfinite(row["gradient_norm"]) and row["gradient_norm"] > 0 for row in history)
    for name in (*checkpoint.REQUIRED_FILES, checkpoint.LAST_FILE, checkpoint.HISTORY_FILE):
        assert (directory / name).is_file(), name
    assert any((directory / checkpoint.TENSORBOARD_DIR).glob("events.out.tfevents.*"))
    lines = (directory / checkpoint.HISTORY_FILE).read_text().splitlines()
    assert lines[0].startswith("updates,epoch,loss,perplexity,accuracy,gradient_norm,val_loss")
    assert len(lines) == 4
    loaded = checkpoint.load_checkpoint(directory)
    assert loaded.state["updates"] == 6
    assert loaded.state["best_val_loss"] == pytest.approx(min(row["val_loss"] for row in history))
    # The record holds every choice made for the data, and the implementation as asked.
    assert loaded.train_config == dataclasses.replace(trained.config, implementation="auto")
    assert loaded.train_config.patience_updates == 300 and loaded.train_config.lr_patience_updates == 100
    assert loaded.state["total_wall_seconds"] == pytest.approx(loaded.state["wall_seconds"])  # from scratch
    assert loaded.state["wall_seconds"] > 0
    assert set(loaded.split["train"]) | set(loaded.split["validation"]) | set(loaded.split["test"]) == {
        f"piece_{index}.mid" for index in range(8)
    }


def test_same_seed_and_data_give_the_same_weights(trained, cache, workspace: Path) -> None:
    again = train(cache, workspace / "again", TINY, progress=False)
    assert [row["loss"] for row in again.history] == [row["loss"] for row in trained.history]
    _assert_same_weights(workspace / "reference" / "last.keras", workspace / "again" / "last.keras")
    _assert_same_weights(workspace / "reference" / "model.keras", workspace / "again" / "model.keras")


def test_kill_nine_then_resume_matches_uninterrupted_training(trained, cache, workspace: Path, capsys) -> None:
    out = workspace / "killed"
    command = [sys.executable, "-m", "musicgen", "train", str(cache.directory), "--out", str(out), *TINY_FLAGS]
    process = subprocess.Popen(command, env=_environment(workspace), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while not (out / checkpoint.STATE_FILE).exists():
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "no checkpoint appeared"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=30)
    interrupted = checkpoint.load_checkpoint(out)
    completed = interrupted.state["updates"]
    assert completed in (2, 4, 6)
    # Resume in this process (a second subprocess would only repeat TensorFlow's start-up).
    assert main([*command[3:], "--resume"]) == 0
    if completed < 6:
        assert f"resuming {out} after {completed} updates" in capsys.readouterr().err
    rows = (out / checkpoint.HISTORY_FILE).read_text().splitlines()[1:]
    assert [int(row.split(",")[0]) for row in rows] == [2, 4, 6]
    assert json.loads((out / checkpoint.STATE_FILE).read_text())["updates"] == 6
    _assert_same_weights(workspace / "reference" / "last.keras", out / "last.keras")


def test_time_budget_stops_mid_round_with_a_checkpoint_and_resumes(cache, trained, workspace: Path) -> None:
    out = workspace / "budget"
    config = dataclasses.replace(TINY, max_minutes=1e-6)
    result = train(cache, out, config, progress=False)
    # The clock ran out after the first update: that update is validated and saved.
    assert result.stopped == "time_budget" and result.updates == 1
    assert checkpoint.load_checkpoint(out).state["updates"] == 1
    finished = train(cache, out, dataclasses.replace(config, max_minutes=None), resume=True, progress=False)
    assert finished.stopped == "completed" and finished.updates == 6
    assert [row["updates"] for row in finished.history] == [1, 2, 4, 6]
    # The same batches in the same order as the uninterrupted run, with its learning rates.
    _assert_same_weights(workspace / "reference" / "last.keras", out / "last.keras")


def test_bfloat16_and_keras_layers_train_on_cpu_and_the_checkpoint_loads_in_float32(cache, workspace: Path) -> None:
    """No GPU here: --precision bfloat16 with --implementation keras (cuDNN on a GPU) runs; the
    checkpoint it writes computes in float32 when loaded; float16 is refused on a CPU."""
    import keras

    config = dataclasses.replace(TINY, max_updates=2, precision="bfloat16", implementation="keras")
    result = train(cache, workspace / "mixed", config, progress=False)
    assert np.isfinite(result.history[0]["loss"])
    assert keras.config.dtype_policy().name == "float32"
    model = checkpoint.load_checkpoint(workspace / "mixed", implementation="keras").model
    assert model.get_layer("rnn_1").dtype_policy.name == "float32"
    assert isinstance(model.get_layer("rnn_1"), keras.layers.LSTM)
    assert model(np.ones((1, 4), np.int32)).dtype == "float32"
    with pytest.raises(ConfigError, match="float16 needs a GPU"):
        train(cache, workspace / "half", dataclasses.replace(config, precision="float16"), progress=False)


def test_a_checkpoint_moves_between_implementations_with_its_optimizer_state(cache, workspace: Path) -> None:
    """A model trained on Keras's layers (cuDNN on a GPU) resumes, evaluates and samples on the fused layer."""
    import keras

    from musicgen.models.recurrent import Recurrent
    from musicgen.training.trainer import _moved

    out = workspace / "moved"
    train(cache, out, dataclasses.replace(TINY, max_updates=2, implementation="keras"), progress=False)
    saved = checkpoint.load_last_model(out)
    assert isinstance(saved.get_layer("rnn_1"), keras.layers.LSTM)
    config = dataclasses.replace(checkpoint.read_train_config(out), implementation="custom")
    moved = _moved(saved, config, saved.loss)
    assert isinstance(moved.get_layer("rnn_1"), Recurrent)
    for before, after in zip(saved.optimizer.variables, moved.optimizer.variables, strict=True):
        np.testing.assert_array_equal(np.asarray(before), np.asarray(after))
    tokens = np.arange(1, 13, dtype=np.int32).reshape(2, 6)
    np.testing.assert_allclose(moved(tokens), saved(tokens), atol=1e-5)
    # Resume on the fused layer ("auto" on a CPU): the Adam step count carries on from 2.
    resumed = train(cache, out, dataclasses.replace(config, max_updates=4, implementation="auto"), resume=True,
                    progress=False)
    assert resumed.updates == 4 and int(checkpoint.load_last_model(out).optimizer.iterations.numpy()) == 4
    loaded = checkpoint.load_checkpoint(out)
    assert isinstance(loaded.model.get_layer("rnn_1"), Recurrent)
    assert Sampler.from_checkpoint(loaded).sample(num=1, length=8, seed=0).tokens.shape[0] == 1


# Bad input: a clear message, exit status 2, and a good checkpoint left untouched.


def _run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["train", *argv, "--quiet"])
    return code, capsys.readouterr().err


def test_folder_without_usable_midi(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("MUSICGEN_CACHE_DIR", str(tmp_path / "caches"))
    (tmp_path / "midi").mkdir()
    (tmp_path / "midi" / "broken.mid").write_bytes(b"MThd garbage")
    code, err = _run_cli([str(tmp_path / "midi"), "--out", str(tmp_path / "out")], capsys)
    assert code == 2 and "musicgen train: error: no usable music under" in err
    assert not (tmp_path / "out").exists()


def test_sequence_longer_than_every_piece(cache, tmp_path: Path, capsys) -> None:
    code, err = _run_cli([str(cache.directory), "--out", str(tmp_path / "out"), "--seq-len", "100000"], capsys)
    # Windows of the notes encoding are padded, so a piece shorter than one still trains,
    # but eight pieces make fewer windows than a batch.
    assert code == 2 and "fewer than one batch of 16; lower --batch-size or --seq-len" in err
    assert not (tmp_path / "out").exists()


def test_existing_checkpoint_is_refused_without_resume(trained, cache, workspace: Path, capsys) -> None:
    directory = workspace / "reference"
    before = _hashes(directory)
    code, err = _run_cli([str(cache.directory), "--out", str(directory), *TINY_FLAGS], capsys)
    assert code == 2 and "already holds a checkpoint; pass --resume" in err
    assert _hashes(directory) == before


def test_resume_with_a_different_model_is_refused(trained, cache, workspace: Path, capsys) -> None:
    directory = workspace / "reference"
    before = _hashes(directory)
    code, err = _run_cli([str(cache.directory), "--out", str(directory), "--resume", "--units", "32"], capsys)
    assert code == 2 and "different model (units 16 -> 32)" in err
    assert _hashes(directory) == before


def test_resume_with_a_different_tokenizer_is_refused(trained, workspace: Path, capsys) -> None:
    from musicgen.data.sources import prepare
    from musicgen.tokens import TokenizerConfig

    other = prepare(workspace / "midi", workspace / "other-cache", TokenizerConfig(velocity_bins=8), workers=1, progress=False)
    directory = workspace / "reference"
    before = _hashes(directory)
    code, err = _run_cli([str(other.directory), "--out", str(directory), "--resume"], capsys)
    assert code == 2 and "different tokenizer" in err
    assert _hashes(directory) == before


def test_unwritable_output(cache, tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    code, err = _run_cli([str(cache.directory), "--out", str(blocker / "run")], capsys)
    assert code == 2 and "cannot write the checkpoint" in err
    if os.geteuid() != 0:  # root writes anywhere, so a read-only folder only stops others
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        code, err = _run_cli([str(cache.directory), "--out", str(locked / "run")], capsys)
        assert code == 2 and "cannot write the checkpoint" in err


def test_resume_without_a_checkpoint(cache, tmp_path: Path, capsys) -> None:
    code, err = _run_cli([str(cache.directory), "--out", str(tmp_path / "empty"), "--resume"], capsys)
    assert code == 2 and "nothing to resume" in err


# Configuration.


def _validations(schedule, state, losses: list[float], every: int) -> list[bool]:
    improved = []
    for loss in losses:
        state.updates += every
        improved.append(schedule.update(state, loss))
    return improved


def test_plateau_cuts_the_learning_rate_and_patience_stops_counted_in_updates() -> None:
    from musicgen.training.schedule import Schedule, TrainState

    config = dataclasses.replace(TrainConfig(), learning_rate=0.008, lr_patience_updates=200, patience_updates=400,
                                 min_updates=0, warmup_updates=100)
    schedule = Schedule.of(config)
    state = TrainState(learning_rate=0.008)
    assert [schedule.learning_rate(state, update) for update in (0, 49, 99, 100, 5000)] == [
        0.008 / 100, 0.008 * 50 / 100, 0.008, 0.008, 0.008]
    improved = _validations(schedule, state, [3.0, 2.0, 2.5, 2.6, 2.7, 2.8], every=100)
    assert improved == [True, True, False, False, False, False]
    assert state.best_updates == 200 and state.best_val_loss == 2.0 and state.updates == 600
    assert schedule.should_stop(state)
    assert state.learning_rate == 0.002  # cut twice, after 200 and 400 updates without improvement


def test_no_early_stop_before_the_minimum_nor_on_the_unigram_plateau() -> None:
    from musicgen.training.schedule import Schedule, TrainState

    config = dataclasses.replace(TrainConfig(), patience_updates=100, lr_patience_updates=50, min_updates=1000)
    schedule = Schedule.of(config)
    state = TrainState(learning_rate=0.002)
    _validations(schedule, state, [2.0] + [2.1] * 8, every=100)
    assert state.updates == 900 and not schedule.should_stop(state)  # patience ran out, the minimum did not
    _validations(schedule, state, [2.1], every=100)
    assert schedule.should_stop(state)
    # A model whose best is still near the unigram's loss has not started to learn: keep going.
    state.unigram_loss = 2.05
    assert schedule.on_plateau(state) and not schedule.should_stop(state)
    state.unigram_loss = 3.0
    assert schedule.should_stop(state)


def test_config_round_trip_and_unknown_keys() -> None:
    config = dataclasses.replace(TINY, transpose_range=(-2, 4))
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(ConfigError, match="unknown training option keys: colour"):
        TrainConfig.from_dict({"colour": "blue"})
    # musicgen 0.1 recorded a copy of the tokenizer config (null by default) here, and had
    # none of the notes encoding's window edits.
    # It also counted patience in epochs, had no warm-up, fixed the model's size, and
    # trained from scratch.
    old = TrainConfig.from_dict({"cell": "gru", "tokenizer": None, "early_stopping_patience": 6, "lr_patience": 2})
    assert old == TrainConfig(
        base=None, cell="gru", control_dropout=0.0, shuffle_tracks=0.0, infill=0.0, implementation="custom", units=256,
        num_layers=2, embedding_dim=128, dropout=0.2, seq_len=256, batch_size=16, learning_rate=2e-3,
        transpose_range=(-3, 3), warmup_updates=0, min_updates=0, precision="float32",
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"units": 0}, "units must be a positive integer"), ({"dropout": 1.0}, "dropout must be in"),
     ({"learning_rate": -1.0}, "learning-rate must be positive"), ({"jit_compile": "maybe"}, "jit-compile")],
)
def test_config_validation(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        dataclasses.replace(TrainConfig(), **changes).validate()


def test_cli_builds_the_config_from_flags_over_the_defaults(tmp_path: Path) -> None:
    from musicgen.cli import build_parser
    from musicgen.cli.train import build_config

    args = build_parser().parse_args(
        ["train", "data", "--out", str(tmp_path / "run"), "--layers", "3", "--no-augment", "--clipnorm", "0"]
    )
    config = build_config(args)
    assert config == dataclasses.replace(TrainConfig(), num_layers=3, augment=False, clipnorm=0.0)
    defaults = build_config(build_parser().parse_args(["train", "data", "--out", str(tmp_path / "run")]))
    assert defaults == TrainConfig()
    # Left open for the data: the recipe chooses them (test_recipe), the record keeps the choice.
    assert (defaults.cell, defaults.units, defaults.num_layers, defaults.clipnorm) == ("lstm", None, None, 1.0)
