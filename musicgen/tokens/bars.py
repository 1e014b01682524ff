"""A bar encoding's pieces as header and bars: what windows, prompts and primers are, and what edits work on.

:class:`BarSequences` is what every encoding whose pieces are a header (BOS, controls,
instruments) followed by BAR-delimited bars shares: training windows start at a bar under the
header, ``--bars N`` counts BAR tokens, a prompt is a header closed by a BAR, and a primer's
continuation starts at the end of its last bar. An encoding mixes it in ahead of
:class:`~musicgen.tokens.base.Tokenizer`.

Infilling rewrites some bars of some tracks, accompaniment writes new tracks' parts of every
bar, and training edits windows (controls left out, tracks reordered, fill-in-the-middle
examples). All of them take a token sequence apart into its header (controls, one PROGRAM per
track) and its bars (each bar's opening, then one part per track), change that, and write it
back. :class:`BarLayout` does both directions for an encoding with bars (see
:meth:`musicgen.tokens.base.Tokenizer.layout`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from musicgen.errors import ConfigError
from musicgen.tokens.config import Kind

if TYPE_CHECKING:
    from musicgen.music.piece import Piece


@dataclass
class Bar:
    """One bar: its opening (BAR and a TIME_SIGNATURE), its harmony (the chords and their
    positions, where the encoding writes them) and each track's part."""

    opening: list[int]
    parts: list[tuple[int, list[int]]] = field(default_factory=list)  # (track, tokens after TRACK(track))
    harmony: list[int] = field(default_factory=list)


class BarLayout:
    """Parses token sequences of a bar encoding into header and bars, and writes them back."""

    def __init__(self, tokenizer: Any) -> None:
        """``tokenizer``: a :class:`~musicgen.tokens.base.Tokenizer` with bars (this module sits
        below it: the contract returns a layout)."""
        self.tokenizer = tokenizer
        self.kinds = tokenizer.kinds
        self.values = tokenizer.values
        self.track_offset = tokenizer.offset(Kind.TRACK)
        self.bar_id = tokenizer.id_of(Kind.BAR)
        self.fill, self.fill_start, self.fill_end = (tokenizer.id_of(kind) for kind in
                                                     (Kind.FILL, Kind.FILL_START, Kind.FILL_END))
        self.bos_id, self.eos_id = tokenizer.bos_id, tokenizer.eos_id
        self.is_control = np.asarray(tokenizer.control_of) >= 0  # per token id
        self.is_program = tokenizer.roles.program
        self.program_ids = {int(self.values[token]): int(token) for token in np.flatnonzero(self.is_program)}

    def parse(self, tokens: np.ndarray) -> tuple[list[int], list[int], list[Bar]]:
        """``(controls, programs, bars)`` of a sequence (its last bar may be cut short)."""
        tokens = np.asarray(tokens)
        kinds = self.kinds[tokens]
        controls = tokens[self.is_control[tokens]].tolist()
        programs = tokens[self.is_program[tokens]].tolist()
        kept = (kinds != Kind.EOS) & (kinds != Kind.PAD)
        tokens, kinds = tokens[kept], kinds[kept]
        starts = np.flatnonzero(kinds == Kind.BAR)
        tracks = np.flatnonzero(kinds == Kind.TRACK)
        bars: list[Bar] = []
        for start, end in zip(starts.tolist(), [*starts[1:].tolist(), len(tokens)], strict=True):
            inside = tracks[(tracks > start) & (tracks < end)].tolist()
            opening_end = inside[0] if inside else end
            between = list(zip(tokens[start + 1:opening_end].tolist(), kinds[start + 1:opening_end].tolist(),
                               strict=True))
            opening = [int(tokens[start])] + [token for token, kind in between if kind == Kind.TIME_SIGNATURE]
            harmony = [token for token, kind in between if kind in (Kind.CHORD, Kind.POSITION)]
            bar = Bar(opening, harmony=harmony)
            for position, following in zip(inside, [*inside[1:], end][:len(inside)], strict=True):
                bar.parts.append((int(self.values[tokens[position]]), tokens[position + 1:following].tolist()))
            bars.append(bar)
        return controls, programs, bars

    def write(self, controls: list[int], programs: list[int], bars: list[Bar], ending: list[int]) -> list[int]:
        """The tokens of a header and bars (and ``ending``: EOS, or nothing for a cut window)."""
        tokens = [self.bos_id, *controls, *programs]
        for bar in bars:
            tokens.extend(bar.opening)
            tokens.extend(bar.harmony)
            for track, part in bar.parts:
                tokens.append(self.track_offset + track)
                tokens.extend(part)
        return tokens + ending

    def header(self, controls: list[int], programs: list[int]) -> list[int]:
        """BOS, the control tokens and one PROGRAM token per track playing ``programs``."""
        return [self.bos_id, *controls, *(self.program_ids[int(program)] for program in programs)]

    def restated(self, bars: list[Bar], first: int) -> list[Bar]:
        """``bars[first:]``, the first of them opening with the meter in force there (its own, or
        the last one an earlier bar stated)."""
        kept = list(bars[first:])
        if not kept or len(kept[0].opening) > 1:
            return kept
        earlier = [bar.opening[1] for bar in bars[:first] if len(bar.opening) > 1]
        if earlier:
            kept[0] = Bar([*kept[0].opening, earlier[-1]], kept[0].parts, kept[0].harmony)
        return kept

    def written_out(self, bars: list[Bar], before: int | None = None) -> list[Bar]:
        """``bars`` with parts that stand for an earlier bar's (REPEAT) written out: all of them, or
        those from bar ``before`` on that stand for a bar before it (so they read the same anywhere)."""
        return expand(self.tokenizer, bars, before) if self.tokenizer.config.repeats else bars

    def bars_alone(self, bars: list[Bar]) -> list[int]:
        """The tokens of ``bars`` without a header or BOS (to follow a sequence already begun)."""
        return self.write([], [], bars, [])[1:]


