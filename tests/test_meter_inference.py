"""The meter inferred from notes, and when the MIDI reader uses it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from meter_pieces import jig, rock, waltz
from midi_factory import Track, write_mido_file

from musicgen.music.meter import beat_frames, infer_meter, with_meter
from musicgen.music.midi_io import read_piece
from musicgen.music.piece import Piece


@pytest.mark.parametrize(("piece", "signatures"), [
    (waltz(), ((0.0, 3, 4),)),
    (waltz(pickup=1), ((0.0, 1, 4), (1.0, 3, 4))),
    (jig(), ((0.0, 6, 8),)),
    (rock(), ((0.0, 4, 4),)),
    (rock(pickup=2), ((0.0, 2, 4), (2.0, 4, 4))),
])
def test_meter_and_pickup_from_the_notes(piece: Piece, signatures: tuple) -> None:
    assert infer_meter(piece).signatures() == signatures
    assert with_meter(piece).time_signatures == signatures  # the piece declares 1/4: replaced


def test_a_plausible_declared_meter_is_kept() -> None:
    declared = dataclasses.replace(rock(), time_signatures=((0.0, 3, 4),))
    assert with_meter(declared).time_signatures == ((0.0, 3, 4),)
    changing = dataclasses.replace(rock(), time_signatures=((0.0, 4, 4), (32.0, 3, 4)))
    assert with_meter(changing) is changing


def test_a_declared_four_four_goes_only_on_strong_evidence() -> None:
    assert with_meter(rock(declared=(4, 4))).time_signatures == ((0.0, 4, 4),)
    assert with_meter(rock(pickup=1, declared=(4, 4))).time_signatures == ((0.0, 4, 4),)  # bar lines stay
    assert with_meter(dataclasses.replace(waltz(), time_signatures=((0.0, 4, 4),))).time_signatures == ((0.0, 3, 4),)


def test_too_few_notes_keep_what_the_file_says() -> None:
    piece = Piece(np.array([[0, 1, 60, 80, 0]], np.float64), time_signatures=((0.0, 1, 4),))
    assert infer_meter(piece) is None and with_meter(piece) is piece


def test_the_midi_reader_infers_a_one_four_file(tmp_path) -> None:
    piece = waltz()
    tracks = [Track([(int(p), s, e, int(v)) for s, e, p, v, t in piece.notes.tolist() if t == index], program=program)
              for index, program in ((0, 0), (1, 73))]
    path = write_mido_file(tmp_path / "waltz.mid", tracks, time_signatures=[(0.0, 1, 4)])
    assert read_piece(path).time_signatures == ((0.0, 3, 4),)
    kept = write_mido_file(tmp_path / "kept.mid", tracks, time_signatures=[(0.0, 2, 4)])
    assert read_piece(kept).time_signatures == ((0.0, 2, 4),)


def test_beats_are_dotted_quarters_in_compound_meters() -> None:
    piece = Piece(np.array([[0, 9, 60, 80, 0]], np.float64), time_signatures=((0.0, 6, 8), (6.0, 2, 4)))
    edges, downbeats = beat_frames(piece)
    assert edges.tolist() == [0.0, 1.5, 3.0, 4.5, 6.0, 7.0, 8.0, 9.0]
    assert downbeats.tolist() == [True, False, True, False, True, False, True]
