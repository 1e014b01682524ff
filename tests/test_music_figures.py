"""Figures of one piece as a musician reads it: bars, presence, drums and voice leading."""

from __future__ import annotations

import numpy as np
import pytest

from musicgen.evaluation.music_figures import (
    bar_numbers,
    drum_consistency,
    notes_per_bar,
    parallel_motion,
    piece_figures,
    pitch_class_entropy,
    plays_throughout,
)
from musicgen.music.piece import Piece, Track


def _piece(rows: list[tuple[float, float, int, int]], programs: tuple[int, ...] = (0, 0), **fields) -> Piece:
    notes = np.array([(start, end, pitch, 80, track) for start, end, pitch, track in rows], float).reshape(-1, 5)
    return Piece(notes=notes, tracks=tuple(Track(program) for program in programs), **fields)


def test_bars_follow_the_time_signatures() -> None:
    piece = _piece([], time_signatures=((0.0, 3, 4), (6.0, 4, 4)))
    assert bar_numbers(piece, [0, 2.9, 3, 5.9, 6, 9.9, 10]).tolist() == [0, 0, 1, 1, 2, 2, 3]


def test_parallels_count_only_similar_motion_between_perfect_intervals() -> None:
    fifths = [(0, 1, 67, 0), (0, 1, 60, 1), (1, 2, 69, 0), (1, 2, 62, 1)]  # C-G to D-A, both up
    assert parallel_motion(_piece(fifths)) == {"fifths": 1, "octaves": 0}
    octaves = [(0, 1, 72, 0), (0, 1, 60, 1), (1, 2, 71, 0), (1, 2, 59, 1)]  # both down an octave apart
    assert parallel_motion(_piece(octaves)) == {"fifths": 0, "octaves": 1}
    contrary = [(0, 1, 67, 0), (0, 1, 60, 1), (1, 2, 72, 0), (1, 2, 53, 1)]  # a fifth to a fifth, in contrary motion
    assert parallel_motion(_piece(contrary)) == {"fifths": 0, "octaves": 0}
    oblique = [(0, 2, 67, 0), (0, 1, 60, 1), (1, 2, 55, 1)]  # the upper voice holds its note
    assert parallel_motion(_piece(oblique)) == {"fifths": 0, "octaves": 0}
    thirds = [(0, 1, 64, 0), (0, 1, 60, 1), (1, 2, 65, 0), (1, 2, 62, 1)]
    assert parallel_motion(_piece(thirds)) == {"fifths": 0, "octaves": 0}
    drums = _piece(fifths, programs=(0, 128))  # a drum track has no voice to lead
    assert parallel_motion(drums) == {"fifths": 0, "octaves": 0}


def test_an_instrument_is_there_when_it_plays_in_every_two_bars() -> None:
    melody = [(bar * 4.0, bar * 4.0 + 1, 60, 0) for bar in range(6)]
    every_other = [(bar * 4.0, bar * 4.0 + 1, 40, 1) for bar in range(0, 6, 2)]
    piece = _piece(melody + every_other)
    assert plays_throughout(piece, 0) and plays_throughout(piece, 1)
    gap = _piece(melody + [(0.0, 1.0, 40, 1), (16.0, 17.0, 40, 1)])  # bars 2 and 3 both silent
    assert not plays_throughout(gap, 1)
    assert not plays_throughout(_piece(melody), 1)  # a track in the header only
    assert not plays_throughout(piece, 1, bars=8)  # asked for 8 bars, it stops after 6


def test_drum_consistency_and_note_figures() -> None:
    pattern = [(bar * 4.0 + beat, bar * 4.0 + beat + 0.25, 36 if beat % 2 == 0 else 38, 0)
               for bar in range(4) for beat in (0.0, 1.0, 2.0, 3.0, 3.5)]
    steady = _piece(pattern, programs=(128,))
    assert drum_consistency(steady) == 1.0
    changed = _piece(pattern + [(4.75, 5.0, 42, 0)], programs=(128,))  # one extra sixteenth in bar 2
    assert drum_consistency(changed) == pytest.approx(1 - 2 / (3 * 16))
    assert np.isnan(drum_consistency(_piece([(0, 1, 60, 0)], programs=(0,))))
    assert notes_per_bar(steady) == 5.0
    assert np.isnan(pitch_class_entropy(steady))  # drums have no pitch classes
    scale = _piece([(index, index + 1, 60 + index, 0) for index in range(12)], programs=(0,))
    assert pitch_class_entropy(scale) == pytest.approx(np.log2(12))
    figures = piece_figures(_piece([(0, 1, 67, 0), (0, 1, 60, 1), (1, 2, 69, 0), (1, 2, 62, 1)]))
    assert figures["bars"] == 1 and figures["parallels_per_bar"] == 1.0 and figures["polyphony"] == 2.0


def test_mean_figures_leave_out_what_a_piece_does_not_have() -> None:
    from musicgen.evaluation.music_figures import mean_figures

    drums = _piece([(beat, beat + 0.25, 36, 0) for beat in range(8)], programs=(128,))
    melody = _piece([(beat, beat + 1, 60 + 2 * beat, 0) for beat in range(4)], programs=(0,))
    figures = mean_figures([drums, melody])
    assert figures["notes_per_bar"] == (4.0 + 4.0) / 2
    assert figures["drum_consistency"] == 1.0  # the melody has no drums: not counted as 0
    assert figures["pitch_class_entropy"] == 2.0  # the drums have no pitch classes
    assert np.isnan(mean_figures([melody])["drum_consistency"])
