"""``musicgen prepare`` and ``musicgen bench prepare`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from musicgen.cli import main
from musicgen.data.sources import load_cache


def write_midi(path: Path, pitches: list[int]) -> None:
    import pretty_midi

    pm = pretty_midi.PrettyMIDI()
    instrument = pretty_midi.Instrument(program=0)
    for index, pitch in enumerate(pitches):
        instrument.notes.append(pretty_midi.Note(90, pitch, index * 0.25, index * 0.25 + 0.25))
    pm.instruments.append(instrument)
    path.parent.mkdir(parents=True, exist_ok=True)
    pm.write(str(path))


@pytest.fixture
def music_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "music"
    write_midi(folder / "one.mid", [60, 64, 67, 72])
    write_midi(folder / "two" / "two.mid", [55, 57, 59])
    write_midi(folder / "three.mid", [50, 52])
    (folder / "broken.mid").write_bytes(b"MThd\x00\x00")
    return folder


def test_prepare_prints_a_summary_with_every_skipped_file(
    music_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "cache"
    code = main(["prepare", str(music_dir), "--out", str(out_dir), "--workers", "1", "--no-progress"])
    captured = capsys.readouterr()
    assert code == 0
    assert "rebuilt: 4 files read" in captured.out
    assert "files: 3 read, 1 skipped; pieces encoded: 3" in captured.out
    assert "broken.mid: truncated MIDI file" in captured.out
    assert "1 file or piece skipped" in captured.err
    # The folder's profile and the choices it led to, each with its reason.
    assert "3 pieces, 9 notes" in captured.out and "Acoustic Grand Piano (3)" in captured.out
    assert "timing beats (100% of onsets on the beat grid: quantised)" in captured.out
    assert "velocity_bins 1 (100% of notes share their piece's velocity)" in captured.out
    cache = load_cache(out_dir)
    assert sorted(cache.files()) == ["one.mid", "three.mid", "two/two.mid"]
    assert {cache.split_of(name) for name in cache.files()} == {"train", "validation", "test"}
    # A second run reuses the cache; --strict turns skipped files into exit status 1.
    assert main(["prepare", str(music_dir), "--out", str(out_dir), "--strict", "--no-progress"]) == 1
    assert "cache is current" in capsys.readouterr().out


def test_prepare_json_and_options(music_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "cache"
    arguments = ["prepare", str(music_dir), "--out", str(out_dir), "--json", "--velocity-bins", "8",
                 "--split", "1,0,0", "--workers", "2", "--no-progress"]
    assert main(arguments) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["files_encoded"] == 3 and report["files_skipped"] == 1
    assert report["splits"] == {"train": 3, "validation": 0, "test": 0}
    assert load_cache(out_dir).tokenizer.config.velocity_bins == 8


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--split", "0.5,0.5"], "three comma-separated"),
        (["--workers", "0"], "--workers must be at least 1"),
        (["--velocity-bins", "0"], "velocity_bins"),
    ],
)
def test_bad_options_are_clear_errors(
    music_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    assert main(["prepare", str(music_dir), "--out", str(tmp_path / "c"), *arguments]) == 2
    assert message in capsys.readouterr().err


def test_folder_without_usable_files_exits_with_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["prepare", str(tmp_path / "empty"), "--out", str(tmp_path / "cache")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("musicgen prepare: error: no music files") and "Traceback" not in err
    (tmp_path / "empty" / "bad.mid").write_bytes(b"nope")
    assert main(["prepare", str(tmp_path / "empty"), "--out", str(tmp_path / "cache"), "--no-progress"]) == 2
    assert "no usable music under" in capsys.readouterr().err
    assert not (tmp_path / "cache" / "manifest.json").exists()


def test_bench_prepare_reports_figures(music_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "prepare", "--data", str(music_dir), "--json", "--repeats", "1", "--workers", "1"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["files"] == 3 and result["files_skipped"] == 1 and result["notes"] == 9
    assert result["cold_prepare_seconds"] > 0 and result["cache_reload_seconds"] > 0
    assert result["cold_prepare_notes_per_second"] > 0
