"""A third encoding, written as a plugin is: one module, registered by defining its class.

``melody`` keeps a piece's top line on the beat grid: ``BOS (TIME_SHIFT* PITCH DURATION)* EOS``,
a rest before each note and the note's length in grid steps. It implements
:class:`musicgen.tokens.base.Tokenizer`'s contract and nothing else, and the tests run it
through the library (windows, training, the compiled sampler, files) without the library
knowing its name.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from musicgen.music.piece import Piece, Track
from musicgen.tokens.base import Tokenizer
from musicgen.tokens.config import Kind
from musicgen.tokens.grammar import Constraints, Grammar, Rules

START, OPEN, PITCHED, ENDED = range(4)


class MelodyTokenizer(Tokenizer, encoding="melody"):
    """The top line as (rest, pitch, duration) on a grid of ``steps_per_quarter``."""

    def sections(self) -> list[tuple[Kind, Any]]:
        c = self.config
        steps = np.arange(1, c.max_shift_steps + 1)
        return [(Kind.PAD, [0]), (Kind.BOS, [0]), (Kind.EOS, [0]), (Kind.TIME_SHIFT, steps),
                (Kind.PITCH, np.arange(c.min_pitch, c.max_pitch + 1)), (Kind.DURATION, steps)]

    def encode_piece(self, piece: Piece) -> np.ndarray:
        piece = self.prepare(piece)
        notes = piece.notes[np.argsort(-piece.notes[:, 2], kind="stable")]  # highest first at an onset
        start, end = self.to_steps(piece, notes[:, 0]), self.to_steps(piece, notes[:, 1])
        ids, cursor, longest = [self.bos_id], 0, self.config.max_shift_steps
        for onset in sorted(set(start.tolist())):
            if onset < cursor:
                continue
            top = int(np.flatnonzero(start == onset)[0])
            for rest in _chunks(onset - cursor, longest):
                ids.append(self.id_of(Kind.TIME_SHIFT, rest))
            following = start[start > onset]
            stop = min(int(end[top]), int(following.min()) if len(following) else int(end[top]))
            length = int(np.clip(stop - onset, 1, longest))
            ids += [self.id_of(Kind.PITCH, int(notes[top, 2])), self.id_of(Kind.DURATION, length)]
            cursor = onset + length
        return np.asarray([*ids, self.eos_id], np.int32)

    def decode_notes(self, ids: Any, program: int | None = None) -> list[tuple[int, int, int, int, int]]:
        notes, step, pitch = [], 0, None
        for token in np.asarray(ids).reshape(-1).tolist():
            if not 0 <= token < self.vocab_size:
                continue
            kind, value = self.kinds[token], int(self.values[token])
            if kind == Kind.EOS:
                break
            if kind == Kind.TIME_SHIFT:
                step += value
            elif kind == Kind.PITCH:
                pitch = value
            elif kind == Kind.DURATION and pitch is not None:
                notes.append((step, step + value, pitch, 80, program or 0))
                step, pitch = step + value, None
        return notes

    def decode_piece(self, ids: Any, tempo: float | None = None, time_signature: tuple[int, int] | None = None,
                     program: int | None = None, track_names: dict[int, str] | None = None) -> Piece:
        tempo = self.config.default_tempo if tempo is None else tempo
        scale = self.step_beats(tempo)
        rows = [(s * scale, e * scale, p, v, 0) for s, e, p, v, _ in self.decode_notes(ids)]
        return Piece(np.array(rows, np.float64).reshape(-1, 5), (Track(program or 0, (track_names or {}).get(0, "")),),
                     ((0.0, *(time_signature or (4, 4))),), ((0.0, float(tempo)),))

    def grammar(self, constraints: Constraints | None = None) -> Grammar:
        return Grammar(self, MelodyRules, constraints)

    def track_programs(self, ids: Any) -> list[int]:
        return [0]


def _chunks(steps: int, longest: int) -> list[int]:
    return [longest] * (steps // longest) + ([steps % longest] if steps % longest else [])


def _next_phase(kind: int) -> int:
    return {Kind.BOS: OPEN, Kind.TIME_SHIFT: OPEN, Kind.PITCH: PITCHED, Kind.DURATION: OPEN}.get(kind, ENDED)


class MelodyRules(Rules):
    """The melody grammar, written once: a rest or a pitch, a duration after each pitch, EOS after a note."""

    def setup(self) -> None:
        kinds = self.kinds
        table = np.zeros((4, self.vocab_size), bool)
        table[START] = kinds == Kind.BOS
        table[OPEN] = np.isin(kinds, [Kind.TIME_SHIFT, Kind.PITCH, Kind.EOS])
        table[PITCHED] = kinds == Kind.DURATION
        table[ENDED] = kinds == Kind.PAD
        self.table = self.const(table)
        self.next = self.const(np.array([_next_phase(kind) for kind in kinds], np.int32))
        self.is_eos = self.const(kinds == Kind.EOS)
        self.kind_of = self.const(kinds.astype(np.int32))
        self.steps = self.const(np.where(np.isin(kinds, [Kind.TIME_SHIFT, Kind.DURATION]), self.values, 0)
                                .astype(np.int32))

    def initial_state(self, batch: Any) -> dict:
        zeros = self.x.full(batch, 0, self.x.int32)
        return {"phase": zeros + START, "notes": zeros, "elapsed": zeros, "started": zeros > 0, "ended": zeros > 0}

    def allowed(self, state: dict, params: dict) -> Any:
        allowed = self.x.take(self.table, state["phase"])
        return allowed & (~self.is_eos | (state["notes"] > 0)[:, None]) & (params["allowed"] | state["ended"][:, None])

    def update(self, state: dict, tokens: Any, params: dict, count_time: Any = True) -> dict:
        x = self.x
        tokens = x.cast(tokens, x.int32)
        kinds, steps = x.take(self.kind_of, tokens), x.take(self.steps, tokens)
        ended = state["ended"] | (kinds == int(Kind.EOS)) | ((kinds == int(Kind.PAD)) & (state["phase"] != START))
        return {"phase": x.where(ended, ENDED, x.take(self.next, tokens)),
                "notes": state["notes"] + x.cast(kinds == int(Kind.DURATION), x.int32),
                "elapsed": state["elapsed"] + x.where(count_time, steps, steps * 0),
                "started": state["started"] | (kinds == int(Kind.BOS)), "ended": ended}

    def closing_tokens(self, state: dict) -> list[int]:
        phase, notes = int(state["phase"][0]), int(state["notes"][0])
        if phase == PITCHED:
            return [self.tokenizer.offset(Kind.DURATION), self.eos_id]
        return [self.eos_id] if phase == OPEN and notes else []
