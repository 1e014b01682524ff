"""Accompaniment: new tracks written under the tracks of a file, which stay exactly as they are.

The file's tracks come first in the header and first in every bar, forced; the model then
writes the new tracks' part of that bar, having seen the given part of the same bar (and
everything before). That is the anticipation idea at the scale of a bar: the given music is
visible ahead of what is written against it. Training puts tracks in random orders
(``--shuffle-tracks``), so given tracks first is an order the model knows.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from musicgen.generation.edits import (
    TOKENS_PER_BAR_LIMIT,
    PartLimits,
    choose_seed,
    count_note,
    within_limits,
)
from musicgen.generation.ensemble import plan_ensemble
from musicgen.generation.guided import GuidedSampler
from musicgen.generation.options import AccompanyOptions
from musicgen.generation.results import Result
from musicgen.generation.steering import guidance
from musicgen.music import midi_io
from musicgen.music.instruments import program_name
from musicgen.music.piece import TRACK, Piece, Track

if TYPE_CHECKING:
    from musicgen.generation.sampler import ModelSession


def accompany_piece(session: ModelSession, path: Any, options: AccompanyOptions) -> Result:
    """The piece of the file at ``path`` with new tracks of ``options.instruments`` written by
    ``session``'s model under its own, which stay as they are; not written to a file."""
    options.validate()
    checkpoint = session.checkpoint
    tokenizer = checkpoint.tokenizer
    roles, values = tokenizer.roles, tokenizer.values
    seed = choose_seed(options)
    piece = midi_io.read_piece(path)
    layout = tokenizer.layout()
    played = piece if options.chords is None else _with_chords(piece, options.chords)
    controls, given, bars = layout.parse(tokenizer.encode_piece(played))
    constraints = checkpoint.profile.constraints(tokenizer)
    ensemble = plan_ensemble(tokenizer, options.instruments, checkpoint.profile, constraints,
                             taken=tuple(int(values[token]) for token in given))
    # Each bar's first chord is known ahead: new notes are not held into the next one if they are no tone of it.
    starts = np.array([int(values[bar.harmony[0]]) if bar.harmony else -1 for bar in bars] or [-1])
    sampler = GuidedSampler(session, options.temperature, options.top_k, options.top_p, seed,
                            options.precision, ensemble.constraints(constraints),
                            guidance=guidance(tokenizer, options, options.chords is not None, starts, first=1))
    allowed = ~(roles.track & (values < len(given))) & ~roles.fill & ~roles.end
    sampler.force(layout.header(controls, [int(values[token]) for token in given] + list(ensemble.played)))
    for bar in bars:
        sampler.force(layout.bars_alone([bar]))  # the given part of the bar
        # Where the given part plays, every new track plays too: in time with it, never an empty track.
        least = 1 if bar.parts else 0
        limits = {track: PartLimits(0, 127, TOKENS_PER_BAR_LIMIT, 128, least)
                  for track in range(len(given), len(given) + len(ensemble.played))}
        counts: dict[int, int] = {}
        waived: set[int] = set()
        for _ in range(TOKENS_PER_BAR_LIMIT):
            token = sampler.sample(within_limits(sampler, allowed, counts, limits, waived), feed=False)
            if token == layout.bar_id:
                break
            count_note(counts, sampler.checker, token)
            sampler.force([token])
        else:
            sampler.force(sampler.checker.closing_tokens()[:-1])  # finish a note cut short
    decoded = tokenizer.decode_piece(np.asarray(sampler.tokens + [tokenizer.eos_id], np.int32))
    first_new = len(piece.tracks)
    notes = decoded.notes[decoded.notes[:, TRACK] >= len(given)].copy()
    notes[:, TRACK] += first_new - len(given)
    added = tuple(Track(program, program_name(program)) for program in ensemble.written)
    result = dataclasses.replace(piece, tracks=piece.tracks + added, notes=np.concatenate([piece.notes, notes]),
                                 chords=played.chords if options.chords is not None else piece.chords)
    kept = ", ".join(piece.tracks[s].name or program_name(piece.tracks[s].program) for s in tokenizer.source_tracks(piece))
    summary = (f"{len(notes)} notes in {len(added)} new tracks "
               f"({', '.join(program_name(track.program) for track in added)}) under {kept}, {len(bars)} bars")
    return Result([result], seed, f"{Path(path).stem}-accompanied", summary, remarks=ensemble.remarks,
                  masked_mass=sampler.masked_mass, source=Path(path), before=piece)


def _with_chords(piece: Piece, progression: str) -> Piece:
    """``piece`` whose chords are ``progression``'s, from its first bar on, repeated to its end
    (one chord a bar of its first meter, or the lengths in beats given)."""
    from musicgen.music.chords import parse_progression

    _, numerator, denominator = piece.time_signatures[0]
    bar = numerator * 4 / denominator
    chords = parse_progression(progression)
    changes, beat = [], 0.0
    while beat < max(piece.end_beat, bar) - 1e-9:
        for chord, beats in chords:
            changes.append((beat, chord))
            beat += beats if beats is not None else bar
    return dataclasses.replace(piece, chords=tuple(changes))
