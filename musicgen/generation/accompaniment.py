"""Accompaniment: new tracks written under the tracks of a file, which stay exactly as they are.

The file's tracks come first in the header and first in every bar, forced; the model then
writes the new tracks' part of that bar, having seen the given part of the same bar (and
everything before). That is the anticipation idea at the scale of a bar: the given music is
visible ahead of what is written against it. Training puts tracks in random orders
(``--shuffle-tracks``), so given tracks first is an order the model knows.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np

from musicgen.generation.edits import (
    TOKENS_PER_BAR_LIMIT,
    EditResult,
    PartLimits,
    choose_seed,
    count_note,
    save_edit,
    within_limits,
)
from musicgen.generation.ensemble import plan_ensemble
from musicgen.generation.guided import GuidedSampler
from musicgen.generation.options import AccompanyOptions
from musicgen.models.precision import choose_precision
from musicgen.music import midi_io
from musicgen.music.instruments import program_name
from musicgen.music.piece import TRACK, Track
from musicgen.tokens import Kind

if TYPE_CHECKING:
    from musicgen.training.checkpoint import Checkpoint


def accompany(path: Any, options: AccompanyOptions | None = None, checkpoint: Checkpoint | str | None = None,
              **changes: Any) -> EditResult:
    """The file at ``path`` with new tracks of ``options.instruments`` (e.g. ``"bass,drums"``)
    written under it, to a new file in ``options.out_dir``.

    ``checkpoint`` is a directory or a loaded checkpoint (default: the shipped base model);
    keyword arguments override fields of ``options``, e.g. ``accompany("tune.mid", instruments="bass")``.
    """
    from musicgen.training.checkpoint import resolve_checkpoint

    options = dataclasses.replace(options or AccompanyOptions(), **changes)
    options.validate()
    checkpoint = resolve_checkpoint(checkpoint)
    tokenizer = checkpoint.tokenizer
    kinds, values = tokenizer.kinds, tokenizer.values
    seed = choose_seed(options)
    piece = midi_io.read_piece(path)
    layout = tokenizer.layout()
    controls, given, bars = layout.parse(tokenizer.encode_piece(piece))
    constraints = checkpoint.profile.constraints(tokenizer)
    ensemble = plan_ensemble(tokenizer, options.instruments, checkpoint.profile, constraints,
                             taken=tuple(int(values[token]) for token in given))
    new = ensemble.tokens(tokenizer)
    sampler = GuidedSampler(checkpoint, options.temperature, options.top_k, options.top_p, seed,
                            choose_precision(options.precision)[0], ensemble.constraints(constraints))
    allowed = ~((kinds == Kind.TRACK) & (values < len(given))) & ~np.isin(
        kinds, [int(Kind.FILL), int(Kind.FILL_START), int(Kind.FILL_END), int(Kind.EOS)])
    bar_id = tokenizer.id_of(Kind.BAR)
    sampler.force([tokenizer.bos_id, *controls, *given, *new])
    for bar in bars:
        sampler.force(layout.bars_alone([bar]))  # the given part of the bar
        # Where the given part plays, every new track plays too: in time with it, never an empty track.
        least = 1 if bar.parts else 0
        limits = {track: PartLimits(0, 127, TOKENS_PER_BAR_LIMIT, 128, least)
                  for track in range(len(given), len(given) + len(new))}
        counts: dict[int, int] = {}
        waived: set[int] = set()
        for _ in range(TOKENS_PER_BAR_LIMIT):
            token = sampler.sample(within_limits(sampler, allowed, counts, limits, waived), feed=False)
            if token == bar_id:
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
    result = dataclasses.replace(piece, tracks=piece.tracks + added, notes=np.concatenate([piece.notes, notes]))
    kept = ", ".join(piece.tracks[s].name or program_name(piece.tracks[s].program) for s in tokenizer.source_tracks(piece))
    summary = (f"{len(notes)} notes in {len(added)} new tracks "
               f"({', '.join(program_name(track.program) for track in added)}) under {kept}, {len(bars)} bars")
    for note in ensemble.notes:
        summary += f"; note: {note}"
    return save_edit(EditResult(result, summary, sampler.masked_mass, seed), path, piece, "accompanied",
                     options, tokenizer)
