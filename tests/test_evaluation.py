"""``evaluate`` and ``musicgen evaluate`` on a tiny checkpoint and a tiny folder of MIDI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from checkpoint_factory import write_checkpoint
from midi_factory import Track, make_pretty_midi, scale_notes

from musicgen.cli import main
from musicgen.errors import ConfigError
from musicgen.evaluation.heldout import evaluate
from musicgen.tokens import TokenizerConfig
from musicgen.training.config import TrainConfig

NAMES = [f"piece{i}.mid" for i in range(6)]
RECORDED = {"train": NAMES[:3], "validation": [NAMES[3]], "test": NAMES[4:]}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory):
    """A folder of 6 pieces and a checkpoint whose split.json differs from the folder's own split."""
    import keras

    from musicgen.models.language import build_language_model
    from musicgen.tokens import Tokenizer, TokenizerConfig

    root = tmp_path_factory.mktemp("evaluation")
    midi_dir = root / "midi"
    midi_dir.mkdir()
    for index, name in enumerate(NAMES):
        pitches = tuple(60 + (index + step * 2) % 12 for step in range(5))
        make_pretty_midi([Track(notes=scale_notes(4 + 2 * index, pitches))]).write(str(midi_dir / name))
    keras.utils.set_random_seed(0)
    tokenizer = Tokenizer(TokenizerConfig(encoding="events"))
    model = build_language_model(tokenizer.vocab_size, cell="lstm", units=8, num_layers=1, embedding_dim=4)
    directory = root / "ckpt"
    write_checkpoint(directory, model, tokenizer, TrainConfig(units=8, num_layers=1, embedding_dim=4), {"epoch": 1},
                     split={**RECORDED, "source_dir": str(midi_dir)})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MUSICGEN_CACHE_DIR", str(root / "caches"))
        yield midi_dir, directory, model


def _reference_scores(model, pieces: list[np.ndarray]) -> tuple[float, float, int]:
    """NLL and accuracy computed one piece at a time, without batching or padding."""
    losses, hits = [], []
    for piece in pieces:
        logits = np.asarray(model(piece[None, :-1].astype(np.int32)))[0].astype(np.float64)
        log_probs = logits - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True)) \
            - logits.max(-1, keepdims=True)
        losses.extend(-log_probs[np.arange(len(piece) - 1), piece[1:]])
        hits.extend(logits.argmax(-1) == piece[1:])
    return float(np.mean(losses)), float(np.mean(hits)), len(losses)


def test_scores_match_piece_by_piece_reference_and_use_recorded_split(workspace) -> None:
    from musicgen.data.sources import open_data

    midi_dir, directory, model = workspace
    result = evaluate(directory, midi_dir, split="test", batch_size=4, orders=(1, 2, 3), progress=False)
    cache = open_data(midi_dir, tokenizer_config=TokenizerConfig(encoding="events"))
    by_path = dict(zip(cache.files("all"), cache.streams("all"), strict=True))
    pieces = [by_path[name] for name in RECORDED["test"]]
    nll, accuracy, tokens = _reference_scores(model, pieces)
    assert result["pieces"] == 2 and result["tokens"] == tokens == sum(len(p) - 1 for p in pieces)
    assert result["nll"] == pytest.approx(nll, rel=1e-5)
    assert result["accuracy"] == pytest.approx(accuracy)
    assert result["perplexity"] == pytest.approx(math.exp(result["nll"]))
    assert result["ratio"] == pytest.approx(result["nll"] / result["ngram_nll"])
    assert result["ngram_order"] in (1, 2, 3) and result["ngram_smoothing"]
    # An untrained network is near uniform; the n-gram baseline must beat it.
    assert result["nll"] == pytest.approx(math.log(model.outputs[0].shape[-1]), abs=0.1)
    assert result["ngram_nll"] < result["nll"]


def test_default_data_is_the_recorded_folder_and_splits_follow_it(workspace) -> None:
    midi_dir, directory, _ = workspace
    train = evaluate(directory, split="train", ngram=False, progress=False)
    assert train["pieces"] == 3 and Path(train["data"]) == midi_dir.resolve()
    everything = evaluate(directory, split="all", ngram=False, progress=False)
    assert everything["pieces"] == 6 and "ngram_nll" not in everything


def test_missing_recorded_data_asks_for_data(workspace, tmp_path: Path) -> None:
    import shutil

    from musicgen import fileio

    _, directory, _ = workspace
    copy = shutil.copytree(directory, tmp_path / "moved")
    fileio.atomic_write_json(copy / "split.json", {**RECORDED, "source_dir": str(tmp_path / "gone")})
    with pytest.raises(ConfigError, match="pass DATA"):
        evaluate(copy, progress=False)
    assert main(["evaluate", "--checkpoint", str(copy), "--quiet"]) == 2


def test_cli_json_last_line_and_samples(workspace, capsys: pytest.CaptureFixture) -> None:
    midi_dir, directory, _ = workspace
    code = main(["evaluate", "--checkpoint", str(directory), str(midi_dir), "--json", "--quiet", "--max-order", "3",
                 "--samples", "2", "--sample-length", "24", "--seed", "3"])
    out = capsys.readouterr()
    assert code == 0
    result = json.loads(out.out.strip().splitlines()[-1])
    for key in ("nll", "perplexity", "accuracy", "ngram_nll", "ngram_order", "tokens", "split",
                "ngram_smoothing", "ratio"):
        assert key in result, key
    assert result["split"] == "test" and "n-gram  NLL" in out.out
    assert set(result["samples"]) == {"model", "ngram", "reference"}
    assert result["samples"]["model"]["pieces"] == 2 and result["samples"]["reference"]["pitch_class_tv"] == 0.0
    assert out.err == ""


def test_cli_errors(workspace, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _, directory, _ = workspace
    assert main(["evaluate", "--checkpoint", str(tmp_path / "nowhere"), "--quiet"]) == 2
    assert "musicgen evaluate: error:" in capsys.readouterr().err
    assert main(["evaluate", "--checkpoint", str(directory), "--batch-size", "0", "--quiet"]) == 2
    with pytest.raises(SystemExit):
        main(["evaluate", "--checkpoint", str(directory), "--split", "holdout"])
