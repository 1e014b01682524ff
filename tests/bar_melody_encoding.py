"""A fourth encoding, with bars but no tracks, written as a plugin is: one module.

``barmelody`` keeps a piece's top line in 4/4 bars on the beat grid::

    BOS  BAR  (POSITION PITCH DURATION)*  BAR ...  EOS

POSITION is the onset's step in its bar, PITCH and DURATION the note. It has bars (so windows
start at bars, ``--bars N`` counts them and a primer's continuation starts a bar of its own:
:class:`musicgen.tokens.bars.BarSequences`) but no tracks, instruments or controls, so it cannot
be edited bar by bar or steered. The tests run it through the unchanged library.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from musicgen.music.piece import Piece, Track
from musicgen.tokens.bars import BarSequences
from musicgen.tokens.base import Tokenizer
from musicgen.tokens.config import Kind
from musicgen.tokens.grammar import Constraints, Grammar, Rules, interval_mask

START, OPEN, PLACED, PITCHED, ENDED = range(5)


class BarMelodyTokenizer(BarSequences, Tokenizer, encoding="barmelody"):
    """The top line in 4/4 bars (see the module docstring)."""

    def sections(self) -> list[tuple[Kind, Any]]:
        c = self.config
        self.bar_steps = 4 * c.steps_per_quarter
        return [(Kind.PAD, [0]), (Kind.BOS, [0]), (Kind.EOS, [0]), (Kind.BAR, [0]),
                (Kind.POSITION, np.arange(self.bar_steps)), (Kind.PITCH, np.arange(c.min_pitch, c.max_pitch + 1)),
                (Kind.DURATION, np.arange(1, self.bar_steps + 1))]

    def encode_piece(self, piece: Piece) -> np.ndarray:
        piece = self.prepare(piece)
        notes = piece.notes[np.lexsort((-piece.notes[:, 2], piece.notes[:, 0]))]  # by onset, highest first
        start, end = self.to_steps(piece, notes[:, 0]), self.to_steps(piece, notes[:, 1])
        keep = np.append(True, start[1:] != start[:-1]) if len(start) else np.zeros(0, bool)
        start, end, pitch = start[keep], end[keep], notes[keep, 2].astype(int)
        ids, bar = [self.bos_id], -1
        for index, onset in enumerate(start.tolist()):
            while bar < onset // self.bar_steps:
                ids.append(self.id_of(Kind.BAR))
                bar += 1
            following = int(start[index + 1]) if index + 1 < len(start) else int(end[index])
            length = int(np.clip(min(int(end[index]), following) - onset, 1, self.bar_steps))
            ids += [self.id_of(Kind.POSITION, onset % self.bar_steps), self.id_of(Kind.PITCH, int(pitch[index])),
                    self.id_of(Kind.DURATION, length)]
        return np.asarray([*ids, self.eos_id], np.int32)

    def decode_notes(self, ids: Any, program: int | None = None) -> list[tuple[int, int, int, int, int]]:
        notes, bar, position, pitch = [], -1, 0, None
        for token in np.asarray(ids).reshape(-1).tolist():
            if not 0 <= token < self.vocab_size:
                continue
            kind, value = self.kinds[token], int(self.values[token])
            if kind == Kind.EOS:
                break
            if kind == Kind.BAR:
                bar += 1
            elif kind == Kind.POSITION:
                position = value
            elif kind == Kind.PITCH:
                pitch = value
            elif kind == Kind.DURATION and pitch is not None and bar >= 0:
                onset = bar * self.bar_steps + position
                notes.append((onset, onset + value, pitch, 80, program or 0))
                pitch = None
        end = (bar + 1) * self.bar_steps  # no note outlasts the last bar
        return [(start, min(stop, end), pitch, velocity, track) for start, stop, pitch, velocity, track in notes]

    def decode_piece(self, ids: Any, tempo: float | None = None, time_signature: tuple[int, int] | None = None,
                     program: int | None = None, track_names: dict[int, str] | None = None) -> Piece:
        tempo = self.config.default_tempo if tempo is None else tempo
        scale = self.step_beats(tempo)
        rows = [(s * scale, e * scale, p, v, 0) for s, e, p, v, _ in self.decode_notes(ids)]
        return Piece(np.array(rows, np.float64).reshape(-1, 5), (Track(program or 0, (track_names or {}).get(0, "")),),
                     ((0.0, 4, 4),), ((0.0, float(tempo)),))

    def bar_lines(self, ids: Any, tempo: float | None = None) -> list[float]:
        bars = len(self.bar_starts(np.asarray(ids)))
        return [index * 4.0 for index in range(bars + 1)] if bars else []

    def grammar(self, constraints: Constraints | None = None) -> Grammar:
        return Grammar(self, BarMelodyRules, constraints)

    def track_programs(self, ids: Any) -> list[int]:
        return [0]


class BarMelodyRules(Rules):
    """The grammar, written once: bars of (POSITION PITCH DURATION) notes with rising positions;
    under a bar limit, the BAR past it becomes EOS."""

    def setup(self) -> None:
        kinds = self.kinds
        table = np.zeros((ENDED + 1, self.vocab_size), bool)
        table[START] = kinds == Kind.BOS
        table[OPEN] = np.isin(kinds, [Kind.BAR, Kind.POSITION, Kind.EOS])
        table[PLACED] = kinds == Kind.PITCH
        table[PITCHED] = kinds == Kind.DURATION
        table[ENDED] = kinds == Kind.PAD
        following = {Kind.BOS: OPEN, Kind.BAR: OPEN, Kind.POSITION: PLACED, Kind.PITCH: PITCHED, Kind.DURATION: OPEN}
        self.table = self.const(table)
        self.next = self.const(np.array([following.get(Kind(kind), ENDED) for kind in kinds], np.int32))
        self.kind_of = self.const(kinds.astype(np.int32))
        self.value_of = self.const(self.values.astype(np.int32))
        slots = np.zeros(self.vocab_size, np.int32)
        slots[kinds == Kind.EOS], slots[kinds == Kind.POSITION], slots[kinds == Kind.BAR] = 1, 2, 3
        self.slots, self.ordinals = self.const(slots), self.const(self.values.astype(np.int32))
        self.bar_id = self.tokenizer.id_of(Kind.BAR)

    def initial_state(self, batch: Any) -> dict:
        zeros = self.x.full(batch, 0, self.x.int32)
        return {"phase": zeros + START, "position": zeros - 1, "notes": zeros, "bars": zeros, "elapsed": zeros,
                "started": zeros > 0, "ended": zeros > 0}

    def allowed(self, state: dict, params: dict) -> Any:
        x = self.x
        early = (params["bar_limit"] >= 0) & (state["bars"] < params["bar_limit"])
        enabled = [None, (state["notes"] > 0) & ~early, None, None]
        low, high = [None, None, state["position"], None], [None, None, None, None]
        mask = interval_mask(self, state, self.slots, self.ordinals, enabled, low, high)
        return x.take(self.table, state["phase"]) & mask & (params["allowed"] | state["ended"][:, None])

    def rewrite(self, state: dict, tokens: Any, params: dict) -> Any:
        limit = params["bar_limit"]
        over = (limit >= 0) & (state["bars"] >= limit) & (tokens == self.bar_id) & (state["notes"] > 0)
        return self.x.where(over, tokens * 0 + self.eos_id, tokens)

    def update(self, state: dict, tokens: Any, params: dict, count_time: Any = True) -> dict:
        x = self.x
        tokens = x.cast(tokens, x.int32)
        kinds, values = x.take(self.kind_of, tokens), x.take(self.value_of, tokens)
        bar = kinds == int(Kind.BAR)
        counted = x.cast(bar, x.int32) * x.cast(count_time, x.int32)
        ended = state["ended"] | (kinds == int(Kind.EOS)) | ((kinds == int(Kind.PAD)) & (state["phase"] != START))
        return {"phase": x.where(ended, ENDED, x.take(self.next, tokens)),
                "position": x.where(bar, -1, x.where(kinds == int(Kind.POSITION), values, state["position"])),
                "notes": state["notes"] + x.cast(kinds == int(Kind.DURATION), x.int32),
                "bars": state["bars"] + counted, "elapsed": state["elapsed"] + counted,
                "started": state["started"] | (kinds == int(Kind.BOS)), "ended": ended}

    def closing_tokens(self, state: dict) -> list[int]:
        phase = int(state["phase"][0])
        tokens = []
        if phase == PLACED:
            tokens.append(self.tokenizer.offset(Kind.PITCH))
        if phase in (PLACED, PITCHED):
            tokens.append(self.tokenizer.offset(Kind.DURATION))
        return tokens + ([self.eos_id] if phase != ENDED else [])
