"""What sampling gives back, and the one place it becomes files: :class:`Result` and :func:`write_result`.

Every way of making music (:meth:`musicgen.Session.generate`, ``infill``, ``accompany``) returns
a :class:`Result`: the pieces, the seed that makes them again, what the user should know
(``remarks``), and, for a piece that edits or continues a MIDI file, that file and the piece
read from it, so that writing patches the file (every event of it kept) instead of writing a
new one. :func:`write_result` writes any result: one ``.mid`` per piece named
``STEM-DATE-seedN-NN.mid`` in the output folder, and a piano roll or a WAV when asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from musicgen.music import midi_io, render
from musicgen.music.patch import MIDI_SUFFIXES, write_edited

if TYPE_CHECKING:
    from musicgen.music.piece import Piece
    from musicgen.tokens import Tokenizer


@dataclass
class Result:
    """Pieces made by a model, and how to make them again (see the module docstring)."""

    pieces: list[Piece]
    seed: int
    stem: str  # file names start with it
    summary: str = ""  # what an edit did, in one line
    remarks: tuple[str, ...] = ()  # what the user should know (stand-ins chosen, primer bars used)
    masked_mass: tuple[float, float] = (0.0, 0.0)  # mean and largest probability the grammar removed per step
    source: Path | None = None  # the file the pieces edit or continue
    before: Piece | None = None  # the piece read from it
    region: tuple[int, int] | None = None  # the bars an edit wrote (1-based), shaded in a piano roll
    paths: list[Path] = field(default_factory=list)  # filled by write_result
    extra_paths: list[Path] = field(default_factory=list)
    summaries: list[str] = field(default_factory=list)  # one per file written

    @property
    def piece(self) -> Piece:
        return self.pieces[0]

    @property
    def path(self) -> Path | None:
        return self.paths[0] if self.paths else None

    @property
    def masked_mass_mean(self) -> float:
        return self.masked_mass[0]

    @property
    def masked_mass_max(self) -> float:
        return self.masked_mass[1]

    def to_dict(self) -> dict[str, Any]:
        mean, largest = self.masked_mass
        return {"files": [str(path) for path in self.paths], "extra_files": [str(path) for path in self.extra_paths],
                "summaries": self.summaries, "summary": self.summary, "remarks": list(self.remarks),
                "seed": self.seed, "masked_mass": {"mean": mean, "max": largest}}


def write_piece(piece: Piece, path: Path, tokenizer: Tokenizer, source: Any = None, before: Piece | None = None) -> None:
    """Write ``piece`` to ``path``: as a copy of the MIDI file ``source`` with only what changed
    from ``before`` (the piece read from it) changed (:func:`musicgen.music.patch.write_edited`),
    or, for a score or a new piece, as a new file."""
    if source is not None and before is not None and Path(source).suffix.lower() in MIDI_SUFFIXES:
        write_edited(source, before, piece, path)
        return
    tempo = piece.tempo
    render.write_midi(midi_io.piece_to_midi(piece, tempo, resolution=tokenizer.midi_resolution(tempo)), path)


def write_result(result: Result, tokenizer: Tokenizer, out_dir: str | Path = "generated", plot: bool = False,
                 soundfont: Path | None = None) -> Result:
    """Write every piece of ``result`` to ``out_dir`` (with its piano roll when ``plot``, its WAV
    when a ``soundfont`` is given); return the result with its paths and one summary per file."""
    paths = render.reserve_paths(out_dir, result.stem, len(result.pieces), result.seed)
    try:
        for path, piece in zip(paths, result.pieces, strict=True):
            write_piece(piece, path, tokenizer, result.source, result.before)
    except BaseException:
        render.release_paths(paths)  # no empty placeholder is left behind as if it were MIDI
        raise
    result.paths = list(paths)
    for path in paths:
        pm = midi_io.load_midi(path)
        result.summaries.append(render.describe_midi(pm))
        if plot:
            result.extra_paths.append(render.write_piano_roll(pm, path.with_suffix(".png"), result.region))
        if soundfont is not None:
            result.extra_paths.append(render.write_wav(path, soundfont))
    return result
