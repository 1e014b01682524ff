"""A bar encoding's pieces as header and bars: the structure that edits work on.

Infilling rewrites some bars of some tracks, accompaniment writes new tracks' parts of every
bar, and training edits windows (controls left out, tracks reordered, fill-in-the-middle
examples). All of them take a token sequence apart into its header (controls, one PROGRAM per
track) and its bars (each bar's opening, then one part per track), change that, and write it
back. :class:`BarLayout` does both directions for an encoding with bars (see
:meth:`musicgen.tokens.base.Tokenizer.layout`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from musicgen.tokens.config import CONTROL_KINDS, Kind


@dataclass
class Bar:
    """One bar: its opening (BAR and a TIME_SIGNATURE) and each track's part."""

    opening: list[int]
    parts: list[tuple[int, list[int]]] = field(default_factory=list)  # (track, tokens after TRACK(track))


class BarLayout:
    """Parses token sequences of a bar encoding into header and bars, and writes them back."""

    def __init__(self, tokenizer: Any) -> None:
        """``tokenizer``: a :class:`~musicgen.tokens.base.Tokenizer` with bars (this module sits
        below it: the contract returns a layout)."""
        self.kinds = tokenizer.kinds
        self.values = tokenizer.values
        self.track_offset = tokenizer.offset(Kind.TRACK)
        self.bar_id = tokenizer.id_of(Kind.BAR)
        self.fill, self.fill_start, self.fill_end = (tokenizer.id_of(kind) for kind in
                                                     (Kind.FILL, Kind.FILL_START, Kind.FILL_END))
        self.bos_id, self.eos_id = tokenizer.bos_id, tokenizer.eos_id
        self.is_control = np.isin(self.kinds, [int(kind) for kind in CONTROL_KINDS])  # per token id

    def parse(self, tokens: np.ndarray) -> tuple[list[int], list[int], list[Bar]]:
        """``(controls, programs, bars)`` of a sequence (its last bar may be cut short)."""
        tokens = np.asarray(tokens)
        kinds = self.kinds[tokens]
        controls = tokens[self.is_control[tokens]].tolist()
        programs = tokens[kinds == Kind.PROGRAM].tolist()
        kept = (kinds != Kind.EOS) & (kinds != Kind.PAD)
        tokens, kinds = tokens[kept], kinds[kept]
        starts = np.flatnonzero(kinds == Kind.BAR)
        tracks = np.flatnonzero(kinds == Kind.TRACK)
        bars: list[Bar] = []
        for start, end in zip(starts.tolist(), [*starts[1:].tolist(), len(tokens)], strict=True):
            inside = tracks[(tracks > start) & (tracks < end)].tolist()
            opening_end = inside[0] if inside else end
            opening = [int(tokens[start])] + [int(t) for t, kind in zip(tokens[start + 1:opening_end],
                                                                        kinds[start + 1:opening_end], strict=True)
                                              if kind == Kind.TIME_SIGNATURE]
            bar = Bar(opening)
            for position, following in zip(inside, [*inside[1:], end][:len(inside)], strict=True):
                bar.parts.append((int(self.values[tokens[position]]), tokens[position + 1:following].tolist()))
            bars.append(bar)
        return controls, programs, bars

    def write(self, controls: list[int], programs: list[int], bars: list[Bar], ending: list[int]) -> list[int]:
        """The tokens of a header and bars (and ``ending``: EOS, or nothing for a cut window)."""
        tokens = [self.bos_id, *controls, *programs]
        for bar in bars:
            tokens.extend(bar.opening)
            for track, part in bar.parts:
                tokens.append(self.track_offset + track)
                tokens.extend(part)
        return tokens + ending

    def restated(self, bars: list[Bar], first: int) -> list[Bar]:
        """``bars[first:]``, the first of them opening with the meter in force there (its own, or
        the last one an earlier bar stated)."""
        kept = list(bars[first:])
        if not kept or len(kept[0].opening) > 1:
            return kept
        earlier = [bar.opening[1] for bar in bars[:first] if len(bar.opening) > 1]
        if earlier:
            kept[0] = Bar([*kept[0].opening, earlier[-1]], kept[0].parts)
        return kept

    def bars_alone(self, bars: list[Bar]) -> list[int]:
        """The tokens of ``bars`` without a header or BOS (to follow a sequence already begun)."""
        return self.write([], [], bars, [])[1:]
