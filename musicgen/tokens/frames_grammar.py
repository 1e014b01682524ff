"""The grammar of the ``frames`` encoding: one token sequence per sequence of frames.

A piece is ``BOS frame+ EOS`` and a frame is its sounding pitches in ascending order, then
``FRAME_END``. So:

- after BOS: any PITCH, or FRAME_END (a silent frame); not EOS (a piece has a frame);
- after PITCH(p): PITCH(q) with q > p, or FRAME_END; not EOS (the frame is not closed);
- after FRAME_END: any PITCH, FRAME_END or EOS;
- after EOS (and PAD after the start): only PAD.

What may come next depends on the previous token alone, so the whole grammar is one table,
``allowed[previous, next]`` (:attr:`FrameTables.table`, with a last row for the state
before BOS). Because a set of pitches has one ascending order and every frame is closed,
each frame sequence has exactly one token sequence, and under this mask the probabilities
of the frames that may follow a history sum to one over all ``2 ** 88`` subsets of the
keys (:meth:`FrameTables.scoring_mask` also removes EOS, the end of the piece, which is
not a frame). :class:`FrameRules` is the table as the grammar's rules, run in NumPy (the checker) and in
TensorFlow (the compiled sampler) alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from musicgen.tokens.config import Kind
from musicgen.tokens.grammar import Rules


@dataclass(frozen=True)
class FrameTables:
    """The vocabulary's ``kinds`` and ``values`` and the grammar's table of what may follow what."""

    kinds: np.ndarray
    values: np.ndarray
    pad_id: int
    bos_id: int
    eos_id: int
    frame_end_id: int
    table: np.ndarray  # (vocab + 1, vocab) booleans: row = previous token (the last row: nothing fed yet)

    @classmethod
    def from_tokenizer(cls, tokenizer: Any) -> FrameTables:
        """The tables of a frames tokenizer (anything with ``kinds``, ``values`` and the special ids)."""
        kinds = np.asarray(tokenizer.kinds, np.int64)
        values = np.asarray(tokenizer.values, np.int64)
        vocab = len(kinds)
        frame_end = int(np.flatnonzero(kinds == Kind.FRAME_END)[0])
        is_pitch = kinds == Kind.PITCH
        table = np.zeros((vocab + 1, vocab), bool)
        table[vocab, tokenizer.bos_id] = True  # before anything: BOS
        opening = is_pitch.copy()
        opening[frame_end] = True
        table[tokenizer.bos_id] = opening
        table[frame_end] = opening
        table[frame_end, tokenizer.eos_id] = True
        for token in np.flatnonzero(is_pitch):
            table[token] = is_pitch & (values > values[token])
            table[token, frame_end] = True
        table[tokenizer.eos_id, tokenizer.pad_id] = True
        table[tokenizer.pad_id, tokenizer.pad_id] = True
        return cls(kinds, values, tokenizer.pad_id, tokenizer.bos_id, tokenizer.eos_id, frame_end, table)

    @property
    def vocab_size(self) -> int:
        return len(self.kinds)

    @property
    def start_row(self) -> int:
        """The table's row for the state before BOS."""
        return len(self.kinds)

    def scoring_mask(self, ids: Any) -> tuple[np.ndarray, np.ndarray]:
        """For teacher-forced scoring of ``ids`` (BOS to EOS): ``(allowed, counted)``.

        ``allowed[t]`` (booleans over the vocabulary) is what may be token ``t + 1`` given
        tokens ``..t``, with EOS removed: the piece is known to go on until its last frame, so
        the tokens of the frames that may follow make one distribution over frames.
        ``counted[t]`` says token ``t + 1`` belongs to a frame (a PITCH or a FRAME_END), not
        to the end of the piece (EOS) or padding.
        """
        ids = np.asarray(ids, np.int64).reshape(-1)
        previous = np.clip(ids[:-1], 0, self.vocab_size - 1)
        allowed = self.table[previous].copy()
        allowed[:, self.eos_id] = False
        targets = np.clip(ids[1:], 0, self.vocab_size - 1)
        counted = np.isin(self.kinds[targets], [int(Kind.PITCH), int(Kind.FRAME_END)]) & (ids[1:] == targets)
        return allowed, counted


class FrameRules(Rules):
    """The frames grammar, written once: the state is the previous token's row of the table, the
    frames generated (``elapsed``), ``started`` and ``ended``."""

    def setup(self) -> None:
        self.frames = FrameTables.from_tokenizer(self.tokenizer)
        self.table = self.const(self.frames.table)
        self.frame_ends = self.const((self.kinds == Kind.FRAME_END).astype(np.int32))

    def initial_state(self, batch: Any) -> dict:
        zeros = self.x.full(batch, 0, self.x.int32)
        return {"row": zeros + self.frames.start_row, "elapsed": zeros, "started": zeros > 0, "ended": zeros > 0}

    def allowed(self, state: dict, params: dict) -> Any:
        return self.x.take(self.table, state["row"]) & (params["allowed"] | state["ended"][:, None])

    def update(self, state: dict, tokens: Any, params: dict, count_time: Any = True) -> dict:
        x = self.x
        tokens = x.cast(tokens, x.int32)
        started = state["row"] != self.frames.start_row
        ended = state["ended"] | (tokens == self.eos_id) | ((tokens == self.pad_id) & started)
        frames = x.take(self.frame_ends, tokens)
        return {"row": tokens, "elapsed": state["elapsed"] + x.where(count_time, frames, frames * 0),
                "started": state["started"] | (tokens == self.bos_id), "ended": ended}

    def closing_tokens(self, state: dict) -> list[int]:
        """Close the open frame (if any), then end the piece."""
        if state["ended"][0] or not state["started"][0]:
            return []
        if int(state["row"][0]) == self.frames.frame_end_id:
            return [self.eos_id]
        return [self.frames.frame_end_id, self.eos_id]
