"""Controls are plugins: a fourth control, one module in the tests (``register``), works in the
tokenizer, training, ``generate --control``, steering and ``evaluate --controls`` unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import register_control  # noqa: F401  (registers the control)
from midi_factory import Track, make_pretty_midi

from musicgen.cli import main
from musicgen.music import midi_io
from musicgen.tokens import Tokenizer, TokenizerConfig
from musicgen.tokens.controls import CONTROLS

CONFIG = TokenizerConfig(velocity_bins=1, min_pitch=36, max_pitch=84, keys=True, controls=("register",))


def tune(low: int, seed: int) -> list[tuple[int, float, float, int]]:
    rng = np.random.default_rng(seed)
    return [(int(low + rng.integers(0, 10)), beat, beat + 0.5, 80) for beat in np.arange(0.0, 16.0, 0.5)]


def test_the_control_is_in_the_vocabulary_and_the_header() -> None:
    tokenizer = Tokenizer(CONFIG)
    assert [control.name for control in tokenizer.controls] == ["key", "register"]
    assert tokenizer.control("register") is CONTROLS["register"]
    high = tokenizer.encode(make_pretty_midi([Track(tune(74, 0), program=0)]))
    low = tokenizer.encode(make_pretty_midi([Track(tune(40, 0), program=0)]))
    assert "REGISTER(high)" in tokenizer.describe(high[:4]) and "REGISTER(low)" in tokenizer.describe(low[:4])
    assert tokenizer.header_controls(high)["register"] == 2
    table = tokenizer.transposition(2)
    key = tokenizer.header_controls(high)["key"]
    assert table[high[0]] == high[0] and table[high[1]] == tokenizer.control_id("key", (key + 2) % 12 + 12 * (key // 12))
    assert table[tokenizer.control_id("register", "high")] == tokenizer.control_id("register", 2)  # a register stays


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from musicgen.training.config import TrainConfig
    from musicgen.training.loop import train

    root = tmp_path_factory.mktemp("register")
    folder = root / "tunes"
    folder.mkdir()
    for index in range(8):
        low = 40 if index % 2 else 74
        make_pretty_midi([Track(tune(low, index), program=0)]).write(str(folder / f"t{index}.mid"))
    config = TrainConfig(units=16, num_layers=1, embedding_dim=8, seq_len=64, batch_size=4, max_updates=6,
                         eval_every=3)
    train(folder, root / "model", config, progress=False, tokenizer_config=CONFIG)
    return root / "model"


def test_generate_asks_for_it_and_steering_pulls_the_pitches(model: Path, tmp_path: Path) -> None:
    from musicgen.training.checkpoint import load_checkpoint

    assert load_checkpoint(model).profile.control_values("register") == [0, 2]
    means = {}
    for name in ("low", "high"):
        out = tmp_path / name
        assert main(["generate", "--checkpoint", str(model), "--control", f"register={name}", "--bars", "2",
                     "--num", "3", "--seed", "1", "--key-guidance", "3", "--out", str(out)]) == 0
        pieces = [midi_io.read_piece(path) for path in sorted(out.glob("*.mid"))]
        means[name] = np.mean([piece.notes[:, 2].mean() for piece in pieces])
        assert all(CONTROLS["register"].read(piece, None) == ("low", "middle", "high").index(name) for piece in pieces)
    assert means["high"] > means["low"] + 12


def test_evaluate_reports_its_hit_rate_and_errors_name_it(model: Path, tmp_path: Path, capsys) -> None:
    from musicgen.evaluation.controls import control_hit_rates

    report = control_hit_rates(model, per_setting=2, bars=2, seed=0, candidates=2)
    assert [row["setting"] for row in report["register"]["settings"]] == ["low", "high"]
    assert report["register"]["samples"] == 4 and report["register"]["rate"] == 1.0
    for arguments, message in [(["--control", "register=sky"], "must be one of low, middle, high"),
                               (["--control", "mood=3"], "trained without MOOD controls"),
                               (["--control", "key=D"], "use --key")]:
        assert main(["generate", "--checkpoint", str(model), *arguments, "--out", str(tmp_path)]) == 2
        assert message in capsys.readouterr().err
