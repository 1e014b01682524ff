"""Steering a tiny trained model: controls move their attribute; infill, accompaniment and primers keep the given notes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
from tunes import tune

from musicgen.cli import main
from musicgen.errors import ConfigError
from musicgen.music import analysis, midi_io
from musicgen.music.piece import START, TRACK


@pytest.fixture(scope="module")
def model_dir(tune_model: Path) -> Path:
    return tune_model


def generated(capsys, *arguments: str) -> list[Path]:
    code = main(["generate", *arguments, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    generated.err = captured.err
    return [Path(path) for path in json.loads(captured.out.strip().splitlines()[-1])["files"]]


def test_key_and_density_controls_move_their_attribute(model_dir: Path, tmp_path: Path, capsys) -> None:
    def figures(*controls: str) -> tuple[float, float]:
        paths = generated(capsys, "--checkpoint", str(model_dir), "--num", "6", "--bars", "2", "--seed", "1",
                          "--temperature", "0.8", "--out", str(tmp_path / "_".join(controls)), *controls)
        pieces = [midi_io.read_piece(path) for path in paths]
        in_c = np.mean([np.isin(p.notes[:, 2].astype(int) % 12, [0, 2, 4, 5, 7, 9, 11]).mean() for p in pieces])
        density = np.mean([analysis.note_density(p) for p in pieces])
        return float(in_c), float(density)

    # The tokens alone (no guidance, every draw kept): what the model learnt.
    c_major, _ = figures("--key", "C major", "--key-guidance", "0", "--candidates", "1")
    f_sharp, _ = figures("--key", "F# major", "--key-guidance", "0", "--candidates", "1")
    assert c_major > f_sharp + 0.3
    _, dense = figures("--density", "high", "--candidates", "1")
    _, sparse = figures("--density", "medium", "--candidates", "1")  # the thirds of 3 and 9 notes a bar: 3 is "medium"
    assert dense > 1.5 * sparse


def test_key_guidance_pulls_the_notes_into_a_key_the_data_never_had(model_dir: Path, tmp_path: Path,
                                                                    capsys) -> None:
    d_major = [2, 4, 6, 7, 9, 11, 1]

    def in_d_major(guidance: str) -> float:
        paths = generated(capsys, "--checkpoint", str(model_dir), "--num", "6", "--bars", "2", "--seed", "3",
                          "--key", "D major", "--key-guidance", guidance, "--candidates", "1",
                          "--out", str(tmp_path / guidance))
        notes = np.concatenate([midi_io.read_piece(path).notes for path in paths])
        return float(np.isin(notes[:, 2].astype(int) % 12, d_major).mean())

    unguided, guided = in_d_major("0"), in_d_major("12")
    # The tunes are in C and F# major (5 of 7 notes shared); this tiny model is sure of them
    # (0.55 of its notes fall in D major at seed 3), and strong guidance moves it.
    assert guided > unguided + 0.1
    assert main(["generate", "--checkpoint", str(model_dir), "--key", "D major", "--key-guidance", "-1"]) == 2
    assert "--key-guidance must be a non-negative number" in capsys.readouterr().err


def test_candidates_keep_the_first_draw_with_what_was_asked(model_dir: Path, tmp_path: Path, capsys) -> None:
    from musicgen.generation.steering import choose_candidates
    from musicgen.training.checkpoint import load_checkpoint

    tokenizer = load_checkpoint(model_dir).tokenizer
    density = tokenizer.control("density")

    def density_bin_of(piece: object, _: object = None) -> int:
        return density.read(piece, tokenizer.config)

    edges = None
    for index, (tonic, dense) in enumerate([(6, False), (0, False), (0, True), (6, True)]):
        tune(tonic, dense).write(str(tmp_path / f"t{index}.mid"))
    pieces = [midi_io.read_piece(tmp_path / f"t{index}.mid") for index in range(4)]
    assert [density_bin_of(piece, edges) for piece in pieces] == [1, 1, 2, 2]
    # Two groups of two: the first with both asked for, else the first with the most of them.
    assert choose_candidates(pieces, tokenizer, {"key": "C major", "density": "high"}, 2) == [1, 2]
    assert choose_candidates(pieces, tokenizer, {"density": "medium"}, 2) == [0, 2]
    assert choose_candidates(pieces, tokenizer, {"key": "F# major"}, 4) == [0]

    def bins(candidates: str) -> list[int]:
        paths = generated(capsys, "--checkpoint", str(model_dir), "--num", "4", "--bars", "2", "--seed", "5",
                          "--density", "medium", "--candidates", candidates, "--out", str(tmp_path / candidates))
        assert f"sampling {4 * int(candidates)} pieces of 2 bars" in generated.err
        return [density_bin_of(midi_io.read_piece(path), edges) for path in paths]

    single, chosen = bins("1"), bins("8")
    assert chosen.count(1) == 4 and chosen.count(1) > single.count(1)


def test_instruments_are_the_header_and_errors_name_the_problem(model_dir: Path, tmp_path: Path, capsys) -> None:
    paths = generated(capsys, "--checkpoint", str(model_dir), "--instruments", "flute", "--bars", "2", "--seed", "4",
                      "--out", str(tmp_path))
    assert [instrument.program for instrument in pretty_midi.PrettyMIDI(str(paths[0])).instruments] == [73]
    for arguments, message in [
        (["--instruments", "kazoo"], "unknown instrument 'kazoo'"),
        (["--key", "H dorian"], "cannot read the key"),
        (["--style", "reels"], "was trained without STYLE controls"),
    ]:
        assert main(["generate", "--checkpoint", str(model_dir), "--out", str(tmp_path), *arguments]) == 2
        assert message in capsys.readouterr().err
    with pytest.raises(ConfigError, match="events encoding, which has no controls"):
        from musicgen.generation.session import generate
        from musicgen.paths import BACH_CHECKPOINT

        generate(BACH_CHECKPOINT, key="C major", length=20)  # the shipped Bach model: the events encoding


def test_infill_changes_only_the_chosen_bars_and_tracks(model_dir: Path, tmp_path: Path, capsys) -> None:
    source = tmp_path / "song.mid"
    tune(0, dense=True, bars=8).write(str(source))
    assert main(["infill", str(source), "--checkpoint", str(model_dir), "--bars", "3-4", "--tracks", "bass",
                 "--seed", "2", "--out", str(tmp_path / "out"), "--json"]) == 0
    written = Path(json.loads(capsys.readouterr().out.strip().splitlines()[-1])["files"][0])
    before, after = midi_io.read_piece(source), midi_io.read_piece(written)
    assert [track.name for track in after.tracks] == ["Flute", "Bass"]
    for track in (0, 1):
        old = before.notes[before.notes[:, TRACK] == track]
        new = after.notes[after.notes[:, TRACK] == track]
        outside = (old[:, START] < 8.0) | (old[:, START] >= 16.0) if track == 1 else np.ones(len(old), bool)
        kept = {tuple(row) for row in new.tolist()}
        assert all(tuple(row) in kept for row in old[outside].tolist())
        if track == 0:
            assert len(new) == len(old)
    with pytest.raises(SystemExit):
        main(["infill", str(source), "--checkpoint", str(model_dir)])  # --bars is required
    capsys.readouterr()
    for arguments, message in [(["--bars", "1-8"], "covers the whole piece"), (["--bars", "7-9"], "outside the file"),
                               (["--bars", "2", "--tracks", "cello"], "names no track of the file")]:
        assert main(["infill", str(source), "--checkpoint", str(model_dir), "--out", str(tmp_path), *arguments]) == 2
        assert message in capsys.readouterr().err


def test_accompaniment_keeps_the_melody_and_adds_the_tracks(model_dir: Path, tmp_path: Path, capsys) -> None:
    melody = tune(0, dense=True, bars=4)
    melody.instruments = melody.instruments[:1]
    source = tmp_path / "melody.mid"
    melody.write(str(source))
    assert main(["accompany", str(source), "--checkpoint", str(model_dir), "--instruments", "bass", "--seed", "5",
                 "--out", str(tmp_path / "out")]) == 0
    written = sorted((tmp_path / "out").glob("*.mid"))[0]
    before, after = midi_io.read_piece(source), midi_io.read_piece(written)
    assert [track.program for track in after.tracks] == [73, 33]
    np.testing.assert_allclose(after.notes[after.notes[:, TRACK] == 0], before.notes)
    assert np.any(after.notes[:, TRACK] == 1)


def test_a_long_primer_is_kept_whole_and_continued_from_its_last_bars(model_dir: Path, tmp_path: Path, capsys) -> None:
    source = tmp_path / "long.mid"
    tune(6, dense=True, bars=40).write(str(source))
    paths = generated(capsys, "--checkpoint", str(model_dir), "--primer", str(source), "--primer-bars", "2",
                      "--bars", "2", "--seed", "3", "--length", "400", "--out", str(tmp_path / "out"))
    assert "continuing from the primer's last 2 of 40 bars" in generated.err
    before, after = midi_io.read_piece(source), midi_io.read_piece(paths[0])
    original = {tuple(row) for row in before.notes.round(6).tolist()}
    assert original <= {tuple(row) for row in after.notes.round(6).tolist()}
    new = after.notes[after.notes[:, START] >= 160.0 - 1e-6]
    assert len(new) > 0 and new[:, START].max() < 168.0  # two new bars of 4/4 after the primer's 40


def test_evaluate_controls_reports_hit_rates(model_dir: Path, capsys) -> None:
    from musicgen.evaluation.controls import control_hit_rates

    report = control_hit_rates(model_dir, per_setting=4, bars=2, seed=0, key_guidance=0.0, candidates=1)
    assert [row["setting"] for row in report["key"]["settings"]] == ["C major", "F# major"]
    found = {row["setting"]: dict(row["found"]) for row in report["key"]["settings"]}
    # The KEY token alone (no guidance, one draw) moves the key: C major asked, C major heard; F# never in C.
    assert found["C major"].get("C major", 0) >= 2 and "C major" not in found["F# major"]
    densities = [row["setting"] for row in report["density"]["settings"]]  # the bins the training pieces had
    assert report["key"]["samples"] == 8 and report["density"]["samples"] == 4 * len(densities) >= 8
    rows = {row["setting"]: row for row in report["instruments"]["settings"]}
    assert list(rows)[:3] == ["piano,bass,drums", "strings", "flute,piano"]  # what users ask for, first
    assert rows["piano,bass,drums"]["hits"] == 0 and "had no drums" in rows["piano,bass,drums"]["refused"]
    assert rows["33,73"]["hits"] == rows["33,73"]["samples"] == 4  # the data's own set plays throughout
    assert any("Acoustic Grand Piano" in note for note in rows["flute,piano"]["stand_ins"])
    assert main(["evaluate", "--checkpoint", str(model_dir), "--controls", "--samples-per-setting", "2",
                 "--bars", "2", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "key guidance 2, 4 candidates" in out and "control hit rates of" in out and "  key " in out and "  instruments " in out
