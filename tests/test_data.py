"""The token cache: encoding, reuse and invalidation, splits, and the window pipeline."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musicgen import fileio
from musicgen.data import prepare as prepare_module
from musicgen.data import sources
from musicgen.data.splits import split_of
from musicgen.errors import ConfigError, DataError
from musicgen.paths import BACH_MIDI_DIR
from musicgen.tokens import Tokenizer, TokenizerConfig


def write_midi(path: Path, pitches: list[int], program: int = 0) -> Path:
    """A one-track MIDI file with quarter notes of ``pitches`` at 120 qpm."""
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    instrument = pretty_midi.Instrument(program=program)
    for index, pitch in enumerate(pitches):
        instrument.notes.append(pretty_midi.Note(80, pitch, index * 0.5, index * 0.5 + 0.4))
    pm.instruments.append(instrument)
    path.parent.mkdir(parents=True, exist_ok=True)
    pm.write(str(path))
    return path


@pytest.fixture
def music_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "music"
    write_midi(folder / "a.mid", [60, 62, 64, 65, 67])
    write_midi(folder / "b.midi", [48, 50, 52])
    write_midi(folder / "sub" / "c.mid", [70, 72, 74, 76, 77, 79, 81])
    write_midi(folder / "sub" / "deeper" / "d.MID", [40, 45])
    (folder / "notes.txt").write_text("not music")
    (folder / ".hidden.tmp.mid").write_bytes(b"")
    return folder


class CountingEncoder:
    """Wraps ``prepare._read_file`` (in-process, workers=1) and records the files it reads."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.paths: list[str] = []
        original = prepare_module._read_file

        def read(midi_dir: str, path: str) -> dict:
            self.paths.append(path)
            return original(midi_dir, path)

        monkeypatch.setattr(prepare_module, "_read_file", read)


def run_prepare(folder: Path, cache: Path, **options) -> sources.TokenCache:
    return sources.prepare(folder, cache, workers=options.pop("workers", 1), progress=False, **options)


def test_prepare_encodes_every_file_and_matches_the_tokenizer(music_dir: Path, tmp_path: Path) -> None:
    cache = run_prepare(music_dir, tmp_path / "cache")
    assert cache.files() == ["a.mid", "b.midi", "sub/c.mid", "sub/deeper/d.MID"]
    # One velocity and quantised notes: the profile asks for the notes encoding without velocities.
    config = cache.tokenizer_config
    assert (config.encoding, config.velocity_bins, config.pedal, config.keys) == ("notes", 1, "ignore", True)
    tokenizer = cache.tokenizer
    for path, stream in zip(cache.files(), cache.streams("all"), strict=True):
        np.testing.assert_array_equal(stream, tokenizer.encode(music_dir / path))
        assert stream.dtype == np.int32
    manifest = cache.manifest
    assert manifest["tokenizer"] == cache.tokenizer_config.to_dict()
    assert manifest["files"][0]["size"] == (music_dir / "a.mid").stat().st_size
    assert [entry["notes"] for entry in manifest["pieces"]] == [5, 3, 7, 2]
    assert [entry["stats"]["notes"] for entry in manifest["pieces"]] == [5, 3, 7, 2]
    assert manifest["skipped"] == []
    # Reloading gives the same arrays.
    loaded = sources.load_cache(tmp_path / "cache")
    assert loaded.build_id == cache.build_id
    for left, right in zip(loaded.streams(), cache.streams(), strict=True):
        np.testing.assert_array_equal(left, right)
    assert loaded.tokenizer == tokenizer


