"""A key signature of mode 255 (two Simutrans files): the file is read, loaded and patched."""

from __future__ import annotations

import io
from pathlib import Path

import mido
import pretty_midi
import pytest
from midi_factory import Track, write_mido_file
from mido.midifiles.meta import KeySignatureError

from musicgen.music.midi_io import load_midi, read_piece
from musicgen.music.patch import write_edited
from musicgen.music.smf import repair_key_signatures


def _odd_file(tmp_path: Path) -> Path:
    """A file whose key signature says one flat, mode 255; mido refuses to parse it."""
    path = write_mido_file(tmp_path / "valid.mid", [Track([(60, 0.0, 1.0, 80), (64, 1.0, 2.0, 80)])])
    midi = mido.MidiFile(str(path))
    midi.tracks[0].insert(0, mido.MetaMessage("key_signature", key="F"))
    midi.save(str(path))
    data = path.read_bytes()
    at = data.index(b"\xff\x59\x02")
    odd = tmp_path / "odd.mid"
    odd.write_bytes(data[:at + 3] + b"\xff\xff" + data[at + 5:])
    return odd


def test_a_mode_255_key_signature_is_skipped_and_the_file_read(tmp_path) -> None:
    path = _odd_file(tmp_path)
    with pytest.raises(KeySignatureError):
        mido.MidiFile(str(path))
    piece = read_piece(path)
    assert len(piece.notes) == 2 and piece.key_signatures == ()
    assert len(load_midi(path).instruments[0].notes) == 2


def test_the_repair_changes_only_that_event(tmp_path) -> None:
    data = _odd_file(tmp_path).read_bytes()
    repaired = repair_key_signatures(data)
    assert len(repaired) == len(data) and sum(a != b for a, b in zip(data, repaired, strict=True)) == 1
    assert mido.MidiFile(file=io.BytesIO(repaired)).tracks
    valid = (tmp_path / "valid.mid").read_bytes()
    assert repair_key_signatures(valid) == valid


def test_an_edit_of_it_writes_a_file_every_reader_opens(tmp_path) -> None:
    path = _odd_file(tmp_path)
    piece = read_piece(path)
    out = tmp_path / "edited.mid"
    write_edited(path, piece, piece, out)
    assert len(pretty_midi.PrettyMIDI(str(out)).instruments[0].notes) == 2
    assert mido.MidiFile(str(out)).tracks
