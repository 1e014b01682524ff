"""Continuing a piece: the primer's last bars that fit the model, and a file that keeps all of it.

A primer of four minutes is longer than any window the model was trained on, so the model
is primed with the last bars that fit its context (``--primer-bars N`` chooses them), under
the primer's header; then it writes new bars. The file written holds the whole primer,
note for note as read, followed by the new bars.

The encoding says what a primer is and where its continuation starts
(:meth:`Tokenizer.primer`, :meth:`Tokenizer.continuation_start`): in the notes encoding the new
music starts with a bar of its own (a BAR closes the primer's last bar); in the events encoding
the new music starts when the primer's last note has ended.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from musicgen.errors import ConfigError
from musicgen.music.piece import END, START, TRACK, Piece

if TYPE_CHECKING:
    from musicgen.tokens import Tokenizer


@dataclass
class PrimerPlan:
    """What the model is primed with, and where its new music goes in the file."""

    prefix: np.ndarray  # the tokens fed to the model, BOS first
    piece: Piece  # the whole primer, as read
    bars_used: int
    bars_total: int
    end_beat: float  # where the new music starts in the written piece
    track_of: list[int]  # the primer's source track of each token track


def bar_starts(piece: Piece, bars: int | None = None) -> list[float]:
    """The beat of each bar line of ``piece`` (following its time signatures), covering its notes."""
    starts, beat = [], 0.0
    changes = list(piece.time_signatures)
    end = piece.end_beat
    while beat < end - 1e-9 or not starts:
        starts.append(beat)
        active = [change for change in changes if change[0] <= beat + 1e-9][-1]
        beat += active[1] * 4 / active[2]
        if bars is not None and len(starts) >= bars:
            break
    return starts


NEW_MUSIC_ROOM = 16  # tokens a sample keeps for new music after its primer


def plan_primer(piece: Piece, tokenizer: Tokenizer, context: int, length: int, primer_bars: int | None = None,
                controls: list[int] | None = None) -> PrimerPlan:
    """Prime a sample of ``length`` tokens with the primer's last ``primer_bars`` bars, or else with
    its last bars whose tokens fit ``context`` (the model's training window).

    A recurrent model reads a primer of any length, so asked-for bars only have to leave
    :data:`NEW_MUSIC_ROOM` tokens of ``length`` for the new music.
    """
    starts = bar_starts(piece)
    total = len(starts)
    if primer_bars is not None and not 1 <= primer_bars <= total:
        raise ConfigError(f"--primer-bars {primer_bars} is outside the primer's 1..{total} bars")
    room = max(length - NEW_MUSIC_ROOM, 1) if length > 2 * NEW_MUSIC_ROOM else length - 1
    budget = room if primer_bars is not None else min(context, room)
    def prefix_of(count: int) -> np.ndarray:
        return tokenizer.primer(_slice(piece, starts[total - count]), controls)

    if primer_bars is not None:
        count = primer_bars
    else:  # the most bars that fit (more bars, more tokens: a binary search, not one try a bar)
        low, high = 1, total
        while low < high:
            middle = (low + high + 1) // 2
            low, high = (middle, high) if len(prefix_of(middle)) <= budget else (low, middle - 1)
        count = low
    prefix = prefix_of(count)
    if len(prefix) > room:
        which = f"the primer's last {count} bars take" if count > 1 else "even the primer's last bar takes"
        raise ConfigError(f"{which} {len(prefix)} tokens and --length {length} leaves room for {room}; "
                          f"raise --length to {len(prefix) + NEW_MUSIC_ROOM} or more")
    end = tokenizer.continuation_start(piece, starts)
    order = sorted(range(len(piece.tracks)), key=lambda index: (piece.tracks[index].program, index))
    used = [index for index in order if np.any(piece.notes[:, TRACK] == index)]
    return PrimerPlan(prefix, piece, count, total, end, used)


def continuation(plan: PrimerPlan, row: np.ndarray, tokenizer: Tokenizer, tempo: float) -> Piece:
    """The whole primer and, after it, the new music of a sampled ``row`` (the prefix, then new tokens)."""
    music = tokenizer.decode_continuation(plan.prefix, np.asarray(row[len(plan.prefix):], np.int32), tempo)
    notes = music.notes.copy()
    notes[:, [START, END]] += plan.end_beat
    mapping = _track_mapping(plan, music)
    tracks = list(plan.piece.tracks)
    for index, track in enumerate(music.tracks):
        if index not in mapping:  # a track the primer does not have
            mapping[index] = len(tracks)
            tracks.append(track)
    notes[:, TRACK] = [mapping[int(track)] for track in notes[:, TRACK]]
    signatures = list(plan.piece.time_signatures)
    for beat, numerator, denominator in music.time_signatures:
        if (numerator, denominator) != tuple(signatures[-1][1:]):
            signatures.append((beat + plan.end_beat, numerator, denominator))
    pedals = music.pedals.copy()
    pedals[:, 0] += plan.end_beat
    if len(pedals):
        pedals[:, 1] = [mapping[int(track)] for track in pedals[:, 1]]
    chords = (*plan.piece.chords, *((beat + plan.end_beat, chord) for beat, chord in music.chords))
    return dataclasses.replace(
        plan.piece, notes=np.concatenate([plan.piece.notes, notes]), tracks=tuple(tracks),
        time_signatures=tuple(signatures), pedals=np.concatenate([plan.piece.pedals, pedals]), chords=chords,
    )


def _slice(piece: Piece, cut: float) -> Piece:
    """The piece from beat ``cut`` on, moved to start at 0 (notes begun before it left out)."""
    keep = piece.notes[:, START] >= cut - 1e-9
    notes = piece.notes[keep].copy()
    notes[:, [START, END]] -= cut
    signatures = [(max(beat - cut, 0.0), n, d) for beat, n, d in piece.time_signatures if beat >= cut - 1e-9]
    earlier = [(0.0, n, d) for beat, n, d in piece.time_signatures if beat < cut - 1e-9][-1:]
    pedals = piece.pedals[piece.pedals[:, 0] >= cut].copy()
    pedals[:, 0] -= cut
    sounding = [(0.0, chord) for beat, chord in piece.chords if beat <= cut + 1e-9][-1:]
    chords = tuple(sounding + [(beat - cut, chord) for beat, chord in piece.chords if beat > cut + 1e-9])
    markers = tuple((beat - cut, text) for beat, text in piece.markers if beat >= cut - 1e-9)
    return dataclasses.replace(piece, notes=notes, time_signatures=tuple(earlier + signatures) or ((0.0, 4, 4),),
                               pedals=pedals, chords=chords, markers=markers)


def _track_mapping(plan: PrimerPlan, music: Piece) -> dict[int, int]:
    """Each decoded track's primer track: by position among the primer's tracks of its program."""
    mapping = {}
    for index, track in enumerate(music.tracks):
        same = [source for source in plan.track_of if plan.piece.tracks[source].program == track.program]
        rank = sum(1 for earlier in music.tracks[:index] if earlier.program == track.program)
        if rank < len(same):
            mapping[index] = same[rank]
    return mapping
