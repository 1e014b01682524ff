"""Fine-tuning from a trained checkpoint, the end-of-training verdict, and the run's guards:
one run per directory, a full disk, a folder of one piece."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from pathlib import Path

import pretty_midi
import pytest
from midi_factory import Track, make_pretty_midi, scale_notes, write_scale_pieces

from musicgen.cli import main
from musicgen.training import checkpoint, feedback
from musicgen.training.locks import DirectoryLock
from musicgen.training.loop import TrainConfig, train
from musicgen.training.schedule import TrainState

TINY = TrainConfig(
    units=16, num_layers=1, embedding_dim=8, dropout=0.0, seq_len=32, batch_size=4, max_updates=6, eval_every=3,
    warmup_updates=0, learning_rate=1e-2, seed=1, transpose_range=(-2, 2), precision="float32",
)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("finetune")


@pytest.fixture(scope="module")
def base(workspace: Path) -> Path:
    """A tiny base model, trained on rising scales without drums."""
    out = workspace / "base"
    train(write_scale_pieces(workspace / "scales"), out, TINY, progress=False, tokenizer_options={"use_drums": False})
    return out


@pytest.fixture(scope="module")
def tunes(workspace: Path) -> Path:
    """Another folder: falling melodies."""
    folder = workspace / "tunes"
    folder.mkdir()
    for index in range(6):
        pitches = tuple(72 - step for step in (0, 2, 3, 5, 7, 8, 10)[index % 3:])
        make_pretty_midi([Track(scale_notes(24, pitches))]).write(str(folder / f"tune_{index}.mid"))
    return folder


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["train", *argv, "--quiet"])
    return code, capsys.readouterr().err


def test_fine_tuning_starts_where_the_base_model_is_on_the_new_data(base: Path, tunes: Path, workspace: Path) -> None:
    import keras

    from musicgen.data.windows import WindowPlan
    from musicgen.training.trainer import PAD_ID

    out = workspace / "tuned"
    result = train(tunes, out, dataclasses.replace(TrainConfig(), base=str(base), max_updates=6, eval_every=3,
                                                   seq_len=32, batch_size=4, warmup_updates=0, precision="float32"),
                   progress=False)
    tuned = checkpoint.load_checkpoint(out)
    base_checkpoint = checkpoint.load_checkpoint(base)
    assert tuned.tokenizer.config == base_checkpoint.tokenizer.config
    assert (tuned.train_config.units, tuned.train_config.num_layers) == (16, 1)
    assert tuned.train_config.learning_rate == 5e-4 and tuned.state["base"] == str(base)
    # The weights' whole training time: the base's, then this run's.
    assert tuned.state["total_wall_seconds"] == pytest.approx(
        base_checkpoint.state["total_wall_seconds"] + tuned.state["wall_seconds"])
    # The first row is the base model itself, scored on the new folder's validation windows.
    first = result.history[0]
    assert first["updates"] == 0 and first["loss"] is None
    model = base_checkpoint.model
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=PAD_ID))
    from musicgen.data.sources import open_data
    from musicgen.training.inputs import split_streams

    cache = open_data(tunes, tokenizer_config=tuned.tokenizer.config)
    _, validation, _ = split_streams(cache, 32, tuned.tokenizer)
    plan = WindowPlan(validation, 32, 4, shuffle=False, drop_remainder=False, tokenizer=tuned.tokenizer)
    expected = model.evaluate(plan.dataset(epoch=0, cardinality=True), verbose=0)
    assert first["val_loss"] == pytest.approx(expected, rel=1e-5)
    assert result.history[-1]["val_loss"] < first["val_loss"]


def test_a_folder_the_base_cannot_represent_is_refused(base: Path, workspace: Path, capsys) -> None:
    folder = workspace / "band"
    folder.mkdir()
    for index in range(3):
        drums = Track([(36, beat, beat + 0.25, 100) for beat in range(16)], is_drum=True, name="Drums")
        make_pretty_midi([Track(scale_notes(8)), drums]).write(str(folder / f"song_{index}.mid"))
    code, err = _cli([str(folder), "--out", str(workspace / "band-out"), "--from", str(base)], capsys)
    assert code == 2 and "cannot represent this folder: it has drums, which the base model does not play" in err
    assert not (workspace / "band-out").exists()


def test_another_encoding_with_from_is_refused(base: Path, tunes: Path, workspace: Path, capsys) -> None:
    code, err = _cli([str(tunes), "--out", str(workspace / "events-out"), "--from", str(base), "--encoding", "events"],
                     capsys)
    assert code == 2 and "fixes the tokenizer; it conflicts with encoding 'events' (the base has 'notes')" in err


def test_resuming_with_another_from_is_refused(base: Path, tunes: Path, workspace: Path, capsys) -> None:
    out = workspace / "scratch"
    train(tunes, out, dataclasses.replace(TINY, max_updates=3), progress=False)
    code, err = _cli([str(tunes), "--out", str(out), "--resume", "--from", str(base)], capsys)
    assert code == 2 and "it was trained --from none, not --from" in err


def test_from_auto_fine_tunes_the_shipped_base_on_a_small_folder_it_can_represent(
        base: Path, tunes: Path, performed: Path, workspace: Path, monkeypatch) -> None:
    from musicgen import paths

    monkeypatch.setattr(paths, "BASE_CHECKPOINT", base)
    schedule = dict(max_updates=3, eval_every=3, seq_len=32, batch_size=4, warmup_updates=0)
    auto = train(tunes, workspace / "auto", dataclasses.replace(TrainConfig(), **schedule), progress=False)
    assert checkpoint.read_train_config(auto.directory).base == str(base)
    assert auto.history[0]["updates"] == 0  # a fine-tuning run scores the base model first
    # A model-shape option, --from none, or a folder the base cannot represent: from scratch.
    for name, config in [("shaped", dataclasses.replace(TINY, max_updates=3)),
                         ("none", dataclasses.replace(TrainConfig(), base="none", **schedule))]:
        train(tunes, workspace / name, config, progress=False)
        assert checkpoint.read_train_config(workspace / name).base is None
    drums = workspace / "drum_tunes"
    drums.mkdir()
    for index in range(4):
        make_pretty_midi([Track(scale_notes(16, (60, 62, 64))), Track(scale_notes(16, (36, 38)), is_drum=True)]
                         ).write(str(drums / f"song_{index}.mid"))
    train(drums, workspace / "drums", dataclasses.replace(TrainConfig(), **schedule), progress=False)
    assert checkpoint.read_train_config(workspace / "drums").base is None
    # A performed folder (onsets off the beat grid): the base's 1/12-beat grid would move them up to 21 ms.
    train(performed, workspace / "performed_run", dataclasses.replace(TrainConfig(), **schedule), progress=False)
    assert checkpoint.read_train_config(workspace / "performed_run").base is None
    assert checkpoint.load_tokenizer(workspace / "performed_run").config.timing == "seconds"


@pytest.fixture(scope="module")
def performed(workspace: Path) -> Path:
    """Four takes played off the beat grid (onsets up to 130 ms late, at 120 BPM)."""
    folder = workspace / "performed"
    folder.mkdir()
    for index in range(4):
        onsets = [step * 0.5 + 0.013 * ((step * 7 + index) % 11) for step in range(40)]
        make_pretty_midi([Track([(60 + step % 7, onset, onset + 0.4, 70) for step, onset in enumerate(onsets)])]
                         ).write(str(folder / f"take_{index}.mid"))
    return folder


def test_a_performance_fine_tunes_a_base_whose_grid_keeps_its_timing(performed: Path, workspace: Path,
                                                                      monkeypatch, capsys) -> None:
    from musicgen import paths
    from musicgen.training.finetune import TIMING_TOLERANCE_MS, grid_error

    fine = workspace / "base48"
    train(write_scale_pieces(workspace / "scales48"), fine, TINY, progress=False,
          tokenizer_options={"use_drums": False, "steps_per_quarter": 48})
    monkeypatch.setattr(paths, "BASE_CHECKPOINT", fine)
    schedule = dict(max_updates=3, eval_every=3, seq_len=32, batch_size=4, warmup_updates=0)
    run = train(performed, workspace / "performed_fine", dataclasses.replace(TrainConfig(), **schedule))
    assert checkpoint.read_train_config(run.directory).base == str(fine)
    config = checkpoint.load_tokenizer(run.directory).config
    assert (config.timing, config.steps_per_quarter) == ("beats", 48)
    assert "its 1/48-beat grid moves 95% of the folder's onsets by at most" in capsys.readouterr().err
    from musicgen.data.sources import open_data

    cache = open_data(performed, progress=False)
    assert grid_error(cache, 48) <= TIMING_TOLERANCE_MS < grid_error(cache, 12)


def test_only_what_the_folder_uses_must_match_the_base() -> None:
    from musicgen.tokens import TokenizerConfig
    from musicgen.training.finetune import fidelity_differences

    base = TokenizerConfig(timing="beats", pedal="extend")
    assert fidelity_differences(TokenizerConfig(pedal="ignore"), base) == ([], "")  # no pedal in the folder
    assert fidelity_differences(TokenizerConfig(pedal="extend"), base) == ([], "")
    assert fidelity_differences(TokenizerConfig(timing="seconds", pedal="extend"), base) == (
        ["timing 'seconds' (the base has 'beats')"], "")  # no folder to measure: its timing counts as lost
    assert fidelity_differences(TokenizerConfig(pedal="events"), base)[0] == ["pedal 'events' (the base has 'extend')"]


def test_a_folder_of_one_piece_is_refused(workspace: Path, capsys) -> None:
    folder = workspace / "one"
    folder.mkdir()
    make_pretty_midi([Track(scale_notes(64))]).write(str(folder / "only.mid"))
    code, err = _cli([str(folder), "--out", str(workspace / "one-out")], capsys)
    assert code == 2 and "holds 1 usable piece; a model needs at least two" in err


def test_a_second_run_on_the_same_directory_is_refused_and_a_dead_one_does_not_block(workspace: Path, capsys) -> None:
    out = workspace / "locked"
    with DirectoryLock(out, purpose="training"):
        code, err = _cli([str(workspace / "scales"), "--out", str(out)], capsys)
        assert code == 2 and f"{out} is in use by another musicgen run (process " in err
    # A run killed while holding the lock leaves the file, but not the lock.
    holder = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import os
        from musicgen.training.locks import DirectoryLock
        DirectoryLock({str(out)!r}).acquire()
        os._exit(9)
        """)], check=False)
    assert holder.returncode == 9 and (out / ".lock").exists()
    DirectoryLock(out).acquire().release()


