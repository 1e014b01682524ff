"""What infilling and accompaniment share: each track's limits in the bars being written.

An edit reads a file, lets the model write part of it (:mod:`musicgen.generation.infill`,
:mod:`musicgen.generation.accompaniment`) under the grammar's rules and, bar by bar, the song's
own limits for each track (:class:`PartLimits`), and returns a
:class:`~musicgen.generation.results.Result` that patches the file when written.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from musicgen.generation.guided import GuidedSampler
    from musicgen.generation.options import SamplingOptions
    from musicgen.tokens import Tokenizer
    from musicgen.tokens.grammar import Checker

TOKENS_PER_BAR_LIMIT = 600  # a bar longer than this is cut: the model has lost its way


@dataclass(frozen=True)
class PartLimits:
    """What one track plays in the song, which its new bars keep to: its pitch range, its most
    notes in a bar and at one position, and the fewest notes a new bar must give it (0 unless it
    played in every bar of the region: see :func:`musicgen.generation.infill.part_limits`)."""

    lowest: int
    highest: int
    most: int
    stack: int
    least: int


def _keep_to_the_song(base: np.ndarray, tokenizer: Tokenizer, track: int, stack: int, counts: dict[int, int],
                      limits: dict[int, PartLimits], waived: set[int]) -> np.ndarray:
    """``base`` narrowed so that the bar being written keeps each track to its :class:`PartLimits`
    (the fewest notes of the ``waived`` tracks excepted)."""
    roles, values = tokenizer.roles, tokenizer.values
    is_pitch, is_track = roles.pitch, roles.track
    allowed = base.copy()
    own = limits.get(track)
    if own is not None:
        allowed &= ~is_pitch | ((values >= own.lowest) & (values <= own.highest))
        if counts.get(track, 0) >= own.most:
            allowed &= ~(is_pitch | roles.position)
        if stack >= own.stack:
            allowed &= ~is_pitch
    for other, limit in limits.items():
        if counts.get(other, 0) >= limit.least or other < track or other in waived:
            continue
        allowed &= ~roles.bar  # a track that plays on both sides plays here too
        allowed &= ~(is_track & (values > other)) if other > track else ~is_track
    return allowed


def within_limits(sampler: GuidedSampler, base: np.ndarray, counts: dict[int, int], limits: dict[int, PartLimits],
                  waived: set[int]) -> np.ndarray:
    """What may come next in the bar being written: ``base`` kept to the tracks' ``limits``. Where
    that leaves nothing, the current track's fewest notes are ``waived`` (and remembered), then
    every track's; where even that leaves nothing, ``base`` alone."""
    checker = sampler.checker
    track = checker.value("track")
    for waiving in (set(), {track}, set(limits)):
        waived |= waiving
        allowed = _keep_to_the_song(base, sampler.tokenizer, track, checker.value("stack"), counts, limits, waived)
        if sampler.can_sample(allowed):
            return allowed
    return base


def count_note(counts: dict[int, int], checker: Checker, token: int) -> None:
    """Count a pitch ``token`` about to be written as a note of the checker's current track."""
    if checker.rules.tokenizer.roles.pitch[token]:
        track = checker.value("track")
        counts[track] = counts.get(track, 0) + 1


def choose_seed(options: SamplingOptions) -> int:
    """The options' seed, or a random one (reported in the result, to reproduce the edit)."""
    return secrets.randbelow(1 << 31) if options.seed is None else options.seed
