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
not a frame). :class:`FrameChecker` is the table in Python, :class:`FrameMasker` in
TensorFlow for the compiled sampler.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from musicgen.tokens.config import Kind


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


class FrameChecker:
    """The frames grammar for one sequence, token by token."""

    forced = False  # the model, not the grammar, always chooses

    def __init__(self, tables: FrameTables) -> None:
        self.tables = tables
        self.row = tables.start_row
        self.ended = False
        self.frames = 0

    @property
    def started(self) -> bool:
        return self.row != self.tables.start_row

    def allowed(self, token: int) -> bool:
        """Whether ``token`` may come next."""
        return bool(0 <= token < self.tables.vocab_size and self.tables.table[self.row, token])

    def allowed_mask(self) -> np.ndarray:
        """:meth:`allowed` of every token, as booleans over the vocabulary."""
        return self.tables.table[self.row].copy()

    def feed(self, token: int, check: bool = True) -> None:
        """Advance past ``token``; ``ValueError`` if it may not come here (and ``check``)."""
        if check and not self.allowed(token):
            name = Kind(int(self.tables.kinds[token])).name if 0 <= token < self.tables.vocab_size else "out of range"
            raise ValueError(f"token {token} ({name}) is not allowed here")
        tables = self.tables
        self.ended = self.ended or token == tables.eos_id or (token == tables.pad_id and self.started)
        self.frames += int(token == tables.frame_end_id)
        self.row = token

    def closing_tokens(self) -> list[int]:
        """Close the open frame (if any), then end the piece."""
        if self.ended or not self.started:
            return []
        if self.row == self.tables.frame_end_id:
            return [self.tables.eos_id]
        return [self.tables.frame_end_id, self.tables.eos_id]


class FrameMasker:
    """The frames grammar as tensors for a batch: the state is the previous token's table row,
    the frames generated (``elapsed``) and ``ended``."""

    def __init__(self, tables: FrameTables) -> None:
        import tensorflow as tf

        self.tables = tables
        self.table = tf.constant(tables.table)
        self.frame_ends = tf.constant((tables.kinds == Kind.FRAME_END).astype(np.int32))

    def initial_state(self, batch_size: Any) -> dict:
        """The state before BOS."""
        import tensorflow as tf

        zeros = tf.zeros(tf.reshape(batch_size, [1]), tf.int32)
        return {"row": zeros + self.tables.start_row, "elapsed": zeros, "ended": tf.cast(zeros, tf.bool)}

    def allowed(self, state: dict) -> Any:
        """``(batch, vocab)`` booleans: the tokens that may come next."""
        import tensorflow as tf

        return tf.gather(self.table, state["row"])

    def update(self, state: dict, tokens: Any, count_time: Any = True) -> dict:
        """The state after ``tokens``; a FRAME_END counts one frame unless ``count_time`` is false."""
        import tensorflow as tf

        tokens = tf.cast(tokens, tf.int32)
        started = state["row"] != self.tables.start_row
        ended = state["ended"] | tf.equal(tokens, self.tables.eos_id) | (tf.equal(tokens, self.tables.pad_id) & started)
        frames = tf.gather(self.frame_ends, tokens)
        return {"row": tokens, "elapsed": state["elapsed"] + tf.where(count_time, frames, tf.zeros_like(frames)),
                "ended": ended}

    def limit(self, state: dict, allowed: Any, bar_limit: Any, every_track: Any = False) -> Any:
        """``allowed`` as it is: frames have no bars and no tracks."""
        return allowed

    def rewrite(self, state: dict, tokens: Any, bar_limit: Any) -> Any:
        """Sampled tokens as they are: frames have no bars."""
        return tokens

    def drums(self, state: dict) -> Any:
        """``(batch,)``: never: a piano roll has no drum track."""
        import tensorflow as tf

        return tf.zeros_like(state["ended"])

    def forced(self, state: dict) -> Any:
        """``(batch,)``: never: the grammar forces no kind of token."""
        return self.drums(state)