def test_a_full_disk_is_one_line_naming_the_file_and_the_intact_checkpoint(tmp_path: Path, monkeypatch) -> None:
    import errno

    from musicgen import fileio
    from musicgen.errors import DiskFullError

    target = tmp_path / "model.keras"
    target.write_bytes(b"x" * 300_000)

    def fill(path: Path) -> None:
        path.write_bytes(b"y" * 1000)
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(DiskFullError) as caught, fileio.atomic_path(target) as temporary:
        fill(temporary)
    message = str(caught.value)
    assert message.startswith(f"no space left on the device for {target}: it needs at least 0.3 MB")
    assert message.endswith("the previous model.keras is intact") and "\n" not in message
    assert target.read_bytes() == b"x" * 300_000 and sorted(tmp_path.iterdir()) == [target]
    # Keras wraps the OSError; the cause chain still tells.
    wrapped = RuntimeError("save failed")
    wrapped.__cause__ = OSError(errno.ENOSPC, "No space left on device")
    assert fileio.is_disk_full(wrapped) and not fileio.is_disk_full(RuntimeError("other"))


# The verdict.


def _rows(losses: list[tuple[float, float]]) -> list[dict]:
    return [{"updates": 100 * (index + 1), "loss": loss, "val_loss": val} for index, (loss, val) in enumerate(losses)]


