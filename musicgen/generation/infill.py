"""Infilling: write bars of a file again, all tracks or some, so that they join both sides.

The model was trained with fill-in-the-middle examples (:mod:`musicgen.data.window_edits`): the
bars around a hole as context, each missing part written ``TRACK(t) FILL``, then
``FILL_START`` and the missing bars. :func:`infill` builds that context from a file (as many
bars on each side as fit the model's training window), lets the model write the bars
(:class:`musicgen.generation.guided.GuidedSampler`, only the chosen tracks, exactly as many bars as the
hole), and writes a file in which every note outside the region is the input's own: only
the notes of the chosen tracks that start inside the region are replaced.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from musicgen.errors import ConfigError
from musicgen.generation.edits import (
    TOKENS_PER_BAR_LIMIT,
    PartLimits,
    choose_seed,
    count_note,
    within_limits,
)
from musicgen.generation.guided import GuidedSampler
from musicgen.generation.options import InfillOptions
from musicgen.generation.results import Result
from musicgen.generation.steering import guidance
from musicgen.music import midi_io
from musicgen.music.instruments import parse_instrument, program_name
from musicgen.music.piece import END, PITCH, START, TRACK, Piece
from musicgen.tokens.bars import Bar, BarLayout

if TYPE_CHECKING:
    from musicgen.generation.sampler import ModelSession
    from musicgen.tokens import Tokenizer

MIN_CONTEXT_BARS = 2  # bars of context on each side of a hole, even past the training window
LEAST_PERCENTILE = 10  # a track that played in the region keeps half this percentile of its notes per bar


def parse_bars(text: str, count: int) -> range:
    """``"9-12"`` (1-based, inclusive) or ``"9"``: the bar indices of a region of a ``count``-bar piece."""
    try:
        first, _, last = str(text).partition("-")
        first, last = int(first), int(last or first)
    except ValueError:
        raise ConfigError(f"--bars wants a bar or a range of bars like 9-12, got {text!r}") from None
    if not 1 <= first <= last:
        raise ConfigError(f"--bars {text}: bars count from 1, and the range must not run backwards")
    if last > count:
        raise ConfigError(f"--bars {text} is outside the file, which has {count} bars")
    if first == 1 and last == count:
        raise ConfigError(f"--bars {text} covers the whole piece, so nothing joins it; use 'musicgen generate'")
    return range(first - 1, last)


def choose_tracks(piece: Piece, order: list[int], text: str | None, playing: list[int] | None = None) -> list[int]:
    """Token tracks (``order``: the source track of each) named by ``--tracks`` (track names,
    instrument names or programs); without it, those ``playing`` (every track when not given)."""
    if text is None:
        return sorted(playing) if playing is not None else list(range(len(order)))
    chosen = []
    for word in (part.strip() for part in text.split(",") if part.strip()):
        by_name = [i for i, source in enumerate(order) if piece.tracks[source].name.lower() == word.lower()]
        if not by_name:
            try:
                program = parse_instrument(word)
            except ConfigError:
                program = None
            by_name = [i for i, source in enumerate(order) if piece.tracks[source].program == program]
        if not by_name:
            names = ", ".join(piece.tracks[source].name or program_name(piece.tracks[source].program) for source in order)
            raise ConfigError(f"--tracks {word!r} names no track of the file; its tracks are: {names}")
        chosen.extend(index for index in by_name if index not in chosen)
    return sorted(chosen)


def infill_piece(session: ModelSession, path: Any, options: InfillOptions) -> Result:
    """The piece of the file at ``path`` with bars ``options.bars`` (of ``options.tracks``, or every
    track playing there) written again by ``session``'s model; not written to a file."""
    options.validate()
    checkpoint = session.checkpoint
    tokenizer = checkpoint.tokenizer
    seed = choose_seed(options)
    sampler = GuidedSampler(session, options.temperature, options.top_k, options.top_p, seed, options.precision,
                            guidance=guidance(tokenizer, options))
    piece = midi_io.read_piece(path)
    layout = tokenizer.layout()
    controls, programs, all_bars = layout.parse(tokenizer.encode_piece(piece))
    region = parse_bars(options.bars, len(all_bars))
    around = all_bars[max(region[0] - 1, 0):region[-1] + 2]
    order = tokenizer.source_tracks(piece)
    targets = choose_tracks(piece, order, options.tracks, sorted({track for bar in around for track, _ in bar.parts}))
    sampleable = sampler.checker.params["allowed"]
    targets = [track for track in targets if sampleable[layout.track_offset + track]]  # the model's tracks
    if not targets:
        raise ConfigError(f"--bars {options.bars}: no track that the model can write plays in or around those bars; "
                          "name the tracks to write with --tracks")
    context, first = _context(layout, controls, programs, all_bars, region, targets, checkpoint.train_config.seq_len)
    sampler.force(layout.write(controls, programs, context, [layout.fill_start]))
    limits = part_limits(all_bars, tokenizer, region, {track: piece.notes[piece.notes[:, TRACK] == order[track], PITCH]
                                                       for track in targets})
    filled = _write_bars(sampler, tokenizer, len(region), limits)
    for offset, bar in enumerate(filled):
        all_bars[region[0] + offset].parts = sorted(
            [part for part in all_bars[region[0] + offset].parts if part[0] not in targets] + bar.parts)
    new_ids = np.asarray(layout.write(controls, programs, all_bars, [tokenizer.eos_id]), np.int32)
    lines = tokenizer.bar_lines(new_ids)
    start, end = lines[region[0]], lines[region[-1] + 1]
    decoded = tokenizer.decode_piece(new_ids)
    sources = [order[t] for t in targets]
    old = piece.notes
    replaced = np.isin(old[:, TRACK], sources) & (old[:, START] >= start - 1e-9) & (old[:, START] < end - 1e-9)
    new = decoded.notes[np.isin(decoded.notes[:, TRACK], targets) & (decoded.notes[:, START] >= start - 1e-9)
                        & (decoded.notes[:, START] < end - 1e-9)].copy()
    new[:, TRACK] = [order[int(track)] for track in new[:, TRACK]]
    new = _before_next_onsets(new, old[~replaced])
    result = dataclasses.replace(piece, notes=np.concatenate([old[~replaced], new]))
    names = ", ".join(piece.tracks[source].name or program_name(piece.tracks[source].program) for source in sources)
    summary = (f"bars {region[0] + 1}-{region[-1] + 1} of {len(all_bars)} ({names}): {int(replaced.sum())} notes "
               f"replaced by {len(new)}; context bars {first + 1}-{first + len(context)}")
    return Result([result], seed, f"{Path(path).stem}-infill", summary, masked_mass=sampler.masked_mass,
                  source=Path(path), before=piece, region=(region[0] + 1, region[-1] + 1))


