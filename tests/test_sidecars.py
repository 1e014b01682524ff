"""Annotation files beside a MIDI file (POP909's layout): chords, beats and bars, keys."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import mido
import numpy as np
import pytest
from midi_factory import Track, write_mido_file

from musicgen.errors import MidiError
from musicgen.music.chords import chord_name
from musicgen.music.midi_io import read_piece
from musicgen.music.patch import write_edited
from musicgen.music.sidecars import bar_signatures, sidecar_paths

# At 120 BPM a beat is half a second. The song's beats fall half a beat after the file's grid
# (0.25 s, 0.75 s, ...), and its bars start on its second beat: a one-beat pickup.
NOTES = [(60 + index % 5, 0.5 + index, 1.4 + index, 80) for index in range(12)]
BEATS = "".join(f"{0.25 + 0.5 * index:.3f} {1.0 - index % 2:.1f} {float(index % 4 == 1):.1f}\n" for index in range(12))
CHORDS = "0.250000\t1.250000\tN\n1.250000\t2.250000\tC:maj\n2.250000\t3.250000\tA:min7/b3\n4.000000\t5.000000\tG:7\n"
KEYS = "0.25\t3.0\tC:maj\n3.0\t6.0\tA:min\n"


def _song(folder: Path, name: str = "001", shared: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = write_mido_file(folder / f"{name}.mid", [Track(NOTES, name="PIANO")], time_signatures=[(0.0, 1, 4)])
    prefix = "" if shared else f"{name}."
    (folder / f"{prefix}chord_midi.txt").write_text(CHORDS)
    (folder / f"{prefix}beat_midi.txt").write_text(BEATS)
    (folder / f"{prefix}key_audio.txt").write_text(KEYS)
    return path


def test_pop909_sidecars_give_chords_bars_and_keys(tmp_path) -> None:
    piece = read_piece(_song(tmp_path / "001"))
    assert piece.lead_in == pytest.approx(0.5)
    assert np.allclose(piece.notes[:3, 0], [1.0, 2.0, 3.0])  # the song's beats on whole beats
    assert piece.time_signatures == ((0.0, 2, 4), (2.0, 4, 4))  # a pickup, then bars of four
    names = [(beat, chord_name(chord)) for beat, chord in piece.chords]
    assert names == [(1.0, "N.C."), (3.0, "C"), (5.0, "Am7"), (7.0, "N.C."), (8.5, "G7"), (10.5, "N.C.")]
    assert piece.key_signatures == ((0.0, 0), (6.5, 21))


def test_named_sidecars_in_a_shared_folder(tmp_path) -> None:
    first = _song(tmp_path, "a", shared=False)
    second = write_mido_file(tmp_path / "b.mid", [Track(NOTES)], time_signatures=[(0.0, 1, 4)])
    (tmp_path / "chord_midi.txt").write_text(CHORDS)  # shared by two MIDI files: nobody's
    assert set(sidecar_paths(first)) == {"chord_midi", "beat_midi", "key_audio"}
    assert sidecar_paths(second) == {}
    assert read_piece(first).chords and not read_piece(second).chords


def test_a_broken_sidecar_names_the_file(tmp_path) -> None:
    path = _song(tmp_path / "002", "002")
    (tmp_path / "002" / "chord_midi.txt").write_text("0.0 1.0 Hmaj\n")
    with pytest.raises(MidiError, match=r"002\.mid: cannot read its annotations"):
        read_piece(path)


def test_bars_from_downbeats() -> None:
    assert bar_signatures(np.array([0, 4, 8])) == ((0.0, 4, 4),)
    assert bar_signatures(np.array([3, 7, 11, 13, 17])) == ((0.0, 3, 4), (3.0, 4, 4), (11.0, 2, 4), (13.0, 4, 4))
    assert bar_signatures(np.array([1, 7, 13])) == ((0.0, 1, 4), (1.0, 6, 4))
    assert bar_signatures(np.array([5])) == ()


def test_an_edit_of_a_lead_in_piece_lands_on_the_file_ticks_with_its_chords(tmp_path) -> None:
    source = _song(tmp_path / "003", "003")
    before = read_piece(source)
    after_notes = np.vstack([before.notes[1:], [[4.0, 5.0, 72, 90, 0]]])  # first note out, one in
    after = dataclasses.replace(before, notes=after_notes)
    out = tmp_path / "edited.mid"
    write_edited(source, before, after, out)
    midi = mido.MidiFile(str(out))
    tpq, ticks, now = midi.ticks_per_beat, [], 0
    for message in midi.tracks[1]:
        now += message.time
        if message.type == "note_on" and message.velocity:
            ticks.append((now / tpq, message.note))
    assert (0.5, 60) not in ticks and (1.5, 61) in ticks and (3.5, 72) in ticks  # in the file's own beats
    chords = [track for track in midi.tracks if track.name == "Chords"]
    assert len(chords) == 1
    assert [message.text for message in chords[0] if message.type == "marker"] == ["N.C.", "C", "Am7", "N.C.", "G7", "N.C."]
    again = read_piece(out)  # no sidecars beside it: the chords come from its own chord track
    assert [chord_name(chord) for _, chord in again.chords] == ["N.C.", "C", "Am7", "N.C.", "G7", "N.C."]
