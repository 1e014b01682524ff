"""Training-time edits of windows of an editable encoding (the notes encoding): controls left out, tracks reordered, holes filled.

A window is a piece's header and some of its bars (:mod:`musicgen.data.bar_windows`). Three
edits teach the model what steering needs:

- **Control dropout.** Each control token (STYLE, KEY, DENSITY, TEMPO, ...) of the header is
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

from typing import TYPE_CHECKING

import numpy as np

from musicgen.tokens.bars import Bar

if TYPE_CHECKING:
    from musicgen.tokens import Tokenizer

MAX_HOLE_BARS = 4


class WindowEditor:
    """Edits windows of an encoding with bars (see the module docstring), through its
    :class:`~musicgen.tokens.bars.BarLayout`."""

    def __init__(self, tokenizer: Tokenizer, control_dropout: float = 0.0, shuffle_tracks: float = 0.0,
                 infill: float = 0.0) -> None:
        self.layout = tokenizer.layout()
        self.control_dropout, self.shuffle_tracks, self.infill = control_dropout, shuffle_tracks, infill

    @property
    def active(self) -> bool:
        return bool(self.control_dropout or self.shuffle_tracks or self.infill)

    def edit(self, window: np.ndarray, rng: np.random.Generator, width: int) -> np.ndarray:
        """The window edited (at most ``width`` tokens; the rest of the row is PAD)."""
        is_control = self.layout.is_control[window]
        drop = is_control & (rng.random(len(window)) < self.control_dropout)
        shuffle = rng.random() < self.shuffle_tracks and np.count_nonzero(self.layout.is_program[window]) > 1
        fill = rng.random() < self.infill
        if not (shuffle or fill):  # the common case: only controls left out, no parse needed
            return window[~drop] if drop.any() else window
        controls, programs, bars = self.layout.parse(window)
        if not bars:
            return window
        ended = int(window[-1]) == self.layout.eos_id
        dropped = set(window[drop].tolist())
        controls = [token for token in controls if token not in dropped]
        if shuffle:
            programs, bars = self._shuffle(programs, bars, rng)
        if fill:
            example = self._fill_in_the_middle(controls, programs, bars if ended else bars[:-1], rng, width)
            if example is not None:
                return np.asarray(example, np.int32)
        return np.asarray(self.layout.write(controls, programs, bars, [self.layout.eos_id] if ended else [])[:width], np.int32)

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
            context.append(Bar(bar.opening, sorted(kept + [(track, [self.layout.fill]) for track in targets]),
                               bar.harmony))
            fills.append(Bar(bar.opening, [(track, part) for track, part in bar.parts if track in targets]))
        filled = self.layout.write([], [], fills, [])[1:]  # the bars alone, without BOS
        while True:
            tokens = self.layout.write(controls, programs, context, [self.layout.fill_start]) + filled + [self.layout.fill_end]
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