def _context(layout: BarLayout, controls: list, programs: list, bars: list[Bar], region: range,
             targets: list[int], budget: int) -> tuple[list[Bar], int]:
    """The bars around the hole (each target part a FILL): at least ``MIN_CONTEXT_BARS`` on each side
    where the piece has them, then as many as fit ``budget`` tokens with the hole's own length left
    for the filling; and the index of the first."""
    holed = []
    for index, bar in enumerate(bars):
        if index in region:
            kept = [(track, part) for track, part in bar.parts if track not in targets]
            bar = Bar(bar.opening, sorted(kept + [(track, [layout.fill]) for track in targets]), bar.harmony)
        holed.append(bar)
    fill_length = sum(len(part) + 1 for index in region for track, part in bars[index].parts if track in targets)
    low, high = region[0], region[-1] + 1
    while True:
        size = len(layout.write(controls, programs, holed[low:high], [])) + fill_length + len(region) + 2
        grow_left = low > 0 and (region[0] - low <= high - region[-1] - 1 or high >= len(bars))
        # A dense hole may fill the training window alone; the bars that join it come first.
        short = (low > 0 and region[0] - low < MIN_CONTEXT_BARS) or \
            (high < len(bars) and high - region[-1] - 1 < MIN_CONTEXT_BARS)
        if (size > budget and not short) or (low == 0 and high == len(bars)):
            break
        if grow_left:
            low -= 1
        else:
            high += 1
    return layout.restated(holed[:high], low), low


