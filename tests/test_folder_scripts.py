"""The folder generators (band songs, piano performances), the corpus export's rules, the stats."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import mido
import numpy as np
import pretty_midi
import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def load_script(folder: str, name: str):
    """A script run as ``python scripts/FOLDER/NAME.py``, which finds its siblings beside it."""
    import importlib

    directory = str(SCRIPTS / folder)
    if directory not in sys.path:
        sys.path.append(directory)
    return importlib.import_module(name)



corpus_collections = load_script("corpus", "corpus_collections")
export_corpus = load_script("corpus", "export_corpus")
folder_stats = load_script("experiments", "folder_stats")
band = load_script("fixtures", "make_band_folder")
performance = load_script("fixtures", "make_performance_folder")


def midi_bytes(midi_file: mido.MidiFile) -> bytes:
    buffer = io.BytesIO()
    midi_file.save(file=buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def band_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("band")
    assert band.main([str(folder), "--songs", "2", "--seed", "3"]) == 0
    return folder


def test_band_songs_are_deterministic_for_a_seed() -> None:
    first = midi_bytes(band.song_to_midi(band.make_song(0, 1)))
    assert first == midi_bytes(band.song_to_midi(band.make_song(0, 1)))
    assert first != midi_bytes(band.song_to_midi(band.make_song(1, 1)))


def test_band_songs_do_not_depend_on_the_process(tmp_path) -> None:
    """Same seed, same bytes in another process too (no iteration over hashed sets)."""
    import os
    import subprocess

    for hash_seed in ("1", "2"):
        environment = dict(os.environ, PYTHONHASHSEED=hash_seed)
        command = [sys.executable, str(SCRIPTS / "fixtures" / "make_band_folder.py"), str(tmp_path / hash_seed), "--songs", "1"]
        subprocess.run(command, check=True, env=environment, capture_output=True)
    (first,) = (tmp_path / "1").glob("*.mid")
    assert first.read_bytes() == (tmp_path / "2" / first.name).read_bytes()


def test_band_songs_have_named_tracks_drums_tempo_and_meter(band_folder) -> None:
    paths = sorted(band_folder.glob("*.mid"))
    assert len(paths) == 2
    for path in paths:
        pm = pretty_midi.PrettyMIDI(str(path))
        assert 7 <= len(pm.instruments) <= 18
        assert all(instrument.name and instrument.notes for instrument in pm.instruments)
        drums = [instrument for instrument in pm.instruments if instrument.is_drum]
        assert drums and drums[0].name == "Drums"
        guitars = [instrument for instrument in pm.instruments if instrument.name.startswith("Rhythm Guitar")]
        assert len(guitars) == 2 and guitars[0].program == guitars[1].program
        tempo = pm.get_tempo_changes()[1]
        assert len(tempo) == 1 and 70 <= tempo[0] <= 160
        assert pm.time_signature_changes
        assert 120 <= pm.get_end_time() <= 240
        midi_file = mido.MidiFile(str(path))
        drum_channels = {message.channel for track in midi_file.tracks[1:] for message in track
                         if message.type == "note_on" and track.name == "Drums"}
        assert drum_channels == {9}  # channel 10


def test_no_band_note_outlasts_the_song(band_folder) -> None:
    for path in sorted(band_folder.glob("*.mid")):
        midi_file = mido.MidiFile(str(path))
        (meter,) = [message for message in midi_file.tracks[0] if message.type == "time_signature"]
        bar = midi_file.ticks_per_beat * 4 * meter.numerator // meter.denominator
        ends = []
        for track in midi_file.tracks:
            ticks, last_off = 0, 0
            for message in track:
                ticks += message.time
                if message.type == "note_off":
                    last_off = ticks
            ends.append((ticks, last_off))
        song_end = ends[0][0]
        assert song_end % bar == 0  # the song ends on a bar line ...
        assert all(track_end == song_end and last_off <= song_end for track_end, last_off in ends)  # ... and so do its notes


def test_band_plans_span_the_stated_ranges() -> None:
    songs = [band.plan_song(index, np.random.default_rng([7, index])) for index in range(60)]
    counts = [len(song.parts) for song in songs]
    assert min(counts) >= 7 and max(counts) <= 18
    assert {song.meter for song in songs} == {(4, 4), (3, 4), (6, 8)}
    assert all(120 <= song.seconds <= 240 for song in songs)
    assert min(song.tempo for song in songs) < 90 and max(song.tempo for song in songs) > 140


def test_band_onsets_are_on_the_grid(band_folder) -> None:
    stats = folder_stats.folder_stats(band_folder)
    assert stats["onsets_on_twelfth_beat_grid"] == 1.0
    assert 0.05 < stats["drum_share"] < 0.5
    assert stats["files_with_pedal"] == 0


@pytest.fixture(scope="module")
def performance_file(tmp_path_factory) -> tuple[Path, bytes, float]:
    name, played, pedal = performance.make_performance(0, 1)  # Bach's C major prelude: quick to read
    path = tmp_path_factory.mktemp("performance") / f"{name}.mid"
    data = midi_bytes(performance.performance_midi(played, pedal, name))
    path.write_bytes(data)
    return path, data, performance.sounding_ratio(played, pedal)


def test_performances_are_deterministic(performance_file) -> None:
    _, data, _ = performance_file
    name, played, pedal = performance.make_performance(0, 1)
    assert midi_bytes(performance.performance_midi(played, pedal, name)) == data


def test_performance_is_one_pedalled_piano_off_the_grid(performance_file) -> None:
    path, _, ratio = performance_file
    pm = pretty_midi.PrettyMIDI(str(path))
    (piano,) = pm.instruments
    assert piano.program == 0 and not piano.is_drum
    assert pm.get_tempo_changes()[1].tolist() == [120.0]
    assert sum(1 for change in piano.control_changes if change.number == 64) > 100
    stats = folder_stats.folder_stats(path.parent)
    assert stats["onsets_on_twelfth_beat_grid"] < 0.2  # expressive timing ignores the file's grid
    assert stats["pedal_down_share"] > 0.6
    assert ratio < 0.75  # dropping the pedal shortens the sounding time a lot
    assert stats["sounding_without_over_with_pedal"] == pytest.approx(ratio, abs=0.02)


def test_sounding_ratio_follows_note_seq_semantics() -> None:
    played = [
        performance.PlayedNote(0.0, 1.0, 60, 80),  # released under the pedal: sounds until 3.0
        performance.PlayedNote(0.0, 0.5, 64, 80),  # struck again at 2.0: sounds until 2.0
        performance.PlayedNote(2.0, 2.5, 64, 80),  # released under the pedal: until 3.0
        performance.PlayedNote(4.0, 5.0, 67, 80),  # pedal up: as played
    ]
    pedal = [(0.5, 127), (3.0, 0)]
    plain = 1.0 + 0.5 + 0.5 + 1.0
    held = 3.0 + 2.0 + 1.0 + 1.0
    assert performance.sounding_ratio(played, pedal) == pytest.approx(plain / held)


def test_generated_fallback_material_performs() -> None:
    notes, beats_per_bar = performance.generated_notes(np.random.default_rng(0))
    played, pedal = performance.perform(notes, beats_per_bar, 100.0, np.random.default_rng(1))
    assert len(played) == len(notes) and any(value >= 64 for _, value in pedal)


def test_piece_names_and_left_out_files() -> None:
    assert corpus_collections.piece_name("essenFolksong/erk5.abc", "12") == "erk5-12.mid"
    assert corpus_collections.piece_name("beethoven/opus59no1/movement2.mxl", "") == "opus59no1/movement2.mid"
    assert corpus_collections.piece_name("trecento/PMFC_01-Lugentium siccentur.xml", "") == "PMFC_01-Lugentium_siccentur.mid"
    bundled = corpus_collections.collection_names()
    assert "oneills1850" not in bundled and "palestrina" not in bundled and "bach" not in bundled
    assert "bach-other" in bundled and "ryansMammoth" in bundled
    plan = corpus_collections.plan_collection("monteverdi", Path("unused"))
    assert all(not source.name.endswith(".rntxt") for source in plan.sources)
    assert plan.left_out["monteverdi/madrigal.3.1.rntxt"] == "a Roman-numeral analysis, not a score"
    bach = corpus_collections.plan_collection("bach-other", Path("unused"))
    assert "bach/bwv846.mxl" in {source.name for source in bach.sources}
    assert bach.left_out["bach/bwv153.1.mxl"] == "a chorale: exported to data/midi/bach/"


def test_held_out_collection_never_goes_into_the_bundled_data(tmp_path) -> None:
    with pytest.raises(corpus_collections.ConfigError, match="held out"):
        corpus_collections.check_names(["oneills1850"], False, None, None, 0)
    assert corpus_collections.check_names(["oneills1850"], False, tmp_path / "folk", None, 80) == ["oneills1850"]
    assert export_corpus.main(["--collection", "oneills1850"]) == 2


def test_held_out_titles_are_matched_loosely() -> None:
    assert corpus_collections.normalised_title("The Wind That Shakes the Barley -- Reel") == "windthatshakesbarley"
    assert "windthatshakesbarley" in corpus_collections.held_out_titles()


def test_collection_export_is_incremental_and_sampled(tmp_path) -> None:
    root = tmp_path / "midi"
    assert export_corpus.main(["--collection", "nottingham-dataset", "--root", str(root), "--jobs", "1"]) == 0
    record = json.loads((root / "export.json").read_text())["collections"]["nottingham-dataset"]
    # The dataset's two reels: "Cuckoo's Nest" is also an O'Neill tune, so it is left out.
    assert record["exported"] == ["reelsa-c-81.mid"]
    assert list(record["held_out_title_matches_left_out"].values()) == ["Cuckoo's Nest"]
    written = root / "nottingham-dataset" / "reelsa-c-81.mid"
    stamp = written.stat().st_mtime_ns
    assert export_corpus.main(["--collection", "nottingham-dataset", "--root", str(root), "--jobs", "1"]) == 0
    assert written.stat().st_mtime_ns == stamp  # unchanged source: not exported again
    folk = tmp_path / "folk"
    arguments = ["--collection", "nottingham-dataset", "--out", str(folk), "--sample", "1", "--jobs", "1"]
    assert export_corpus.main(arguments) == 0
    assert [path.name for path in folk.glob("*.mid")] == ["reelsa-c-81.mid"]


def test_a_sample_is_spread_evenly_in_file_order(tmp_path) -> None:
    sources = [corpus_collections.Source(f"folk/{name}.abc", Path(name), "0") for name in ("a", "b")]
    plan = corpus_collections.Plan("folk", tmp_path, sources, "", {})
    results = []
    for source, count in zip(sources, (6, 4), strict=True):
        result = corpus_collections.Result("folk", source.name, "0", write=False)
        for index in range(count):
            result.pieces[f"{source.name[5]}-{index}.mid"] = (10, 5.0)
            result.midi[f"{source.name[5]}-{index}.mid"] = b"MThd"
        results.append(result)
    record: dict = {}
    corpus_collections.write_sample(results[::-1], plan, 4, record)
    assert sorted(path.name for path in tmp_path.glob("*.mid")) == ["a-1.mid", "a-3.mid", "b-0.mid", "b-2.mid"]  # positions 1, 3, 6, 8 of 10
    assert record["sample"] == "4 of 10 pieces, evenly spaced in file order"
