"""Piano-roll data sets: reading them (JSON, pickles without code), their own splits, scoring every frame."""

from __future__ import annotations

import gzip
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from musicgen.errors import MidiError
from musicgen.music.pianoroll import is_roll_file, read_rolls, roll_piece


def _piece(seed: int, length: int) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    return [sorted({int(p) for p in rng.integers(55, 70, rng.integers(0, 4))}) for _ in range(length)]


SETS = {"train": [_piece(i, 30 + i) for i in range(6)], "valid": [_piece(10, 25), _piece(11, 28)],
        "test": [_piece(20, 31), _piece(21, 40) + [[], []]]}  # silence at the end of a test piece counts


def _write(path: Path, content: dict) -> Path:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wt") as handle:
        json.dump(content, handle)
    return path


def test_the_json_layout_and_the_original_pickles_read_the_same(tmp_path: Path) -> None:
    json_file = _write(tmp_path / "nottingham.json.gz", SETS)
    as_tuples = {key: [[tuple(frame) for frame in piece] for piece in pieces] for key, pieces in SETS.items()}
    pickles = []
    for protocol in (0, 2):
        path = tmp_path / f"Nottingham{protocol}.pickle"
        path.write_bytes(pickle.dumps(as_tuples, protocol=protocol))
        pickles.append(path)
    expected = read_rolls(json_file)
    assert [roll.key for roll in expected.rolls[:7]] == [f"train/{i}" for i in range(6)] + ["valid/0"]
    assert [roll.split for roll in expected.rolls].count("validation") == 2
    assert expected.rolls[-1].frames[-2:] == ((), ())
    assert expected.frames_per_quarter == 2 and "eighth" in expected.frame_reason
    for path in pickles:
        assert is_roll_file(path) and read_rolls(path).rolls == expected.rolls
    assert read_rolls(_write(tmp_path / "JSB Chorales.json", {"test": []})).frames_per_quarter == 1


def test_a_pickle_that_names_code_is_refused_without_running_it(tmp_path: Path, capsys) -> None:
    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    path = tmp_path / "evil.pickle"
    path.write_bytes(pickle.dumps({"train": [[[60]]], "x": Payload()}, protocol=4))
    with pytest.raises(MidiError) as caught:
        read_rolls(path)
    assert str(caught.value) == (f"{path}: the pickle asks for builtins.print; only lists, tuples, dicts, strings "
                                 "and numbers are read from a pickle, so that no code in it runs")
    assert "never run" not in capsys.readouterr().out


def test_a_corrupt_file_gives_one_error_naming_it_and_the_reason(tmp_path: Path) -> None:
    bad_pitch = _write(tmp_path / "rolls.json", {"train": [[[60, 64], [61, "C"]]]})
    with pytest.raises(MidiError) as caught:
        read_rolls(bad_pitch)
    assert str(caught.value) == f"{bad_pitch}: not a piano-roll file: frame 1 of piece 0 of 'train' holds 'C', not a MIDI pitch 0..127"
    other = _write(tmp_path / "other.json", {"training": []})
    with pytest.raises(MidiError, match=r"other.json: not a piano-roll file: it holds 'training'; a piano-roll file "
                                        r"holds train, valid and test \(and frames_per_quarter\)$"):
        read_rolls(other)
    truncated = tmp_path / "cut.json.gz"
    truncated.write_bytes(gzip.compress(json.dumps(SETS).encode())[:200])
    with pytest.raises(MidiError, match=r"^.*cut.json.gz: cannot read the piano roll: "):
        read_rolls(truncated)


def test_frames_become_held_notes_at_the_frame_length() -> None:
    piece = roll_piece([(60,), (60, 64), (), (60,)], frames_per_quarter=2)
    np.testing.assert_allclose(piece.notes[:, :3], [(0.0, 1.0, 60), (0.5, 1.0, 64), (1.5, 2.0, 60)])


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    """A roll file, its cache, and a tiny model trained on it (a few updates)."""
    from musicgen.training.config import TrainConfig
    from musicgen.training.loop import train

    root = tmp_path_factory.mktemp("rolls")
    path = _write(root / "piano_midi.json.gz", SETS)
    config = TrainConfig(cell="gru", units=8, num_layers=1, embedding_dim=4, seq_len=16, batch_size=4, max_updates=4,
                         eval_every=2, base="none")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MUSICGEN_CACHE_DIR", str(root / "caches"))
        result = train(path, root / "model", config, progress=False)
        yield path, root / "model", result


def test_a_roll_file_keeps_its_own_splits_and_frames_exactly(trained) -> None:
    from musicgen.data.sources import open_data

    path, _, result = trained
    cache = open_data(path)
    assert result.updates == 4 and cache.status == "reused"
    assert cache.tokenizer_config.encoding == "frames" and cache.tokenizer_config.steps_per_quarter == 2
    assert [len(cache.files(split)) for split in ("train", "validation", "test")] == [6, 2, 2]
    tokenizer = cache.tokenizer
    frames = [tokenizer.decode_frames(stream) for stream in cache.streams("all")]
    assert frames == [[tuple(f) for f in piece] for key in ("train", "valid", "test") for piece in SETS[key]]


def test_evaluate_scores_every_test_frame_in_nats_per_frame(trained, tmp_path: Path, capsys) -> None:
    from musicgen.cli import main

    path, model, _ = trained
    assert main(["evaluate", "--checkpoint", str(model), str(path), "--json", "--quiet", "--no-ngram"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["split"] == "test" and result["frames"] == sum(len(piece) for piece in SETS["test"]) == 73
    assert 0 < result["nll_per_frame"] <= result["nll_per_frame_unmasked"]
    only_test = _write(tmp_path / "more.json", {"test": [_piece(30, 30), _piece(31, 31)], "frames_per_quarter": 2})
    assert main(["evaluate", "--checkpoint", str(model), str(only_test), "--json", "--quiet", "--no-ngram"]) == 0
    whole = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert whole["pieces"] == 2 and whole["frames"] == 30 + 31


def test_samples_are_midi_on_the_frame_grid(trained, tmp_path: Path) -> None:
    from musicgen.generation.session import generate
    from musicgen.music import midi_io

    _, model, _ = trained
    paths = generate(model, num=2, length=80, seed=1, out_dir=str(tmp_path / "out"))
    notes = np.concatenate([midi_io.read_piece(p).notes for p in paths])
    assert len(notes) > 0
    np.testing.assert_allclose(notes[:, :2] * 2, np.round(notes[:, :2] * 2), atol=1e-6)  # eighth-note frames
