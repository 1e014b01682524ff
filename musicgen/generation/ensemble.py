"""The instruments a user asks for, as the model can play them: stand-ins for those it never saw.

``--instruments piano,bass,drums`` asks for three tracks. A model plays an instrument well only
if its training data had it; the shipped base model, for one, has pianos, strings, voices and
drums but no bass guitar. Rather than write an empty or random track, an instrument the data
never had is played by a **stand-in**: the instrument the data had that plays the same role
(:data:`ROLES`: a bass part by the cello, contrabass or bassoon; a guitar part by the harp or
harpsichord; a lead by the flute, oboe or violin; a pad by the strings or the choir), kept to
the pitches both instruments can play and to the asked instrument's largest stack of notes at one onset, and then
written on the program that was asked for, under its name. Where no stand-in is free (each
instrument the data had plays one track at most), the request is refused with a
:class:`~musicgen.errors.ConfigError` that says why.

>>> from musicgen.generation.ensemble import ROLES
>>> [role for role, asked, _ in ROLES if 33 in asked]
['bass']
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from musicgen.errors import ConfigError
from musicgen.music.instruments import (
    DEFAULT_PROGRAM,
    DRUM_PROGRAM,
    parse_instruments,
    playable,
    program_name,
)

if TYPE_CHECKING:
    from musicgen.data.profile import ModelProfile
    from musicgen.music.piece import Piece
    from musicgen.tokens import Tokenizer
    from musicgen.tokens.grammar import Constraints

MIN_RANGE = 12  # a stand-in must share at least an octave with the instrument it plays for


def _programs(*spans: Any) -> frozenset[int]:
    return frozenset(program for span in spans for program in (span if isinstance(span, range) else (span,)))


# (role, the programs that play it, the stand-ins in order of preference): orchestration practice.
ROLES = (
    ("bass", _programs(range(32, 40), 43, 58, 67, 70), (43, 42, 70, 58, 32, 33, 57, DEFAULT_PROGRAM)),
    ("guitar", _programs(range(24, 32), range(104, 108)), (24, 25, 46, 6, 105, DEFAULT_PROGRAM)),
    ("keys", _programs(range(0, 24)), (DEFAULT_PROGRAM, 6, 4, 19, 16, 46)),
    ("lead", _programs(range(56, 57), range(59, 60), range(64, 67), range(68, 70), range(71, 88), range(108, 112)),
     (73, 68, 71, 40, 56, 65, 52, DEFAULT_PROGRAM)),
    ("low brass", _programs(57, range(60, 64)), (57, 60, 61, 42, 70, 48)),
    ("strings", _programs(range(40, 43), range(44, 52), range(88, 104)), (48, 49, 40, 41, 42, 52, 19)),
    ("voices", _programs(range(52, 56)), (52, 53, 54, 48, DEFAULT_PROGRAM)),
)
BASS_PROGRAMS = frozenset(next(programs for role, programs, _ in ROLES if role == "bass"))


@dataclass(frozen=True)
class Ensemble:
    """The asked tracks: ``played[i]`` is the program the model plays track ``i`` as,
    ``written[i]`` the program it is written on; ``ranges`` and ``stacks`` keep a stand-in to
    what the asked instrument can play (its pitches, its most notes at one onset); ``remarks``
    say which stand-ins were chosen."""

    played: tuple[int, ...]
    written: tuple[int, ...]
    ranges: dict[int, tuple[int, int]] = dataclasses.field(default_factory=dict)
    stacks: dict[int, int] = dataclasses.field(default_factory=dict)
    remarks: tuple[str, ...] = ()

    def constraints(self, constraints: Constraints | None) -> Constraints | None:
        """``constraints`` with each stand-in's pitch range and stack narrowed to the asked
        instrument's, and a bass part kept to one note at a time (a bass line, not chords: the
        data's bass tracks hold a few double stops, which a sampled bass turned into triads)."""
        bass = [played for played, written in zip(self.played, self.written, strict=True) if written in BASS_PROGRAMS]
        if constraints is None or not (self.ranges or bass) or constraints.max_stacks is None:
            return constraints
        ranges = None if constraints.pitch_ranges is None else np.array(constraints.pitch_ranges, np.int64, copy=True)
        stacks = np.array(constraints.max_stacks, np.int64, copy=True)
        for program, bounds in self.ranges.items():
            if ranges is not None:
                ranges[program] = bounds
            stacks[program] = min(int(stacks[program]), self.stacks[program])
        stacks[bass] = 1
        return dataclasses.replace(constraints, pitch_ranges=ranges, max_stacks=stacks)

    def written_piece(self, piece: Piece, first: int = 0) -> Piece:
        """``piece`` with tracks ``first``, ``first + 1``, ... (the asked ones) on their asked programs."""
        tracks = list(piece.tracks)
        for index, (played, written) in enumerate(zip(self.played, self.written, strict=True)):
            at = first + index
            if played != written and at < len(tracks) and tracks[at].program == played:
                tracks[at] = dataclasses.replace(tracks[at], program=written, name=program_name(written))
        return dataclasses.replace(piece, tracks=tuple(tracks))