def fold(tokenizer: Any, bars: list[Bar], lengths: list[int]) -> list[Bar]:
    """``bars`` (of ``lengths`` steps) with each part that repeats the same track's part ``n``
    bars back (``n`` among the config's ``repeats``, the smallest) written ``REPEAT(n)``."""
    repeats = tokenizer.config.repeats
    if not repeats:
        return bars
    played: list[dict[int, list[int]]] = []  # each bar's parts, written out
    for index, bar in enumerate(bars):
        written = dict(bar.parts)
        played.append(written)
        folded = []
        for track, part in bar.parts:
            for n in repeats:
                back = index - n
                if back >= 0 and lengths[back] == lengths[index] and played[back].get(track) == part and part:
                    part = [tokenizer.id_of(Kind.REPEAT, n)]
                    break
            folded.append((track, part))
        bar.parts = folded
    return bars


def expand(tokenizer: Any, bars: list[Bar], before: int | None = None) -> list[Bar]:
    """``bars`` with their REPEAT parts written out: all of them, or (``before``) those of bars
    from ``before`` on that repeat a bar before it (a window starting at bar ``before`` cannot
    see those). A part whose bar is not there, or did not play, is left out."""
    is_repeat = tokenizer.kinds == Kind.REPEAT
    played: list[dict[int, list[int]]] = []  # each bar's parts, written out
    for index, bar in enumerate(bars):
        written, parts = {}, []
        for track, part in bar.parts:
            resolved = part
            if len(part) == 1 and is_repeat[part[0]]:
                back = index - int(tokenizer.values[part[0]])
                resolved = played[back].get(track, []) if back >= 0 else []
                if before is None or (index >= before and back < before):
                    part = resolved
            if part:
                parts.append((track, part))
            written[track] = resolved
        bar.parts = parts
        played.append(written)
    return bars


class BarSequences:
    """Sequences of a header and bars (see the module docstring): the structure methods of the
    :class:`~musicgen.tokens.base.Tokenizer` contract for an encoding with BAR tokens."""

    anchored_windows = True

    def bar_starts(self, ids: Any) -> np.ndarray:
        return np.flatnonzero(np.asarray(ids) == self.id_of(Kind.BAR))

    def whole_prefix(self, ids: Any) -> int:
        """Up to the last BAR, where bars with notes come before it; else everything."""
        ids = np.asarray(ids)
        starts = self.bar_starts(ids)
        if len(starts) < 2 or not np.any(self.roles.note[ids[starts[0]:starts[-1]]]):
            return len(ids)
        return int(starts[-1])

    def prompt(self, controls: list[int] | None = None, programs: list[int] | None = None) -> np.ndarray:
        """BOS, the control tokens, one PROGRAM per asked instrument and then a BAR, which closes
        the header so that the model adds no track of its own."""
        programs = list(programs or [])
        if programs and not self.roles.program.any():
            raise ConfigError(f"the {self.encoding} encoding has no tracks, so it takes no instruments; "
                              "leave out --instruments")
        tracks = [self.id_of(Kind.PROGRAM, program) for program in programs]
        opening = [self.id_of(Kind.BAR)] if tracks else []
        return np.array([self.bos_id, *(controls or []), *tracks, *opening], np.int32)

    def time_limits(self, prompt: np.ndarray, bars: float | None, seconds: float | None,
                    meter: tuple[int, int], tempo: float) -> tuple[int | None, int | None]:
        """Bars: a number of bars is exact; seconds become the bars that hold them. A prompt that
        ends with a BAR has opened the first new bar already."""
        if bars is None and seconds is None:
            return None, None
        numerator, denominator = meter
        config = self.config
        bar_seconds = config.bar_seconds if config.timing == "seconds" else numerator * 4 / denominator * 60 / tempo
        count = max(1, math.ceil((bars if bars is not None else seconds / bar_seconds) - 1e-9))
        opened = len(prompt) > 0 and int(prompt[-1]) == self.id_of(Kind.BAR)
        return None, count - 1 if opened else count

    def primer(self, piece: Piece, controls: list[int] | None = None) -> np.ndarray:
        """The piece's tokens, its header's controls replaced by ``controls`` (when given), and a
        BAR that closes its last bar: the new music starts with a bar of its own."""
        ids = np.asarray(self.encode_piece(piece), np.int32)
        ids = ids[:-1] if len(ids) and ids[-1] == self.eos_id else ids
        if controls is not None:
            ids = np.concatenate([ids[:1], controls, ids[1:][self.control_of[ids[1:]] < 0]])
        return np.concatenate([ids, [self.id_of(Kind.BAR)]]).astype(np.int32)

    def continuation_start(self, piece: Piece, bar_starts: list[float]) -> float:
        """The end of the piece's last bar."""
        last = bar_starts[-1]
        active = [change for change in piece.time_signatures if change[0] <= last + 1e-9][-1]
        return last + active[1] * 4 / active[2]

    def decode_continuation(self, prefix: np.ndarray, new: np.ndarray, tempo: float) -> Piece:
        """The new bars under the prefix's header."""
        header = prefix[: int(np.argmax(self.roles.bar[prefix]))]
        return self.decode_piece(np.concatenate([header, [self.id_of(Kind.BAR)], new]), tempo=tempo)
