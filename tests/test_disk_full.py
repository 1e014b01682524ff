"""A full disk during ``prepare`` and ``generate``: one line, exit status 2, nothing lost."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
from midi_factory import write_scale_pieces

from musicgen import paths
from musicgen.cli import main


def _no_space(*args, **kwargs) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_prepare_on_a_full_disk_keeps_the_previous_cache(tmp_path: Path, monkeypatch, capsys) -> None:
    folder = write_scale_pieces(tmp_path / "music")
    out = tmp_path / "cache"
    assert main(["prepare", str(folder), "--out", str(out), "--workers", "1"]) == 0
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    capsys.readouterr()
    (folder / "piece_0.mid").unlink()  # a change, so the cache is written again
    monkeypatch.setattr(np, "save", _no_space)
    assert main(["prepare", str(folder), "--out", str(out), "--workers", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"musicgen prepare: error: no space left on the device for {out}/tokens-")
    assert err[-1].endswith("no file was replaced")
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before


@pytest.mark.skipif(not (paths.CHECKPOINTS_DIR / "bach" / "model.keras").is_file(), reason="no shipped Bach model")
def test_generate_on_a_full_disk_is_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(pretty_midi.PrettyMIDI, "write", _no_space)
    code = main(["generate", "--checkpoint", str(paths.CHECKPOINTS_DIR / "bach"), "--length", "16", "--seed", "0",
                 "--out", str(tmp_path / "out")])
    assert code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(f"musicgen generate: error: no space left on the device for {tmp_path / 'out'}")
    assert not list((tmp_path / "out").glob("*.mid*"))
