"""``musicgen generate`` end to end on a tiny checkpoint: files, determinism, primers, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from checkpoint_factory import write_checkpoint
from midi_factory import Track, make_pretty_midi, scale_notes

from musicgen import paths
from musicgen.cli import main
from musicgen.tokens import Tokenizer, TokenizerConfig

CONFIG = TokenizerConfig(encoding="events", min_pitch=48, max_pitch=72, max_shift_steps=12, velocity_bins=4, use_programs=False)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import keras

    from musicgen.models.language import build_language_model

    keras.utils.set_random_seed(0)
    tokenizer = Tokenizer(CONFIG)
    model = build_language_model(
        tokenizer.vocab_size, cell="lstm", units=16, num_layers=1, embedding_dim=8, implementation="keras"
    )
    directory = tmp_path_factory.mktemp("checkpoints") / "tiny"
    return write_checkpoint(directory, model, tokenizer, state={"epoch": 0})


@pytest.fixture(scope="module")
def primer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("primer") / "primer.mid"
    make_pretty_midi([Track(scale_notes(2))], tempo=90.0).write(str(path))
    return path


def generate(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str, str]:
    code = main(["generate", *arguments])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_same_seed_gives_byte_identical_files(checkpoint: Path, tmp_path: Path, capsys) -> None:
    common = ["--checkpoint", str(checkpoint), "--num", "2", "--length", "64", "--out", str(tmp_path)]
    code, out, err = generate(capsys, *common, "--seed", "7", "--temperature", "1.5")
    assert code == 0, err
    assert "seed 7" in err
    first = sorted(tmp_path.glob("*.mid"))
    assert len(first) == 2 and all("tiny-" in path.name and "-seed7-" in path.name for path in first)
    assert "notes" in out and str(first[0]) in out
    generate(capsys, *common, "--seed", "7", "--temperature", "1.5")
    second = sorted(set(tmp_path.glob("*.mid")) - set(first))
    generate(capsys, *common, "--seed", "8", "--temperature", "1.5")
    third = sorted(set(tmp_path.glob("*.mid")) - set(first) - set(second))
    assert len(second) == 2 and len(third) == 2  # nothing was overwritten
    # Runs are told apart by set difference, not by sorting all names: two runs within
    # one second collide and get a "-2" suffix, which sorts before the plain name.
    assert [path.name.split("-seed7-")[1][:2] for path in second] == ["01", "02"]
    contents = {
        run: [path.read_bytes() for path in group] for run, group in (("7a", first), ("7b", second), ("8", third))
    }
    assert contents["7a"] == contents["7b"]
    assert all("-seed8-" in path.name for path in third)
    assert contents["8"][0] not in contents["7a"]


def test_names_taken_in_the_same_second_get_a_suffix(tmp_path: Path, monkeypatch) -> None:
    from musicgen.music import render

    epoch = render.time.gmtime(0)
    monkeypatch.setattr(render.time, "gmtime", lambda: epoch)
    first = render.reserve_paths(tmp_path, "bach", 2, seed=3)
    first[0].write_bytes(b"kept")
    second = render.reserve_paths(tmp_path, "bach", 2, seed=3)
    assert [path.name for path in first] == ["bach-19700101-000000-seed3-01.mid", "bach-19700101-000000-seed3-02.mid"]
    assert [path.name for path in second] == [
        "bach-19700101-000000-seed3-01-2.mid",
        "bach-19700101-000000-seed3-02-2.mid",
    ]
    assert first[0].read_bytes() == b"kept"


def test_primer_plot_json_and_program(checkpoint: Path, primer: Path, tmp_path: Path, capsys) -> None:
    import pretty_midi

    code, out, err = generate(
        capsys, "--checkpoint", str(checkpoint), "--primer", str(primer), "--length", "96", "--seed", "1",
        "--program", "40", "--plot", "--json", "--out", str(tmp_path),
    )
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["seed"] == 1 and 0.0 <= summary["masked_mass"]["mean"] <= summary["masked_mass"]["max"] <= 1
    (midi_path,) = [Path(name) for name in summary["files"]]
    assert Path(summary["extra_files"][0]).suffix == ".png" and Path(summary["extra_files"][0]).stat().st_size > 0
    generated = pretty_midi.PrettyMIDI(str(midi_path))
    original = pretty_midi.PrettyMIDI(str(primer))
    assert [instrument.program for instrument in generated.instruments] == [40]
    assert generated.get_tempo_changes()[1][0] == pytest.approx(90.0, rel=1e-3)
    notes = sorted((note.start, note.pitch) for note in generated.instruments[0].notes)
    expected = sorted((note.start, note.pitch) for note in original.instruments[0].notes)
    assert [pitch for _, pitch in notes[: len(expected)]] == [pitch for _, pitch in expected]
    for (start, _), (expected_start, _) in zip(notes, expected, strict=False):
        assert start == pytest.approx(expected_start, abs=1e-3)


def test_bars_limit_the_duration(checkpoint: Path, tmp_path: Path, capsys) -> None:
    import pretty_midi

    code, out, err = generate(
        capsys, "--checkpoint", str(checkpoint), "--bars", "2", "--tempo", "120", "--seed", "3",
        "--num", "2", "--out", str(tmp_path),
    )
    assert code == 0, err
    for path in tmp_path.glob("*.mid"):
        # Two 4/4 bars at 120 BPM are 4 s; the last time shift may cross the line by < 1 s.
        assert pretty_midi.PrettyMIDI(str(path)).get_end_time() < 4.0 + 12 / 24 + 1e-6


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--top-p", "0"], "--top-p must be in (0, 1]"),
        (["--top-p", "1.5"], "--top-p must be in (0, 1]"),
        (["--temperature", "-1"], "--temperature must be >= 0"),
        (["--program", "200"], "--program must be a General MIDI program"),
    ],
)
def test_bad_options(arguments: list[str], message: str, checkpoint: Path, tmp_path: Path, capsys) -> None:
    code, out, err = generate(capsys, "--checkpoint", str(checkpoint), "--out", str(tmp_path), *arguments)
    assert code == 2
    assert err.startswith("musicgen generate: error: ") and message in err
    assert not list(tmp_path.glob("*.mid"))


def test_bad_files(checkpoint: Path, primer: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    not_midi = tmp_path / "notes.mid"
    not_midi.write_text("this is not a MIDI file")
    cases = [
        (["--checkpoint", str(tmp_path / "missing")], "does not exist"),
        (["--checkpoint", str(checkpoint), "--primer", str(not_midi)], "not a MIDI file"),
        (["--checkpoint", str(checkpoint), "--primer", str(primer), "--length", "10"], "--length 10"),
    ]
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    for item in checkpoint.iterdir():
        if item.is_file():
            (corrupt / item.name).write_bytes(item.read_bytes())
    (corrupt / "model.keras").write_bytes(b"PK\x03\x04 truncated")
    cases.append((["--checkpoint", str(corrupt)], "not a loadable Keras model"))
    for arguments, message in cases:
        code, _, err = generate(capsys, *arguments, "--out", str(tmp_path / "out"))
        assert code == 2, err
        assert err.startswith("musicgen generate: error: ") and message in err
    monkeypatch.setattr(paths, "DEFAULT_CHECKPOINT", tmp_path / "no-shipped-model")
    code, _, err = generate(capsys, "--out", str(tmp_path / "out"))
    assert code == 2 and "no shipped model at" in err and "musicgen train" in err