def test_memorising_is_seen_when_validation_rises_while_training_falls() -> None:
    warning = feedback.memorising(_rows([(3.0, 3.1), (2.0, 2.5), (1.2, 2.7), (0.6, 3.2)]))
    assert warning.startswith("the model is memorising its training pieces: validation loss rose from 2.500 "
                              "(at 200 updates) to 3.200 while training loss fell from 2.000 to 0.600")
    assert feedback.memorising(_rows([(3.0, 3.1), (2.0, 2.5), (1.8, 2.4)])) is None  # still improving
    assert feedback.memorising(_rows([(3.0, 3.1), (2.0, 2.5), (2.2, 2.7)])) is None  # both rose: not memorising


def test_the_warnings_a_run_calls_for() -> None:
    worse = feedback.Feedback(model_nll=1.5, ngram_nll=1.4, ngram_order=4, tokens=1000)
    state = TrainState(best_val_loss=3.6, unigram_loss=3.7)
    found = feedback.warnings(worse, [], state, train_tokens=23_000, pieces=80)
    assert worse.verdict == "no better than the n-gram baseline"
    assert found[0].startswith("the model is no better than the n-gram baseline")
    assert found[1].startswith("the model never left the unigram plateau (best validation loss 3.600")
    assert found[2].startswith("80 pieces (23,000 training tokens) are few to learn music from scratch")
    assert "--from" in found[0] and "add --from" in found[2]
    # A folder the base model cannot keep (drums, a performance's seconds grid): no warning offers it.
    unfit = feedback.warnings(worse, [], state, train_tokens=23_000, pieces=80, base_fits=False)
    assert "train for longer (--max-updates)" in unfit[0] and not any("--from" in line for line in unfit)
    assert unfit[2].endswith("the base model cannot keep this folder's music, so more music is what would help most")
    good = feedback.Feedback(model_nll=1.0, ngram_nll=1.4, ngram_order=4, tokens=1000)
    assert feedback.warnings(good, [], TrainState(best_val_loss=1.0, unigram_loss=3.7, base="b"), 23_000, 80) == []
    assert good.verdict == "better than the n-gram baseline (29% less NLL per token)"


