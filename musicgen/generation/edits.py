"""What infilling and accompaniment share: the result of an edit, and the file it is written to.

An edit reads a file, lets the model write part of it (:mod:`musicgen.generation.infill`,
:mod:`musicgen.generation.accompaniment`), and writes the whole piece to a new file beside
the others in ``--out`` (``STEM-infill-...mid``), with a piano roll when asked: the library
writes the files, so the command line, a notebook and a test get the same ones.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from musicgen.music import midi_io, render
from musicgen.music.piece import TRACK, Piece

if TYPE_CHECKING:
    from musicgen.generation.options import SamplingOptions
    from musicgen.tokens import Tokenizer

TOKENS_PER_BAR_LIMIT = 600  # a bar longer than this is cut: the model has lost its way


@dataclass
class EditResult:
    """A piece edited by the model, the files it was written to, and figures of the run."""

    piece: Piece
    summary: str
    masked_mass: tuple[float, float]  # mean and largest probability mass the grammar removed per sampled token
    seed: int = 0
    path: Path | None = None
    extra_paths: list[Path] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        mean, largest = self.masked_mass
        return {"files": [str(self.path), *map(str, self.extra_paths)], "seed": self.seed, "summary": self.summary,
                "masked_mass": {"mean": mean, "max": largest}}


def choose_seed(options: SamplingOptions) -> int:
    """The options' seed, or a random one (reported in the result, to reproduce the edit)."""
    return secrets.randbelow(1 << 31) if options.seed is None else options.seed


def token_tracks(piece: Piece) -> list[int]:
    """The source track of each token track (tracks with notes, in (program, source order))."""
    used = [index for index in range(len(piece.tracks)) if np.any(piece.notes[:, TRACK] == index)]
    return sorted(used, key=lambda index: (piece.tracks[index].program, index))


def save_edit(result: EditResult, source: Any, suffix: str, options: SamplingOptions, tokenizer: Tokenizer) -> EditResult:
    """Write ``result.piece`` to a new file named after ``source`` (and its piano roll with
    ``options.plot``); return the result with its paths."""
    stem = f"{Path(source).stem}-{suffix}"
    path = render.reserve_paths(options.out_dir, stem, 1, result.seed)[0]
    tempo = result.piece.tempo
    try:
        render.write_midi(midi_io.piece_to_midi(result.piece, tempo, resolution=tokenizer.midi_resolution(tempo)), path)
    except BaseException:
        render.release_paths([path])  # no empty placeholder is left behind as if it were MIDI
        raise
    result.path = path
    if options.plot:
        result.extra_paths.append(render.write_piano_roll(midi_io.load_midi(path), path.with_suffix(".png")))
    return result
