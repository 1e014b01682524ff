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
from musicgen.music.patch import MIDI_SUFFIXES, write_edited
from musicgen.music.piece import Piece
from musicgen.tokens import Kind

if TYPE_CHECKING:
    from musicgen.generation.guided import GuidedSampler
    from musicgen.generation.options import SamplingOptions
    from musicgen.tokens import Tokenizer
    from musicgen.tokens.grammar import Checker

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


@dataclass(frozen=True)
class PartLimits:
    """What one track plays in the song, which its new bars keep to: its pitch range, its most
    notes in a bar and at one position, and the fewest notes a new bar must give it (0 unless it
    played in every bar of the region: see :func:`musicgen.generation.infill.part_limits`)."""

    lowest: int
    highest: int
    most: int
    chord: int
    least: int


def _keep_to_the_song(base: np.ndarray, tokenizer: Tokenizer, track: int, chord: int, counts: dict[int, int],
                      limits: dict[int, PartLimits], waived: set[int]) -> np.ndarray:
    """``base`` narrowed so that the bar being written keeps each track to its :class:`PartLimits`
    (the fewest notes of the ``waived`` tracks excepted)."""
    kinds, values = tokenizer.kinds, tokenizer.values
    is_pitch, is_track = kinds == Kind.PITCH, kinds == Kind.TRACK
    allowed = base.copy()
    own = limits.get(track)
    if own is not None:
        allowed &= ~is_pitch | ((values >= own.lowest) & (values <= own.highest))
        if counts.get(track, 0) >= own.most:
            allowed &= ~(is_pitch | (kinds == Kind.POSITION))
        if chord >= own.chord:
            allowed &= ~is_pitch
    for other, limit in limits.items():
        if counts.get(other, 0) >= limit.least or other < track or other in waived:
            continue
        allowed &= ~(kinds == Kind.BAR)  # a track that plays on both sides plays here too
        allowed &= ~(is_track & (values > other)) if other > track else ~is_track
    return allowed


def within_limits(sampler: GuidedSampler, base: np.ndarray, counts: dict[int, int], limits: dict[int, PartLimits],
                  waived: set[int]) -> np.ndarray:
    """What may come next in the bar being written: ``base`` kept to the tracks' ``limits``. Where
    that leaves nothing, the current track's fewest notes are ``waived`` (and remembered), then
    every track's; where even that leaves nothing, ``base`` alone."""
    checker = sampler.checker
    for waiving in (set(), {checker.track}, set(limits)):
        waived |= waiving
        allowed = _keep_to_the_song(base, sampler.tokenizer, checker.track, checker.chord, counts, limits, waived)
        if sampler.can_sample(allowed):
            return allowed
    return base


def count_note(counts: dict[int, int], checker: Checker, token: int) -> None:
    """Count a PITCH ``token`` about to be written as a note of the checker's current track."""
    if checker.tables.kinds[token] == Kind.PITCH:
        counts[checker.track] = counts.get(checker.track, 0) + 1


def choose_seed(options: SamplingOptions) -> int:
    """The options' seed, or a random one (reported in the result, to reproduce the edit)."""
    return secrets.randbelow(1 << 31) if options.seed is None else options.seed


def write_piece(piece: Piece, path: Path, tokenizer: Tokenizer, source: Any = None, before: Piece | None = None) -> None:
    """Write ``piece`` to ``path``: as a copy of the MIDI file ``source`` with only what changed
    from ``before`` (the piece read from it) changed (:func:`musicgen.music.patch.write_edited`),
    or, for a score or a new piece, as a new file."""
    if source is not None and before is not None and Path(source).suffix.lower() in MIDI_SUFFIXES:
        write_edited(source, before, piece, path)
        return
    tempo = piece.tempo
    render.write_midi(midi_io.piece_to_midi(piece, tempo, resolution=tokenizer.midi_resolution(tempo)), path)


def save_edit(result: EditResult, source: Any, before: Piece, suffix: str, options: SamplingOptions,
              tokenizer: Tokenizer, region: tuple[int, int] | None = None) -> EditResult:
    """Write ``result.piece`` (``before``, read from ``source``, edited) to a new file named after
    ``source`` (and its piano roll with ``options.plot``, bars ``region`` shaded); return the
    result with its paths."""
    stem = f"{Path(source).stem}-{suffix}"
    path = render.reserve_paths(options.out_dir, stem, 1, result.seed)[0]
    try:
        write_piece(result.piece, path, tokenizer, source, before)
    except BaseException:
        render.release_paths([path])  # no empty placeholder is left behind as if it were MIDI
        raise
    result.path = path
    if options.plot:
        result.extra_paths.append(render.write_piano_roll(midi_io.load_midi(path), path.with_suffix(".png"), region))
    return result