def test_worker_processes_skip_and_report_a_corrupt_file(music_dir: Path, tmp_path: Path) -> None:
    (music_dir / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00")
    (music_dir / "text.mid").write_bytes(b"hello, not midi")
    cache = run_prepare(music_dir, tmp_path / "cache", workers=2)
    assert len(cache.files()) == 4
    skipped = {entry["path"]: entry["reason"] for entry in cache.manifest["skipped"]}
    assert set(skipped) == {"broken.mid", "text.mid"}
    assert "MThd" in skipped["text.mid"]
    report = fileio.read_json(tmp_path / "cache" / "report.json")
    assert report["files_skipped"] == 2 and report["files_encoded"] == 4
    assert {entry["path"] for entry in report["skipped"]} == {"broken.mid", "text.mid"}
    assert "broken.mid" in cache.summary()


def test_unchanged_files_reuse_the_cache_without_encoding(
    music_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = run_prepare(music_dir, tmp_path / "cache")
    encoder = CountingEncoder(monkeypatch)
    second = run_prepare(music_dir, tmp_path / "cache")
    assert encoder.paths == []
    assert second.status == "reused" and second.build_id == first.build_id


def test_touch_rehashes_but_does_not_re_encode(music_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = run_prepare(music_dir, tmp_path / "cache")
    stat = (music_dir / "a.mid").stat()
    os.utime(music_dir / "a.mid", ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    encoder = CountingEncoder(monkeypatch)
    second = run_prepare(music_dir, tmp_path / "cache")
    assert encoder.paths == []
    assert second.build_id == first.build_id and second.status == "updated"
    # The new mtime is recorded, so the next check is cheap again.
    third = run_prepare(music_dir, tmp_path / "cache")
    assert third.status == "reused"


def test_a_modified_file_alone_is_re_encoded(music_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = run_prepare(music_dir, tmp_path / "cache")
    write_midi(music_dir / "b.midi", [50, 52, 53, 55, 57, 59, 60, 62])
    encoder = CountingEncoder(monkeypatch)
    second = run_prepare(music_dir, tmp_path / "cache")
    assert encoder.paths == ["b.midi"]
    assert second.build_id != first.build_id
    np.testing.assert_array_equal(second.streams()[1], second.tokenizer.encode(music_dir / "b.midi"))
    np.testing.assert_array_equal(second.streams()[0], first.streams()[0])
    # Old arrays are removed once the new manifest is in place.
    assert sorted(p.name for p in (tmp_path / "cache").glob("*.npy")) == sorted(
        [second.manifest["tokens_file"], second.manifest["offsets_file"]]
    )


def test_added_and_removed_files_update_the_cache(music_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_prepare(music_dir, tmp_path / "cache")
    (music_dir / "a.mid").unlink()
    write_midi(music_dir / "e.mid", [60, 61])
    encoder = CountingEncoder(monkeypatch)
    cache = run_prepare(music_dir, tmp_path / "cache")
    assert encoder.paths == ["e.mid"]
    assert cache.files() == ["b.midi", "e.mid", "sub/c.mid", "sub/deeper/d.MID"]


def test_config_change_and_force_re_encode_everything(
    music_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = run_prepare(music_dir, tmp_path / "cache")
    encoder = CountingEncoder(monkeypatch)
    second = run_prepare(music_dir, tmp_path / "cache", tokenizer_config=TokenizerConfig(velocity_bins=8))
    assert len(encoder.paths) == 4
    assert second.build_id != first.build_id
    assert second.manifest["tokenizer"]["velocity_bins"] == 8
    assert second.tokenizer.config.velocity_bins == 8
    encoder.paths.clear()
    third = run_prepare(music_dir, tmp_path / "cache", tokenizer_config=TokenizerConfig(velocity_bins=8), force=True)
    assert len(encoder.paths) == 4 and third.build_id == second.build_id


def test_split_change_needs_no_encoding(music_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = run_prepare(music_dir, tmp_path / "cache")
    encoder = CountingEncoder(monkeypatch)
    second = run_prepare(music_dir, tmp_path / "cache", fractions=(0.0, 0.0, 1.0))
    assert encoder.paths == [] and second.build_id != first.build_id
    assert second.files("test") == second.files("all") and second.streams("train") == []


def test_empty_and_unusable_folders_are_data_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no music files"):
        run_prepare(tmp_path / "empty", tmp_path / "cache")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.mid").write_bytes(b"garbage")
    with pytest.raises(DataError, match=r"no usable music under.*x\.mid"):
        run_prepare(bad, tmp_path / "cache")
    with pytest.raises(DataError, match="is not a directory"):
        run_prepare(tmp_path / "missing", tmp_path / "cache")
    assert not (tmp_path / "cache" / "manifest.json").exists()


def test_damaged_caches_are_reported_and_rebuilt(music_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a prepared cache"):
        sources.load_cache(tmp_path / "nothing")
    cache = run_prepare(music_dir, tmp_path / "cache")
    (tmp_path / "cache" / cache.manifest["tokens_file"]).unlink()
    with pytest.raises(DataError, match="damaged"):
        sources.load_cache(tmp_path / "cache")
    rebuilt = run_prepare(music_dir, tmp_path / "cache")
    assert rebuilt.status == "rebuilt" and sources.load_cache(tmp_path / "cache").build_id == cache.build_id
    (tmp_path / "cache" / "manifest.json").write_text("{not json")
    with pytest.raises(DataError, match="unreadable"):
        sources.load_cache(tmp_path / "cache")


def test_an_interrupted_rebuild_leaves_the_previous_cache_valid(
    music_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = run_prepare(music_dir, tmp_path / "cache")
    write_midi(music_dir / "a.mid", [30, 31, 32])
    original = fileio.atomic_write_json

    def crash_on_manifest(target, value) -> None:
        if Path(target).name == "manifest.json":
            raise KeyboardInterrupt
        original(target, value)

    monkeypatch.setattr(fileio, "atomic_write_json", crash_on_manifest)
    with pytest.raises(KeyboardInterrupt):
        run_prepare(music_dir, tmp_path / "cache")
    monkeypatch.setattr(fileio, "atomic_write_json", original)
    survivor = sources.load_cache(tmp_path / "cache")  # new arrays were written, the old manifest still rules
    assert survivor.build_id == first.build_id
    np.testing.assert_array_equal(survivor.streams()[0], first.streams()[0])
    second = run_prepare(music_dir, tmp_path / "cache")
    assert second.build_id != first.build_id and len(list((tmp_path / "cache").glob("*.npy"))) == 2


def test_open_data_prepares_a_folder_once_and_loads_a_cache(
    music_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MUSICGEN_CACHE_DIR", str(tmp_path / "home"))
    cache = sources.open_data(music_dir)
    assert cache.directory == sources.default_cache_dir(music_dir)
    assert cache.directory.parent == tmp_path / "home" / "prepared"
    assert sources.open_data(music_dir).status == "reused"
    assert sources.open_data(cache.directory).build_id == cache.build_id
    with pytest.raises(ConfigError, match="another tokenizer config"):
        sources.open_data(cache.directory, tokenizer_config=TokenizerConfig(velocity_bins=4))
    with pytest.raises(DataError, match="does not exist"):
        sources.open_data(tmp_path / "nowhere")


def test_split_follows_the_stable_hash_and_is_recorded(music_dir: Path, tmp_path: Path) -> None:
    names = [f"piece{index:03d}.mid" for index in range(60)]
    splits = sources.assign_splits(names)
    assert splits == {name: split_of(name) for name in names}  # every split non-empty: no moves
    cache = run_prepare(music_dir, tmp_path / "cache")
    for entry in cache.manifest["pieces"]:
        assert cache.split_of(entry["path"]) == entry["split"]
    assert sorted(cache.files("train") + cache.files("validation") + cache.files("test")) == sorted(cache.files())
    with pytest.raises(ConfigError):
        cache.streams("training")


@settings(max_examples=60, deadline=None)
@given(st.sets(st.text("abcdefgh/", min_size=1, max_size=8), min_size=3, max_size=12))
def test_every_split_gets_a_file_from_three_files_on(names: set[str]) -> None:
    paths = sorted(names)
    splits = sources.assign_splits(paths)
    assert set(splits.values()) == {"train", "validation", "test"}
    assert sources.assign_splits(list(reversed(paths))) == splits
    natural = {path: split_of(path) for path in paths}
    moved = [path for path in paths if splits[path] != natural[path]]
    assert len(moved) <= 2


def test_few_files_and_zero_fractions_are_respected() -> None:
    assert sources.assign_splits(["a.mid", "b.mid"]) == {name: split_of(name) for name in ["a.mid", "b.mid"]}
    splits = sources.assign_splits([f"{index}.mid" for index in range(5)], (0.5, 0.5, 0.0))
    assert set(splits.values()) == {"train", "validation"}


def test_bundled_bach_files_prepare(tmp_path: Path) -> None:
    names = sorted(BACH_MIDI_DIR.glob("*.mid"))[:3]
    if len(names) < 3:
        pytest.skip("bundled Bach MIDI not exported yet")
    folder = tmp_path / "bach"
    folder.mkdir()
    for name in names:
        shutil.copy(name, folder)
    cache = run_prepare(folder, tmp_path / "cache", workers=2)
    assert len(cache.files()) == 3 and cache.manifest["skipped"] == []
    assert all(len(cache.files(split)) == 1 for split in ("train", "validation", "test"))
    assert all(stream[0] == 1 and stream[-1] == 2 for stream in cache.streams())


# ----------------------------------------------------------------------- windows
def synthetic_streams() -> list[np.ndarray]:
    """Pieces with distinct token ranges, so a window's piece is known from its tokens."""
    lengths = [23, 5, 40, 17, 9]
    return [np.arange(1000 * (index + 1), 1000 * (index + 1) + length, dtype=np.int32) for index, length in enumerate(lengths)]


def collect(dataset) -> tuple[np.ndarray, np.ndarray]:
    inputs, targets = zip(*[(x.numpy(), y.numpy()) for x, y in dataset], strict=True)
    return np.concatenate(inputs), np.concatenate(targets)


def test_windows_are_exact_shifts_within_one_piece() -> None:
    streams = synthetic_streams()
    seq_len = 4
    dataset = sources.window_dataset(streams, seq_len, batch_size=3, shuffle=True, seed=7, drop_remainder=False)
    inputs, targets = collect(dataset)
    assert inputs.dtype == np.int32 and inputs.shape == (sources.window_count(streams, seq_len), seq_len)
    assert sources.window_count(streams, seq_len) == 5 + 1 + 9 + 4 + 2
    np.testing.assert_array_equal(inputs[:, 1:], targets[:, :-1])
    pieces = {int(stream[0]) // 1000: stream for stream in streams}
    for window_in, window_out in zip(inputs, targets, strict=True):
        piece = pieces[int(window_in[0]) // 1000]
        start = int(window_in[0] - piece[0])
        np.testing.assert_array_equal(window_in, piece[start:start + seq_len])
        np.testing.assert_array_equal(window_out, piece[start + 1:start + seq_len + 1])  # never crosses


def test_unshuffled_windows_tile_each_piece_from_its_start() -> None:
    streams = synthetic_streams()
    inputs, _ = collect(sources.window_dataset(streams, 4, batch_size=100, shuffle=False, drop_remainder=False))
    expected = [stream[start:start + 4] for stream in streams for start in range(0, len(stream) - 4, 4)]
    np.testing.assert_array_equal(inputs, np.stack(expected))


def test_order_is_a_pure_function_of_seed_and_epoch() -> None:
    streams = synthetic_streams()

    def order(seed: int, epoch: int) -> np.ndarray:
        return collect(sources.window_dataset(streams, 3, batch_size=2, seed=seed, epoch=epoch))[0]

    np.testing.assert_array_equal(order(1, 0), order(1, 0))
    assert not np.array_equal(order(1, 0), order(2, 0))
    assert not np.array_equal(order(1, 0), order(1, 1))
    # A repeating data set continues with epoch 1, 2, ...: resuming at epoch 1 replays the same batches.
    steps = sources.steps_per_epoch(streams, 3, batch_size=2)
    repeated = sources.window_dataset(streams, 3, batch_size=2, seed=1, repeat=True)
    batches = [x.numpy() for x, _ in repeated.take(3 * steps)]
    np.testing.assert_array_equal(np.concatenate(batches[steps:2 * steps]), order(1, 1))
    resumed = sources.window_dataset(streams, 3, batch_size=2, seed=1, repeat=True, epoch=1)
    np.testing.assert_array_equal(np.concatenate([x.numpy() for x, _ in resumed.take(steps)]), order(1, 1))


def test_short_pieces_are_skipped_and_all_short_is_an_error() -> None:
    streams = synthetic_streams()
    inputs, _ = collect(sources.window_dataset(streams, 20, batch_size=1, shuffle=False))
    assert {int(row[0]) // 1000 for row in inputs} == {1, 3}  # 23 and 40 tokens
    with pytest.raises(DataError, match="longest has 40"):
        sources.window_dataset(streams, 40, batch_size=1)
    with pytest.raises(DataError, match="no pieces"):
        sources.window_dataset([], 4, batch_size=1)
    with pytest.raises(ConfigError):
        sources.window_dataset(streams, 0, batch_size=1)


def test_dataset_can_be_sharded_between_workers() -> None:
    streams = synthetic_streams()
    whole = collect(sources.window_dataset(streams, 2, batch_size=2, seed=3))[0]
    shards = [collect(sources.window_dataset(streams, 2, batch_size=2, seed=3).shard(2, index))[0] for index in range(2)]
    np.testing.assert_array_equal(np.sort(np.concatenate(shards), axis=0), np.sort(whole, axis=0))
    assert len(shards[0]) + len(shards[1]) == len(whole)


def test_transposition_augments_pitches_and_keeps_windows_valid() -> None:
    from musicgen.data import augment
    from musicgen.tokens import Kind

    tokenizer = Tokenizer(TokenizerConfig(encoding="events"))
    notes = np.array([[i * 0.5, i * 0.5 + 0.5, 22 + (i % 5), 80, 0] for i in range(40)], np.float64)
    stream = tokenizer.encode_notes(notes)  # pitches 22..26: a downward shift drops some notes
    policy = augment.Augmentation(tokenizer, semitones=(-3, 3), stretch=(1.0, 1.0))
    seq_len = 16
    inputs, targets = collect(sources.window_dataset([stream], seq_len, batch_size=4, seed=5, augment=policy, drop_remainder=False))
    assert len(inputs) == sources.window_count([stream], seq_len)
    np.testing.assert_array_equal(inputs[:, 1:], targets[:, :-1])
    assert inputs.min() >= 0 and inputs.max() < tokenizer.vocab_size
    shifted = 0
    for row in np.concatenate([inputs, targets[:, -1:]], axis=1):
        # Every window is a contiguous run of the stream transposed by one amount.
        matches = [
            shift for shift in range(-3, 4)
            if any(
                np.array_equal(row, candidate[start:start + seq_len + 1])
                for candidate in [augment.transpose(stream, shift, tokenizer)]
                for start in range(len(candidate) - seq_len)
            )
        ]
        assert matches, tokenizer.describe(row)
        shifted += 0 not in matches
        assert np.all(tokenizer.kinds[row] != Kind.PAD)
    assert shifted > 0


def test_stretch_augmentation_keeps_the_window_count() -> None:
    from musicgen.data import augment

    tokenizer = Tokenizer(TokenizerConfig(encoding="events"))
    notes = np.array([[i * 0.5, i * 0.5 + 0.5, 60 + (i % 7), 80, 0] for i in range(30)], np.float64)
    stream = tokenizer.encode_notes(notes)
    policy = augment.Augmentation(tokenizer, semitones=(0, 0), stretch=(0.8, 1.25))
    count = sources.window_count([stream], 8)
    runs = [collect(sources.window_dataset([stream], 8, batch_size=1, seed=0, epoch=epoch, augment=policy))[0] for epoch in range(4)]
    assert all(len(run) == count for run in runs)
    np.testing.assert_array_equal(
        runs[0], collect(sources.window_dataset([stream], 8, batch_size=1, seed=0, epoch=0, augment=policy))[0]
    )
    stretched = [augment.stretch_time(stream, factor, tokenizer) for factor in np.linspace(0.8, 1.25, 5)]
    for run in runs:
        for row in run:
            assert any(
                np.array_equal(row, candidate[start:start + 8])
                for candidate in [stream, *stretched]
                for start in range(len(candidate) - 8)
            )


def test_pieces_with_drums_are_never_transposed() -> None:
    from musicgen.data import augment

    tokenizer = Tokenizer(TokenizerConfig(encoding="events"))
    notes = [[i * 0.5, i * 0.5 + 0.5, 60 + (i % 4), 80, 0] for i in range(20)]
    notes += [[i * 0.5, i * 0.5 + 0.25, 36, 100, 128] for i in range(20)]
    stream = tokenizer.encode_notes(np.array(notes, np.float64))
    assert augment.has_drums(stream, tokenizer)
    policy = augment.Augmentation(tokenizer, semitones=(2, 3), stretch=(1.0, 1.0))
    inputs, _ = collect(sources.window_dataset([stream], 8, batch_size=2, augment=policy, drop_remainder=False))
    for row in inputs:
        assert any(np.array_equal(row, stream[start:start + 8]) for start in range(len(stream) - 8))