def test_training_ends_with_the_verdict(base: Path, capsys) -> None:
    state = checkpoint.load_checkpoint(base).state
    verdict = state["history"]["feedback"]
    assert verdict["tokens"] > 0 and verdict["ngram_nll"] > 0
    assert verdict["ratio"] == pytest.approx(verdict["model_nll"] / verdict["ngram_nll"])
    assert any("few to learn music from scratch" in warning for warning in verdict["warnings"])


def test_midi_file_written_for_the_fixture_is_valid(tunes: Path) -> None:
    assert len(pretty_midi.PrettyMIDI(str(tunes / "tune_0.mid")).instruments[0].notes) == 48


def test_tracks_beyond_the_base_join_their_instrument_more_instruments_are_refused() -> None:
    from types import SimpleNamespace

    from musicgen.errors import DataError
    from musicgen.tokens import TokenizerConfig
    from musicgen.training.finetune import check_representable

    base = SimpleNamespace(tokenizer=SimpleNamespace(config=TokenizerConfig(max_tracks=16)), directory="base")

    def cache(programs: list[int]) -> SimpleNamespace:
        return SimpleNamespace(pieces=[{"notes": 100, "stats": {"notes": 100, "programs": programs}}])

    check_representable(cache([0, 0, 0, 33, 33, *range(40, 53)]), base)  # 18 tracks of 14 instruments: they fit
    with pytest.raises(DataError, match="a piece has 18 instruments, the base model at most 16 tracks"):
        check_representable(cache(list(range(18))), base)


def test_a_folder_that_repeats_its_bars_keeps_every_note_in_a_base_with_repeat_tokens(tmp_path: Path) -> None:
    """A groove played eight times is one bar and seven REPEATs in the base's tokens: the cache
    counts the notes it plays (not the note tokens), so the base is not refused for losing them."""
    from types import SimpleNamespace

    import numpy as np

    from musicgen.data.prepare import prepare
    from musicgen.tokens import Kind, Tokenizer, TokenizerConfig
    from musicgen.training.finetune import check_representable

    config = TokenizerConfig(velocity_bins=1, min_pitch=36, max_pitch=84, repeats=(1, 2, 4, 8))
    folder = tmp_path / "grooves"
    folder.mkdir()
    bar = [(36, 0.0, 1.0, 90), (43, 1.0, 2.0, 90), (48, 2.0, 3.0, 90), (43, 3.0, 4.0, 90)]
    notes = [(pitch, start + 4 * index, end + 4 * index, velocity) for index in range(8)
             for pitch, start, end, velocity in bar]
    make_pretty_midi([Track(notes, program=33)]).write(str(folder / "groove.mid"))
    cache = prepare(folder, tmp_path / "cache", tokenizer_config=config, progress=False)
    tokenizer = Tokenizer(config)
    ids = cache.tokens[cache.offsets[0]:cache.offsets[1]]
    assert np.count_nonzero(tokenizer.kinds[ids] == Kind.REPEAT) >= 1
    assert np.count_nonzero(tokenizer.roles.note[ids]) < 32 == tokenizer.note_count(ids) == cache.pieces[0]["notes"]
    check_representable(cache, SimpleNamespace(tokenizer=tokenizer, directory="base"))
