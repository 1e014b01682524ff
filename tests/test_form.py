"""A form (``--form "A2 B2 A2"``): a returning section is the same music (exactly at --variation 0,
its first bars at the default), the file marks each section, and a bad form is one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from musicgen.cli import main
from musicgen.errors import ConfigError
from musicgen.generation.form import parse_form
from musicgen.music import midi_io


def bar_notes(piece: object, first: int, count: int, length: float = 4.0) -> list[tuple]:
    """The notes starting in bars ``first .. first + count - 1`` (0-based), moved to start at 0."""
    notes = piece.notes[(piece.notes[:, 0] >= first * length - 1e-6) & (piece.notes[:, 0] < (first + count) * length - 1e-6)]
    return sorted((round(start - first * length, 4), int(pitch), int(track)) for start, _, pitch, _, track in notes.tolist())


def test_forms_are_read_and_checked() -> None:
    assert [(s.letter, s.bars, s.name) for s in parse_form("A8 B8 A8")] == [
        ("A", 8, "Section A"), ("B", 8, "Section B"), ("A", 8, "Section A")]
    assert [s.name for s in parse_form("verse-chorus")][:2] == ["Verse", "Chorus"]
    with pytest.raises(ConfigError, match="returns with 4 bars but first had 8"):
        parse_form("A8 B8 A4")
    with pytest.raises(ConfigError, match="cannot read 'A'"):
        parse_form("A B8")


def test_a_returning_section_repeats_and_the_file_marks_the_sections(tune_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "exact"
    assert main(["generate", "--checkpoint", str(tune_model), "--form", "A2 B2 A2", "--variation", "0",
                 "--num", "2", "--seed", "5", "--out", str(out)]) == 0
    for path in sorted(out.glob("*.mid")):
        piece = midi_io.read_piece(path)
        assert bar_notes(piece, 4, 2) == bar_notes(piece, 0, 2) and bar_notes(piece, 0, 2)  # bars 5-6 are bars 1-2
        assert [text for _, text in piece.markers] == ["Section A", "Section B", "Section A"]
        assert [beat for beat, _ in piece.markers] == [0.0, 8.0, 16.0] and piece.end_beat <= 24.0 + 1e-6
    varied = tmp_path / "varied"
    assert main(["generate", "--checkpoint", str(tune_model), "--form", "A4 B2 A4", "--variation", "0.5",
                 "--seed", "5", "--out", str(varied)]) == 0
    piece = midi_io.read_piece(next(varied.glob("*.mid")))
    assert bar_notes(piece, 6, 2) == bar_notes(piece, 0, 2)  # half of the returning A kept
    assert int(np.ceil(piece.end_beat / 4 - 1e-9)) == 10


def test_a_bad_form_is_one_line(tune_model: Path, tmp_path: Path, capsys) -> None:
    for arguments, message in [(["--form", "A8 B"], "cannot read 'B'"),
                               (["--form", "A2 B2", "--bars", "4"], "--form sets the bars")]:
        assert main(["generate", "--checkpoint", str(tune_model), *arguments, "--out", str(tmp_path)]) == 2
        error = capsys.readouterr().err.strip().splitlines()
        assert len(error) == 1 and message in error[0]