def plan_ensemble(tokenizer: Tokenizer, instruments: str, profile: ModelProfile | None = None,
                  constraints: Constraints | None = None, taken: tuple[int, ...] = ()) -> Ensemble:
    """The :class:`Ensemble` for ``"piano,bass,drums"``, in program order (as the data's headers are).

    ``profile`` says which programs the model saw (all of them when it is None or says nothing);
    ``constraints`` give their pitch ranges; ``taken`` are programs already playing (an
    accompanied file's), which no stand-in may be.
    """
    asked = sorted(parse_instruments(instruments))
    if len(asked) + len(taken) > tokenizer.config.max_tracks:
        given = f"the file has {len(taken)} tracks; " if taken else ""
        raise ConfigError(f"{given}--instruments asks for {len(asked)} more; the model writes at most "
                          f"{tokenizer.config.max_tracks} tracks")
    known = set(_profile_programs(tokenizer, profile))
    if not known:
        return Ensemble(tuple(asked), tuple(asked))
    busy = set(taken) | {program for program in asked if program in known}
    played, ranges, stacks, remarks = [], {}, {}, []
    for program in asked:
        if program in known:
            played.append(program)
            continue
        stand_in, bounds = _stand_in(program, known - busy, constraints)
        busy.add(stand_in)
        played.append(stand_in)
        ranges[stand_in], stacks[stand_in] = bounds, playable(program)[2]
        remarks.append(f"the training data had no {program_name(program)}: its part is the model's "
                     f"{program_name(stand_in)} part, kept to pitches {bounds[0]}..{bounds[1]} and written "
                     f"on {program_name(program)}")
    order = np.argsort(played, kind="stable")
    return Ensemble(tuple(played[i] for i in order), tuple(asked[i] for i in order), ranges, stacks, tuple(remarks))


def _stand_in(program: int, free: set[int], constraints: Constraints | None) -> tuple[int, tuple[int, int]]:
    """The free program that plays ``program``'s role, and the pitch range both share."""
    if program == DRUM_PROGRAM:
        raise ConfigError("the training data had no drums, and no instrument can stand in for them; "
                          "fine-tune on a folder with drums (musicgen train FOLDER) or leave out drums")
    low, high, _ = playable(program)
    roles = [stand_ins for _, programs, stand_ins in ROLES if program in programs]
    ranked = [*dict.fromkeys(candidate for stand_ins in roles for candidate in stand_ins)]
    ranked += sorted(free - set(ranked) - {DRUM_PROGRAM})  # any other pitched instrument, last
    for candidate in ranked:
        if candidate not in free:
            continue
        own = constraints.pitch_ranges[candidate] if constraints is not None and constraints.pitch_ranges is not None \
            else playable(candidate)[:2]
        bounds = (max(low, int(own[0])), min(high, int(own[1])))
        if bounds[1] - bounds[0] >= MIN_RANGE:
            return candidate, bounds
    raise ConfigError(f"the training data had no {program_name(program)}, and no instrument it had is free to "
                      f"play its part in its range ({low}..{high}); ask for fewer instruments, or fine-tune "
                      "on a folder that has one (musicgen train FOLDER)")


def _profile_programs(tokenizer: Tokenizer, profile: ModelProfile | None) -> list[int]:
    """The programs the training data had (none: the profile does not say)."""
    if profile is None or not profile.allowed_tokens:
        return []
    return [int(tokenizer.values[token]) for token in profile.allowed_tokens
            if token < tokenizer.vocab_size and tokenizer.roles.program[token]]
