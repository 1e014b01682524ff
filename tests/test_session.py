"""A session loads and compiles once: asked again (other instruments, another seed, an edit), it
reuses both; it prints nothing, and what it writes is what the one-call API writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from midi_factory import Track, make_pretty_midi

import musicgen
from musicgen.generation.session import generate_files


def test_asking_again_reuses_the_model_and_the_compiled_loop(tune_model: Path, tmp_path: Path, capsys,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import musicgen.training.checkpoint as checkpoints

    session = musicgen.Session(tune_model)
    first = session.generate(bars=2, num=2, seed=1, instruments="flute,bass")

    def no_loading(*args: object, **kwargs: object) -> None:
        raise AssertionError("the session loaded the checkpoint again")

    monkeypatch.setattr(checkpoints, "resolve_checkpoint", no_loading)
    monkeypatch.setattr(checkpoints, "load_checkpoint", no_loading)
    second = session.generate(bars=2, num=2, seed=2, instruments="flute")
    third = session.generate(bars=2, num=2, seed=3)
    (sampler,) = session._samplers.values()
    assert len(sampler._loops) == 1  # one compiled loop for every instrument set
    assert [len(piece.tracks) for piece in first.pieces] == [2, 2] and [len(p.tracks) for p in second.pieces] == [1, 1]
    assert len(third.pieces) == 2
    assert capsys.readouterr().err == ""  # the library prints nothing
    monkeypatch.undo()
    session.write(second, out_dir=str(tmp_path / "session"))
    again = generate_files(tune_model, bars=2, num=2, seed=2, instruments="flute", out_dir=str(tmp_path / "one"))
    assert [path.read_bytes() for path in second.paths] == [path.read_bytes() for path in again.paths]


def test_edits_come_back_as_results_that_write_as_patches(tune_model: Path, tmp_path: Path, capsys) -> None:
    song = tmp_path / "song.mid"
    rng = np.random.default_rng(0)
    flute = [(int(rng.integers(72, 80)), beat, beat + 1.0, 90) for beat in np.arange(0.0, 24.0)]
    make_pretty_midi([Track(flute, program=73)]).write(str(song))
    session = musicgen.Session(tune_model)
    filled = session.infill(song, bars="3-4", seed=1)
    band = session.accompany(song, instruments="bass", seed=2)
    assert capsys.readouterr().err == "" and filled.paths == [] and band.paths == []
    assert [track.program for track in band.piece.tracks] == [73, 33]
    outside = filled.piece.notes[(filled.piece.notes[:, 0] < 8.0) | (filled.piece.notes[:, 0] >= 16.0)]
    assert len(outside) == np.count_nonzero((np.arange(24.0) < 8.0) | (np.arange(24.0) >= 16.0))
    for result in (filled, band):
        session.write(result, out_dir=str(tmp_path / "out"))
        assert result.path.exists() and result.path.name.startswith("song-")
