"""Training-time edits of notes-encoding windows: controls left out, tracks reordered, holes filled.

A window is a piece's header and some of its bars (:mod:`musicgen.data.bar_windows`). Three
edits teach the model what steering needs:

- **Control dropout.** Each control token (STYLE, KEY, DENSITY, TEMPO) of the header is
  left out with probability ``control_dropout``, so any control may be unset when sampling.
- **Track order.** With probability ``shuffle_tracks`` the header's tracks are put in a
  random order (each bar's track parts follow it), so a given track can come first in every
  bar. Accompaniment relies on that: the given tracks are written first in each bar, ahead
  of the tracks the model writes (the anticipation idea at the scale of a bar).
- **Fill in the middle.** With probability ``infill`` a window becomes an infilling example:
  one to four of its bars lose the parts of every track, or of one track, each part
  replaced by ``TRACK(t) FILL``; the window's other bars stay as context on both sides;
  then come ``FILL_START``, the missing bars with only the filled tracks, and ``FILL_END``.
  A left-to-right model then learns to write a middle that joins both sides.

The edits use the window's own tokens only, and random numbers from the caller's generator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from musicgen.tokens.base import CONTROL_KINDS, Kind

MAX_HOLE_BARS = 4


@dataclass
class Bar:
    """One bar of a window: its opening (BAR and a TIME_SIGNATURE) and each track's part."""

    opening: list[int]
    parts: list[tuple[int, list[int]]] = field(default_factory=list)  # (track, tokens after TRACK(track))


class WindowEditor:
    """Parses notes-encoding windows into header and bars, edits them, and writes them back."""

    def __init__(self, tokenizer: Any, control_dropout: float = 0.0, shuffle_tracks: float = 0.0,
                 infill: float = 0.0) -> None:
        self.kinds = tokenizer.kinds
        self.values = tokenizer.values
        self.track_offset = tokenizer.offset(Kind.TRACK)
        self.fill, self.fill_start, self.fill_end = (tokenizer.id_of(kind) for kind in
                                                     (Kind.FILL, Kind.FILL_START, Kind.FILL_END))
        self.bos_id, self.eos_id = tokenizer.bos_id, tokenizer.eos_id
        self.control_dropout, self.shuffle_tracks, self.infill = control_dropout, shuffle_tracks, infill
        self._is_control = np.isin(self.kinds, [int(kind) for kind in CONTROL_KINDS])  # per token id

    @property
    def active(self) -> bool:
        return bool(self.control_dropout or self.shuffle_tracks or self.infill)

    def parse(self, tokens: np.ndarray) -> tuple[list[int], list[int], list[Bar]]:
        """``(controls, programs, bars)`` of a window (its last bar may be cut short)."""
        tokens = np.asarray(tokens)
        kinds = self.kinds[tokens]
        controls = tokens[self._is_control[tokens]].tolist()
        programs = tokens[kinds == Kind.PROGRAM].tolist()
        kept = (kinds != Kind.EOS) & (kinds != Kind.PAD)
        tokens, kinds = tokens[kept], kinds[kept]
        starts = np.flatnonzero(kinds == Kind.BAR)
        is_track = kinds == Kind.TRACK
        tracks = np.flatnonzero(is_track)
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

    def edit(self, window: np.ndarray, rng: np.random.Generator, width: int) -> np.ndarray:
        """The window edited (at most ``width`` tokens; the rest of the row is PAD)."""
        kinds = self.kinds[window]
        is_control = self._is_control[window]
        drop = is_control & (rng.random(len(window)) < self.control_dropout)
        shuffle = rng.random() < self.shuffle_tracks and np.count_nonzero(kinds == Kind.PROGRAM) > 1
        fill = rng.random() < self.infill
        if not (shuffle or fill):  # the common case: only controls left out, no parse needed
            return window[~drop] if drop.any() else window
        controls, programs, bars = self.parse(window)
        if not bars:
            return window
        ended = int(window[-1]) == self.eos_id
        dropped = set(window[drop].tolist())
        controls = [token for token in controls if token not in dropped]
        if shuffle:
            programs, bars = self._shuffle(programs, bars, rng)
        if fill:
            example = self._fill_in_the_middle(controls, programs, bars if ended else bars[:-1], rng, width)
            if example is not None:
                return np.asarray(example, np.int32)
        return np.asarray(self.write(controls, programs, bars, [self.eos_id] if ended else [])[:width], np.int32)

    def _shuffle(self, programs: list[int], bars: list[Bar], rng: np.random.Generator) -> tuple[list, list]:
        order = rng.permutation(len(programs))  # the new index of each track
        new_programs = [0] * len(programs)
        for old, new in enumerate(order.tolist()):
            new_programs[new] = programs[old]
        for bar in bars:
            bar.parts = sorted(((int(order[track]) if track < len(order) else track, part)
                                for track, part in bar.parts), key=lambda item: item[0])
        return new_programs, bars

    def _fill_in_the_middle(self, controls: list[int], programs: list[int], bars: list[Bar],
                            rng: np.random.Generator, width: int) -> list[int] | None:
        if len(bars) < 2:
            return None
        length = int(rng.integers(1, min(MAX_HOLE_BARS, len(bars) - 1) + 1))
        first = int(rng.integers(0, len(bars) - length + 1))
        holes = range(first, first + length)
        playing = sorted({track for index in holes for track, _ in bars[index].parts})
        if not playing:
            return None
        targets = list(range(len(programs))) if rng.random() < 0.5 else [int(rng.choice(playing))]
        context, fills = [], []
        for index, bar in enumerate(bars):
            if index not in holes:
                context.append(bar)
                continue
            kept = [(track, part) for track, part in bar.parts if track not in targets]
            context.append(Bar(bar.opening, sorted(kept + [(track, [self.fill]) for track in targets])))
            fills.append(Bar(bar.opening, [(track, part) for track, part in bar.parts if track in targets]))
        filled = self.write([], [], fills, [])[1:]  # the bars alone, without BOS
        while True:
            tokens = self.write(controls, programs, context, [self.fill_start]) + filled + [self.fill_end]
            if len(tokens) <= width:
                return tokens
            # Too long: give up context, from the side with more of it.
            before, after = first, len(context) - first - length
            if before == after == 0:
                return None
            if before >= after:
                context.pop(0)
                first -= 1
            else:
                context.pop()
