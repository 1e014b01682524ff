"""The shipped music model: the README's first line, `musicgen generate`, must work at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pretty_midi

from musicgen import paths
from musicgen.tokens.grammar import check_tokens
from musicgen.training.checkpoint import load_checkpoint


def run_cli(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("TF_CPP")}
    return subprocess.run(
        [sys.executable, "-m", "musicgen", *arguments],
        cwd=cwd, capture_output=True, text=True, timeout=600, env=environment,
    )


def test_shipped_checkpoint_is_complete_and_small() -> None:
    checkpoint = load_checkpoint(paths.DEFAULT_CHECKPOINT)
    assert checkpoint.train_config.cell == "lstm" and checkpoint.tokenizer.config.encoding == "notes"
    assert checkpoint.profile.instrument_sets and checkpoint.profile.keys  # what --controls measures
    assert checkpoint.tokenizer.vocab_size == checkpoint.model.output_shape[-1]
    size = sum(path.stat().st_size for path in paths.DEFAULT_CHECKPOINT.rglob("*") if path.is_file())
    assert size < 20_000_000


def test_musicgen_generate_writes_valid_midi_with_the_shipped_model(tmp_path: Path) -> None:
    result = run_cli("generate", "--length", "200", "--seed", "3", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr and "oneDNN" not in result.stderr
    written = sorted((tmp_path / "generated").glob("*.mid"))
    assert len(written) == 1
    midi = pretty_midi.PrettyMIDI(str(written[0]))
    notes = [note for instrument in midi.instruments for note in instrument.notes]
    assert len(notes) >= 5
    assert all(note.end > note.start for note in notes)
    tokenizer = load_checkpoint(paths.DEFAULT_CHECKPOINT).tokenizer
    ids = tokenizer.encode(written[0])
    checker = check_tokens(np.asarray(ids), tokenizer.grammar())  # raises if invalid
    assert checker.ended  # the notes encoding: every note carries its length, none can hang


def test_generate_json_reports_the_masked_mass(tmp_path: Path) -> None:
    result = run_cli("generate", "--length", "64", "--seed", "1", "--json", "--out", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["seed"] == 1
    assert len(list((tmp_path / "out").glob("*.mid"))) == 1
