"""The sustain pedal: read from MIDI, applied as note-seq does, and round-tripped by both encodings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from midi_factory import Track, write_mido_file

from musicgen.music import midi_io
from musicgen.music.piece import Piece
from musicgen.music.piece import Track as PieceTrack
from musicgen.tokens import Tokenizer, TokenizerConfig


def test_the_pedal_holds_released_notes_until_it_lifts_or_the_pitch_returns() -> None:
    notes = np.array([
        [0.0, 0.5, 60, 80, 0],  # released under the pedal: held until it lifts at 2
        [1.0, 1.2, 64, 80, 0],  # struck again at 1.5: held only until then
        [1.5, 1.7, 64, 80, 0],  # held until the pedal lifts
        [3.0, 3.5, 67, 80, 0],  # after the pedal: as it is
        [0.0, 0.1, 36, 100, 1],  # drums: never held
    ])
    pedals = np.array([[0.25, 0, 1], [2.0, 0, 0], [0.25, 1, 1]])
    piece = Piece(notes, (PieceTrack(0), PieceTrack(128)), pedals=pedals)
    held = piece.with_sustain()
    assert held.notes[:, 1].tolist() == [2.0, 1.5, 2.0, 3.5, 0.1]
    assert len(held.pedals) == 0


def test_the_reader_keeps_the_pedal_and_ignores_it_on_the_drum_channel(tmp_path: Path) -> None:
    path = write_mido_file(tmp_path / "pedal.mid", [
        Track([(60, 0.0, 0.5, 80)], pedals=[(0.25, 127), (2.0, 0)], name="Piano"),
        Track([(36, 0.0, 0.25, 90)], is_drum=True, pedals=[(0.5, 127)]),
    ])
    piece = midi_io.read_piece(path)
    assert [track.name for track in piece.tracks] == ["Piano", ""] and piece.tracks[1].is_drum
    assert piece.pedals.tolist() == [[0.25, 0, 1], [2.0, 0, 0]]


def performance(seed: int = 3, notes: int = 160) -> Piece:
    """A pedalled piano performance off any beat grid: keys released early, the pedal changing often."""
    rng = np.random.default_rng(seed)
    onsets = np.cumsum(rng.uniform(0.05, 0.4, notes))
    rows = [[start, start + rng.uniform(0.05, 0.3), int(rng.integers(40, 90)), int(rng.integers(20, 120)), 0]
            for start in onsets]
    changes = np.arange(0.3, onsets[-1] + 1, 1.1)
    pedals = [row for change in changes for row in ([change, 0, 1], [change + 0.9, 0, 0])]
    # 120 qpm: beats are half seconds.
    return Piece(np.array(rows), (PieceTrack(0, "Piano"),), tempos=((0.0, 120.0),), pedals=np.array(pedals))


@pytest.mark.parametrize("encoding", ["notes", "events"])
@pytest.mark.parametrize("pedal", ["extend", "events"])
def test_pedalled_round_trip_keeps_the_sounding_time_onsets_and_velocities(
    encoding: str, pedal: str, tmp_path: Path
) -> None:
    source = performance()
    sounding = source.with_sustain().sounding_seconds()
    assert source.sounding_seconds() < 0.6 * sounding  # the pedal matters in this piece
    tokenizer = Tokenizer(TokenizerConfig(encoding=encoding, timing="seconds", pedal=pedal, velocity_bins=32,
                                          max_shift_steps=100))
    written = tmp_path / "round.mid"
    tokenizer.decode(tokenizer.encode(source), tempo=120.0).write(str(written))
    decoded = midi_io.read_piece(written)  # through a real MIDI file, controller 64 included
    assert (len(decoded.pedals) > 0) == (pedal == "events")
    assert decoded.with_sustain().sounding_seconds() == pytest.approx(sounding, rel=0.02)
    order, back = np.argsort(source.notes[:, 0], kind="stable"), np.argsort(decoded.notes[:, 0], kind="stable")
    assert len(back) == len(order)
    step = 1 / tokenizer.config.steps_per_second
    onset_error = np.abs(decoded.seconds(decoded.notes[back, 0]) - source.seconds(source.notes[order, 0]))
    assert onset_error.max() <= step / 2 + 1e-6
    bins = tokenizer._velocity_to_bin
    velocity_bins = bins[decoded.notes[back, 3].astype(int)] - bins[source.notes[order, 3].astype(int)]
    assert np.abs(velocity_bins).max() <= 1


def test_ignoring_the_pedal_drops_it() -> None:
    source = performance(notes=40)
    tokenizer = Tokenizer(TokenizerConfig(timing="seconds", pedal="ignore"))
    decoded = tokenizer.decode_piece(tokenizer.encode(source), tempo=120.0)
    assert len(decoded.pedals) == 0
    assert decoded.sounding_seconds() == pytest.approx(source.sounding_seconds(), rel=0.05)