def _before_next_onsets(new: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """``new`` notes that a MIDI channel can play beside the ``kept`` ones, which cannot sound one
    pitch twice at once: each cut where the next note of its track and pitch begins, and left out
    where a kept note of its track and pitch still sounds."""
    rows = np.concatenate([kept, new])
    new, keep = new.copy(), np.ones(len(new), bool)
    for index, (start, _, pitch, _, track) in enumerate(new[:, :5].tolist()):
        same = rows[(rows[:, TRACK] == track) & (rows[:, PITCH] == pitch)]
        later = same[same[:, START] > start + 1e-9, START]
        if len(later):
            new[index, END] = min(new[index, END], later.min())
        mine = kept[(kept[:, TRACK] == track) & (kept[:, PITCH] == pitch)]
        keep[index] = not np.any((mine[:, START] < start - 1e-9) & (mine[:, END] > start + 1e-9))
    return new[keep]


def part_limits(bars: list[Bar], tokenizer: Tokenizer, region: range,
                pitches: dict[int, np.ndarray]) -> dict[int, PartLimits]:
    """The :class:`PartLimits` of each target track (the keys of ``pitches``, its source track's
    pitches in the song), from the song's bars."""
    roles = tokenizer.roles
    counts: dict[int, list[int]] = {track: [] for track in pitches}
    stacks: dict[int, int] = dict.fromkeys(pitches, 1)
    for bar in bars:
        for track, part in bar.parts:
            if track not in pitches:
                continue
            tokens = np.asarray(part, np.int64)
            is_pitch = roles.pitch[tokens]
            counts[track].append(int(is_pitch.sum()))
            group = np.cumsum(roles.position[tokens])[is_pitch]
            stacks[track] = max(stacks[track], int(np.bincount(group).max()) if len(group) else 1)
    limits = {}
    for track in pitches:
        if not len(pitches[track]) or not counts[track]:
            continue
        played = all(any(part_track == track for part_track, _ in bars[index].parts) for index in region)
        limits[track] = PartLimits(int(pitches[track].min()), int(pitches[track].max()), max(counts[track]), stacks[track],
                                   int(np.ceil(np.percentile(counts[track], LEAST_PERCENTILE) / 2)) if played else 0)
    return limits


def _write_bars(sampler: GuidedSampler, tokenizer: Tokenizer, count: int, limits: dict[int, PartLimits]) -> list[Bar]:
    """Sample ``count`` bars of the target tracks after FILL_START, each track kept to its
    :class:`PartLimits`; end them with FILL_END."""
    roles, values, layout = tokenizer.roles, tokenizer.values, tokenizer.layout()
    targets = sorted(limits)
    # Only the target tracks play; the bars end when the hole is full (a BAR too many becomes FILL_END).
    base = ~(roles.track & ~np.isin(values, targets)) & ~roles.fill
    bar_id, fill_end = layout.bar_id, layout.fill_end
    started, bars, tokens_in_bar, counts, waived = len(sampler.tokens), 0, 0, {}, set()
    while True:
        checker = sampler.checker
        allowed = base
        if bars:
            allowed = within_limits(sampler, base, counts, limits, waived)
        token = sampler.sample(allowed, feed=False)
        if token == bar_id:
            if bars == count:
                token = fill_end
            bars, tokens_in_bar, counts, waived = bars + 1, 0, {}, set()
        if token == fill_end or tokens_in_bar > TOKENS_PER_BAR_LIMIT:
            break
        count_note(counts, checker, token)
        sampler.force([token])
        tokens_in_bar += 1
    sampler.force(sampler.checker.closing_tokens())
    filled = np.asarray(sampler.tokens[started:], np.int32)
    return tokenizer.layout().parse(np.concatenate([[tokenizer.bos_id], filled]))[2][:count]
