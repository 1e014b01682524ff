"""Sequences without bars: what windows, prompts, primers and time limits are for a stream of events.

:class:`StreamSequences` holds the :class:`~musicgen.tokens.base.Tokenizer` contract's structure
methods as an encoding without bars answers them (the events and frames encodings): training
windows start anywhere, a prompt is BOS alone (no header to ask anything of), ``--bars`` and
``--seconds`` become grid steps, and a primer's continuation starts where its last note ends. An
encoding with bars mixes in :class:`musicgen.tokens.bars.BarSequences` instead, which overrides
them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from musicgen.errors import ConfigError

if TYPE_CHECKING:
    from musicgen.music.piece import Piece


class StreamSequences:
    """The structure of sequences without bars (see the module docstring)."""

    def bar_starts(self, ids: Any) -> np.ndarray:
        """The positions in ``ids`` where a bar opens (where a training window may start under
        the header); empty for an encoding without bars."""
        return np.zeros(0, np.int64)

    def restate(self, ids: Any, start: int) -> np.ndarray:
        """``ids[start:]`` (``start`` a bar start) as a piece's continuation that reads on its own
        under the piece's header: the bar restates what was said before it (its meter)."""
        return np.asarray(ids)[start:]

    def whole_prefix(self, ids: Any) -> int:
        """How much of a sequence that ran out of length to keep: all of it, or (an encoding with
        bars) up to its last BAR, so that an unfinished bar is not written out."""
        return len(ids)

    def fit_meters(self, ids: Any, allowed: np.ndarray | None = None) -> np.ndarray:
        """Sampled ``ids`` stating the meters their bars play (an encoding with meters; ``allowed``
        limits them to a model's tokens); unchanged where they already do."""
        return np.asarray(ids)

    def bar_lines(self, ids: Any, tempo: float | None = None) -> list[float]:
        """The bar lines of ``ids`` in beats (each bar's start, then the end of the last); empty
        for an encoding without bars."""
        return []

    def prompt(self, controls: list[int] | None = None, programs: list[int] | None = None) -> np.ndarray:
        """The tokens a new piece starts from: BOS, and (an encoding that takes controls) the
        asked control tokens and one track per program in ``programs``."""
        if controls or programs:
            raise ConfigError(f"the {self.encoding} encoding takes no controls or instruments; "
                              "train a model in the notes encoding to steer it")
        return np.array([self.bos_id], np.int32)

    def time_limits(self, prompt: np.ndarray, bars: float | None, seconds: float | None,
                    meter: tuple[int, int], tempo: float) -> tuple[int | None, int | None]:
        """``(grid steps, bars)`` of new music after ``prompt`` that ``bars`` or ``seconds`` allow
        (None: no limit): here grid steps, since this encoding has no bars."""
        if bars is None and seconds is None:
            return None, None
        numerator, denominator = meter
        config = self.config
        if config.timing == "seconds":
            seconds = seconds if seconds is not None else bars * numerator * 4 / denominator * 60 / tempo
            return max(1, round(seconds * config.steps_per_second)), None
        beats = bars * numerator * 4 / denominator if bars is not None else seconds * tempo / 60
        return max(1, round(beats * config.steps_per_quarter)), None

    def primer(self, piece: Piece, controls: list[int] | None = None) -> np.ndarray:
        """The tokens that prime a continuation of ``piece`` (BOS first, no EOS); ``controls``
        replace the piece's own where the encoding has a header."""
        ids = np.asarray(self.encode_piece(piece), np.int32)
        return ids[:-1] if len(ids) and ids[-1] == self.eos_id else ids

    def continuation_start(self, piece: Piece, bar_starts: list[float]) -> float:
        """Where new music after ``piece`` (whose bar lines are ``bar_starts``) begins, in beats."""
        return piece.end_beat

    def decode_continuation(self, prefix: np.ndarray, new: np.ndarray, tempo: float) -> Piece:
        """The new music alone, from the tokens sampled after ``prefix``, starting at beat 0."""
        programs = prefix[self.roles.program[prefix]]
        program = int(self.values[programs[-1]]) if len(programs) else None
        return self.decode_piece(new, tempo=tempo, program=program)

    def chord_plan(self, progression: str, meter: tuple[int, int] = (4, 4)) -> np.ndarray:
        """A progression as each bar's harmony tokens, for a chord plan (an encoding with chords)."""
        raise ConfigError(f"the {self.encoding} encoding writes no chords; --chords needs a model in the notes encoding "
                          "trained with chords")

    def grid_tokens(self) -> np.ndarray:
        """Booleans over the vocabulary: the tokens that keep notes on the grid of sixteenths and
        triplet eighths (for ``--quantize``); an encoding without such tokens keeps every one."""
        return np.ones(self.vocab_size, bool)

    def writable_tokens(self, meter: tuple[int, int] | None = None) -> np.ndarray:
        """Booleans over the vocabulary: the tokens a new piece may be sampled with (all of them here;
        ``meter``, where an encoding states meters, keeps it to that one)."""
        return np.ones(self.vocab_size, bool)
