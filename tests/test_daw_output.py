"""Music a DAW user keeps: full bars in the stated meter, parts in range, exact bars, the file's
metadata kept, and edits that change only what was asked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import mido
import numpy as np
import pytest
from midi_factory import Track, make_pretty_midi
from tunes import tune

from musicgen.cli import main
from musicgen.music import midi_io
from musicgen.music.instruments import playable
from musicgen.music.piece import PITCH, START, TRACK
from musicgen.tokens import Kind, Tokenizer, TokenizerConfig

tf = pytest.importorskip("tensorflow")

NOTES = TokenizerConfig(velocity_bins=1, min_pitch=36, max_pitch=96)


def generate(capsys, *arguments: str) -> list[Path]:
    code = main(["generate", *arguments, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    generate.err = captured.err
    return [Path(path) for path in json.loads(captured.out.strip().splitlines()[-1])["files"]]


def bars_of(path: Path) -> tuple[int, int]:
    """``(bars, bars whose last beat is silent)`` of a MIDI file in its first meter."""
    piece = midi_io.read_piece(path)
    _, numerator, denominator = piece.time_signatures[0]
    length, beat = numerator * 4 / denominator, 4 / denominator
    count = int(np.ceil(piece.end_beat / length - 1e-9))
    silent = sum(not np.any((piece.notes[:, 0] < (bar + 1) * length) & (piece.notes[:, 1] > (bar + 1) * length - beat
                                                                          + 1e-6)) for bar in range(count))
    return count, silent


def test_sampled_bars_are_full_exact_in_number_in_range_and_in_a_key(tune_model: Path, tmp_path: Path, capsys) -> None:
    paths = generate(capsys, "--checkpoint", str(tune_model), "--num", "6", "--bars", "4", "--seed", "1",
                     "--out", str(tmp_path))
    assert "sampling 6 pieces of 4 bars" in generate.err
    profile = json.loads((tune_model / "profile.json").read_text())
    for path in paths:
        assert bars_of(path) == (4, 0)
        piece = midi_io.read_piece(path)
        assert piece.key_signatures  # the key the notes are in
        for index, track in enumerate(piece.tracks):
            low, high = profile["pitch_ranges"][str(track.program)]
            pitches = piece.notes[piece.notes[:, TRACK] == index, PITCH]
            assert low <= pitches.min() and pitches.max() <= high


def test_an_asked_key_is_written_and_program_gives_one_track(tune_model: Path, tmp_path: Path, capsys) -> None:
    (path,) = generate(capsys, "--checkpoint", str(tune_model), "--key", "G major", "--bars", "2", "--seed", "2",
                       "--program", "40", "--out", str(tmp_path))
    piece = midi_io.read_piece(path)
    assert piece.key_signatures == ((0.0, 7),)
    assert [(track.program, track.name) for track in piece.tracks] == [(40, "Violin")]


def random_sampler(constraints_profile: dict) -> tuple:
    import keras

    from musicgen.data.profile import ModelProfile
    from musicgen.generation.sampler import Sampler
    from musicgen.models.language import build_language_model

    tokenizer = Tokenizer(NOTES)
    keras.utils.set_random_seed(3)
    model = build_language_model(tokenizer.vocab_size, "lstm", 16, 1, embedding_dim=8)
    constraints = ModelProfile(**constraints_profile).constraints(tokenizer)
    return tokenizer, Sampler(model, tokenizer, jit_compile=False, constraints=constraints)


def test_every_part_keeps_to_its_range_and_its_stacks() -> None:
    """A random model plays anything; the sampler keeps violin and cello (programs no data showed:
    the General MIDI ranges) and a one-note-at-a-time flute (the data's range and stacks) in bounds."""
    tokenizer, sampler = random_sampler({"pitch_ranges": {"73": [64, 76]}, "max_stacks": {"73": 1}})
    name = tokenizer.id_of
    for programs in ((40, 42), (73,)):
        prefix = np.array([tokenizer.bos_id, *(name(Kind.PROGRAM, p) for p in programs), name(Kind.BAR)], np.int32)
        rows = sampler.sample_tokens(num=8, length=200, seed=5, prefix=prefix)
        for row in rows:
            piece = tokenizer.decode_piece(row)
            for index, program in enumerate(programs):
                pitches = piece.notes[piece.notes[:, TRACK] == index]
                low, high = (64, 76) if program == 73 else playable(program)[:2]
                assert np.all((pitches[:, PITCH] >= low) & (pitches[:, PITCH] <= high))
                stacks = np.unique(pitches[:, START], return_counts=True)[1]
                assert stacks.max(initial=0) <= (1 if program == 73 else playable(program)[2])


def test_fit_meters_states_the_meter_the_bars_play() -> None:
    tokenizer = Tokenizer(NOTES)
    name = tokenizer.id_of
    four = name(Kind.TIME_SIGNATURE, tokenizer.meters.index((4, 4)))

    def bar(duration: int, first: bool) -> list[int]:
        return [name(Kind.BAR), *([four] if first else []), name(Kind.TRACK, 0), name(Kind.POSITION, 0),
                name(Kind.PITCH, 60), tokenizer.duration_id(duration)]

    header = [tokenizer.bos_id, name(Kind.PROGRAM, 0)]
    halves = np.array(header + sum((bar(24, index == 0) for index in range(4)), []) + [tokenizer.eos_id])
    fitted = tokenizer.fit_meters(halves)
    assert tokenizer.token_name(fitted[3]) == "TIME_SIGNATURE(2/4)"
    wholes = np.array(header + sum((bar(48, index == 0) for index in range(4)), []) + [tokenizer.eos_id])
    np.testing.assert_array_equal(tokenizer.fit_meters(wholes), wholes)


def test_training_windows_restate_the_meter() -> None:
    from musicgen.data.bar_windows import BarWindowPlan

    tokenizer = Tokenizer(NOTES)
    melody = [(60 + i % 7, i * 1.0, i + 1.0, 80) for i in range(48)]
    ids = tokenizer.encode(make_pretty_midi([Track(melody)], time_signature=(3, 4)))
    windows = BarWindowPlan([ids], 40, tokenizer, shuffle=True, seed=0).draw(0)
    assert len(windows) > 2
    three = tokenizer.id_of(Kind.TIME_SIGNATURE, tokenizer.meters.index((3, 4)))
    for window in windows:
        first_bar = int(np.argmax(window == tokenizer.id_of(Kind.BAR)))
        assert window[first_bar + 1] == three


def song(path: Path) -> Path:
    """Three named tracks on three channels, a tempo change, a key signature and a controller: flute
    and bass play all eight bars, a synth lead only the first two (its program last, so that the
    tune model, which saw two tracks, writes the flute and the bass as its tracks 0 and 1)."""
    melody = [(72 + (0, 2, 4, 5)[i % 4], i * 1.0, i + 1.0, 90) for i in range(32)]
    bass = [(40 + (0, 7)[i % 2], i * 2.0, i * 2.0 + 2.0, 80) for i in range(16)]
    lead = [(60, i * 2.0, i * 2.0 + 2.0, 70) for i in range(4)]
    pm = make_pretty_midi([Track(melody, program=73, name="Flute"), Track(bass, program=33, name="Bass"),
                           Track(lead, program=80, name="Lead")])
    pm.write(str(path))
    midi = mido.MidiFile(str(path))
    midi.tracks[0].insert(1, mido.MetaMessage("key_signature", key="D", time=0))
    midi.tracks[0].insert(2, mido.MetaMessage("set_tempo", tempo=600_000, time=960 * 8))
    midi.tracks[1].insert(1, mido.Message("control_change", control=7, value=100, channel=0, time=0))
    midi.save(str(path))
    return path


def events(path: Path, track: int) -> list:
    tick, found = 0, []
    for message in mido.MidiFile(str(path)).tracks[track]:
        tick += message.time
        if message.type not in ("note_on", "note_off", "end_of_track"):
            found.append((tick, message.copy(time=0)))
    return found


def chunks(path: Path) -> list[bytes]:
    data, position, found = path.read_bytes(), 14, []
    while position + 8 <= len(data):
        size = int.from_bytes(data[position + 4:position + 8], "big")
        found.append(data[position:position + 8 + size])
        position += 8 + size
    return found


def test_infill_rewrites_only_the_tracks_around_the_bars_and_keeps_the_file(tune_model: Path, tmp_path: Path,
                                                                          capsys) -> None:
    source = song(tmp_path / "song.mid")
    assert main(["infill", str(source), "--checkpoint", str(tune_model), "--bars", "5-6", "--seed", "4",
                 "--out", str(tmp_path / "out"), "--json"]) == 0
    written = Path(json.loads(capsys.readouterr().out.strip().splitlines()[-1])["files"][0])
    before, after = chunks(source), chunks(written)
    assert len(after) == len(before)  # no instrument added
    assert after[0] == before[0] and after[3] == before[3]  # the tempo map and key signature; the lead
    for track in (1, 2):
        assert events(written, track) == events(source, track)  # names, programs, controllers
    old, new = midi_io.read_piece(source), midi_io.read_piece(written)
    for index in range(3):
        outside = [tuple(row) for row in old.notes[(old.notes[:, TRACK] == index)
                                                   & ((old.notes[:, START] < 16) | (old.notes[:, START] >= 24))]]
        kept = {tuple(row) for row in new.notes[new.notes[:, TRACK] == index]}
        assert set(outside) <= kept
    for index, (low, high) in ((0, (72, 77)), (1, (40, 47))):  # each part in the song's own range, and playing
        region = new.notes[(new.notes[:, TRACK] == index) & (new.notes[:, START] >= 16) & (new.notes[:, START] < 24)]
        assert len(region) and region[:, PITCH].min() >= low and region[:, PITCH].max() <= high


def test_accompaniment_names_its_tracks_plays_in_every_bar_and_keeps_the_file(tune_model: Path, tmp_path: Path,
                                                                            capsys) -> None:
    source = tmp_path / "melody.mid"
    melody = tune(0, dense=True, bars=4)
    melody.instruments = melody.instruments[:1]
    melody.write(str(source))
    assert main(["accompany", str(source), "--checkpoint", str(tune_model), "--instruments", "cello", "--seed", "5",
                 "--out", str(tmp_path / "out"), "--json"]) == 0
    written = Path(json.loads(capsys.readouterr().out.strip().splitlines()[-1])["files"][0])
    assert chunks(written)[:len(chunks(source))] == chunks(source)
    piece = midi_io.read_piece(written)
    assert [track.name for track in piece.tracks] == ["Flute", "Cello"]
    cello = piece.notes[piece.notes[:, TRACK] == 1]
    assert sorted({int(start // 4) for start in cello[:, START]}) == [0, 1, 2, 3]


def test_primer_bars_beyond_the_training_window(tune_model: Path, tmp_path: Path, capsys) -> None:
    source = tmp_path / "long.mid"
    tune(0, dense=True, bars=12).write(str(source))
    (path,) = generate(capsys, "--checkpoint", str(tune_model), "--primer", str(source), "--primer-bars", "12",
                       "--bars", "2", "--seed", "3", "--out", str(tmp_path / "out"))
    assert "continuing from the primer's last 12 of 12 bars" in generate.err
    assert bars_of(path)[0] == 14


def test_evaluate_leaves_out_the_pieces_the_checkpoint_trained_on(tune_model: Path, tmp_path: Path, capsys) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    training = json.loads((tune_model / "split.json").read_text())["train"]
    trained_folder = Path(json.loads((tune_model / "split.json").read_text())["source_dir"])
    for name in training[:12]:  # copies of training pieces, under other names
        (folder / f"copy-{name}").write_bytes((trained_folder / name).read_bytes())
    for index in range(12):
        tune(3, dense=index % 2 == 0, bars=2).write(str(folder / f"new{index:02d}.mid"))
    assert main(["evaluate", "--checkpoint", str(tune_model), str(folder), "--split", "all", "--json"]) == 0
    output = capsys.readouterr()
    result = json.loads(output.out.strip().splitlines()[-1])
    assert result["training_pieces_left_out"] >= 1
    assert "left out" in output.out


def test_prepare_puts_twins_in_one_split(tmp_path: Path) -> None:
    from musicgen.data.sources import open_data

    folder = tmp_path / "twins"
    folder.mkdir()
    for index in range(20):
        full = tune(index % 12, dense=index % 2 == 0, bars=4 + index % 3)
        full.write(str(folder / f"a{index:02d}-full.mid"))
        full.write(str(folder / f"z{index:02d}-copy.mid"))
        full.instruments = full.instruments[:1]  # the melody alone: a track subset of the full piece
        full.write(str(folder / f"m{index:02d}-lead.mid"))
    cache = open_data(folder, progress=False)
    split = dict(zip(cache.files("all"), [piece["split"] for piece in cache.pieces], strict=True))
    for index in range(20):
        assert split[f"a{index:02d}-full.mid"] == split[f"z{index:02d}-copy.mid"] == split[f"m{index:02d}-lead.mid"]


def test_the_verdict_warns_of_few_held_out_pieces_overfitting_and_says_why_from_scratch() -> None:
    from musicgen.training.feedback import few_held_out, overfitting

    assert few_held_out({"validation": (1, 900), "test": (5, 9000)}) == [
        "the validation split holds 1 piece (900 tokens): too few to trust figures measured on it (at least 3 "
        "pieces and 2,000 tokens); add music"]
    rows = [{"updates": 100, "loss": 1.51, "val_loss": 2.85}, {"updates": 200, "loss": 1.4, "val_loss": 2.9}]
    assert "below 60% of validation loss 2.850" in overfitting(rows)
    assert overfitting([{"updates": 100, "loss": 2.0, "val_loss": 2.2}]) is None


def test_piano_rolls_name_the_tracks_draw_bar_lines_and_mark_the_region() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    from musicgen.music.render import draw_piano_roll

    pm = tune(0, dense=True, bars=4)
    figure, axes = pyplot.subplots()
    draw_piano_roll(axes, pm, region=(2, 3))
    labels = axes.get_legend_handles_labels()[1]
    assert labels == ["bars 2-3", "Flute", "Bass"]
    assert len(axes.lines) >= 4  # a line at each of the four bars (and the legend's swatches)
    pyplot.close(figure)


def test_the_python_api_is_as_quiet_as_the_command_line() -> None:
    code = "import musicgen, tensorflow as tf; tf.constant(1)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stderr == ""


def test_a_ten_minute_score_at_10080_ticks_a_quarter_continues_into_a_readable_file(tune_model: Path,
                                                                                    tmp_path: Path, capsys) -> None:
    """music21 writes long scores at 10,080 ticks a quarter: ten minutes reach past the 10 million
    ticks pretty_midi reads. The continuation of such a file is written at a resolution it reads."""
    import mido
    import pretty_midi

    long = tmp_path / "long.mid"
    midi = mido.MidiFile(ticks_per_beat=10080)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=500000))
    track.append(mido.MetaMessage("time_signature", numerator=4, denominator=4))
    for beat in range(1200):  # ten minutes of quarter notes at 120 BPM
        track.append(mido.Message("note_on", note=72 + beat % 5, velocity=80, time=0))
        track.append(mido.Message("note_off", note=72 + beat % 5, velocity=0, time=10080))
    midi.save(str(long))
    paths = generate(capsys, "--checkpoint", str(tune_model), "--primer", str(long), "--bars", "2", "--seed", "1",
                     "--out", str(tmp_path / "out"))
    written = pretty_midi.PrettyMIDI(str(paths[0]))  # no "largest tick ... likely corrupt"
    assert written.get_end_time() >= 600.0 - 1e-3
    assert len(written.instruments[0].notes) >= 1200
    assert mido.MidiFile(str(paths[0])).ticks_per_beat < 10080
