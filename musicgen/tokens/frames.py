"""The ``frames`` encoding: a piano roll, frame by frame, as the polyphonic benchmarks score it.

A frame is a slice of time of one grid step (``1 / steps_per_quarter`` of a quarter note, or
``1 / steps_per_second`` of a second) and holds the set of keys sounding in it. A piece is::

    BOS  PITCH(p1) PITCH(p2) ... FRAME_END  PITCH(..) ... FRAME_END  ...  EOS

each frame's pitches in ascending order, then FRAME_END (a silent frame is FRAME_END
alone). Ids: PAD, BOS, EOS, PITCH(min_pitch..max_pitch) (88 keys by default), FRAME_END.
The grammar (:mod:`musicgen.tokens.frames_grammar`) allows only that order, so a sequence
of frames has exactly one token sequence, and the model's probability of a frame's tokens
is its probability of the frame, over every subset of the keys.

Music becomes frames by sampling it on the grid (:meth:`FrameTokenizer.frames_of`): a note
sounds in the frames from its onset to its end, both rounded to the nearest step, and in at
least one. Frames become music by joining a key that sounds in consecutive frames into one
note (a held note and a repeated one look the same in a piano roll), so
``encode_piece(decode_piece(ids)) == ids``. Piano-roll data sets give frames directly
(:mod:`musicgen.music.pianoroll`): :meth:`FrameTokenizer.encode_frames` keeps them exactly,
silent frames at the end included. Velocity, programs, drums and the pedal are not kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from musicgen.music.instruments import DEFAULT_PROGRAM
from musicgen.music.piece import Piece, Track
from musicgen.tokens.base import Tokenizer
from musicgen.tokens.config import Kind
from musicgen.tokens.frames_grammar import FrameRules, FrameTables
from musicgen.tokens.grammar import Constraints, Grammar

Frame = tuple[int, ...]


class FrameTokenizer(Tokenizer, encoding="frames"):
    """The keys sounding in each frame, ascending, then FRAME_END (see the module docstring)."""

    def sections(self) -> list[tuple[Kind, Any]]:
        c = self.config
        return [(Kind.PAD, [0]), (Kind.BOS, [0]), (Kind.EOS, [0]),
                (Kind.PITCH, np.arange(c.min_pitch, c.max_pitch + 1)), (Kind.FRAME_END, [0])]

    def _setup(self, config: Any) -> None:
        super()._setup(config)
        self.pitch_offset = self.offset(Kind.PITCH)
        self.frame_end_id = self.id_of(Kind.FRAME_END)
        self.tables = FrameTables.from_tokenizer(self)

    # ------------------------------------------------------------ frames
    def frames_of(self, piece: Piece) -> list[Frame]:
        """``piece`` sampled on the grid: per frame, the sorted keys sounding in it (from its
        first frame to the end of its last note)."""
        piece = self.prepare(piece)
        notes = piece.notes
        if not len(notes):
            return []
        start = self.to_steps(piece, notes[:, 0])
        end = np.maximum(self.to_steps(piece, notes[:, 1]), start + 1)
        key = notes[:, 2].astype(np.int64) - self.config.min_pitch
        roll = np.zeros((int(end.max()) + 1, self.config.max_pitch - self.config.min_pitch + 2), np.int32)
        np.add.at(roll, (start, key), 1)
        np.add.at(roll, (end, key), -1)
        sounding = np.cumsum(roll, axis=0)[:-1, :-1] > 0
        return [tuple((np.flatnonzero(row) + self.config.min_pitch).tolist()) for row in sounding]

    def encode_frames(self, frames: Sequence[Sequence[int]]) -> np.ndarray:
        """Ids of a sequence of frames (each a collection of MIDI pitches), BOS to EOS; keys
        outside the pitch range are left out, as :meth:`prepare` leaves out such notes."""
        low, high = self.config.min_pitch, self.config.max_pitch
        ids = [self.bos_id]
        for frame in frames:
            keys = sorted({int(pitch) for pitch in frame if low <= int(pitch) <= high})
            ids.extend(self.pitch_offset + pitch - low for pitch in keys)
            ids.append(self.frame_end_id)
        ids.append(self.eos_id)
        return np.asarray(ids, np.int32)

    def decode_frames(self, ids: Any) -> list[Frame]:
        """The frames of ``ids`` (total: ids outside the vocabulary and misplaced tokens are
        ignored, EOS ends the piece, an unclosed last frame counts)."""
        frames: list[Frame] = []
        current: set[int] = set()
        opened = False
        for token in np.asarray(ids).reshape(-1).tolist():
            if not 0 <= token < self.vocab_size:
                continue
            kind = self.kinds[token]
            if kind == Kind.PITCH:
                current.add(int(self.values[token]))
                opened = True
            elif kind == Kind.FRAME_END:
                frames.append(tuple(sorted(current)))
                current, opened = set(), False
            elif kind == Kind.EOS:
                break
        if opened:
            frames.append(tuple(sorted(current)))
        return frames

    def frame_count(self, ids: Any) -> int:
        """How many frames ``ids`` holds (its FRAME_END tokens)."""
        return int(np.count_nonzero(np.asarray(ids) == self.frame_end_id))

    def frame_targets(self, ids: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(allowed, counted)`` for scoring ``ids`` frame by frame: see
        :meth:`musicgen.tokens.frames_grammar.FrameTables.scoring_mask`."""
        return self.tables.scoring_mask(ids)

    # ------------------------------------------------------------ contract
    def encode_piece(self, piece: Piece) -> np.ndarray:
        """The piece sampled on the grid (:meth:`frames_of`), as ids."""
        return self.encode_frames(self.frames_of(piece))

    def decode_notes(self, ids: Any, program: int | None = None) -> list[tuple[int, int, int, int, int]]:
        """Notes ``(start_frame, end_frame, pitch, velocity, program)``: each run of frames in
        which a key sounds is one note."""
        frames = self.decode_frames(ids)
        if not frames:
            return []
        low, width = self.config.min_pitch, self.config.max_pitch - self.config.min_pitch + 1
        roll = np.zeros((len(frames) + 2, width), np.int8)
        for index, frame in enumerate(frames):
            roll[index + 1, [pitch - low for pitch in frame]] = 1
        change = np.diff(roll, axis=0)
        starts, ends = np.argwhere(change == 1), np.argwhere(change == -1)
        velocity = self.bin_velocity(self.velocity_bin(64))
        code = DEFAULT_PROGRAM if program is None else int(program)
        notes = [(int(s), int(e), int(key) + low, velocity, code)
                 for (s, key), (e, _) in zip(starts[np.lexsort((starts[:, 0], starts[:, 1]))],
                                             ends[np.lexsort((ends[:, 0], ends[:, 1]))], strict=True)]
        return sorted(notes)

    def decode_piece(self, ids: Any, tempo: float | None = None, time_signature: tuple[int, int] | None = None,
                     program: int | None = None, track_names: dict[int, str] | None = None) -> Piece:
        """One track of ``program`` (default: piano), a frame lasting one grid step at ``tempo``."""
        tempo = self.config.default_tempo if tempo is None else tempo
        scale = self.step_beats(tempo)
        code = DEFAULT_PROGRAM if program is None else int(program)
        rows = [(s * scale, e * scale, p, v, 0) for s, e, p, v, _ in self.decode_notes(ids, code)]
        return Piece(np.array(rows, np.float64).reshape(-1, 5), (Track(code, (track_names or {}).get(0, "")),),
                     ((0.0, *(time_signature or (4, 4))),), ((0.0, float(tempo)),))

    def grammar(self, constraints: Constraints | None = None) -> Grammar:
        """The frames grammar (:mod:`musicgen.tokens.frames_grammar`); it limits nothing by the
        training data (the sampler keeps to the tokens the data had)."""
        return Grammar(self, FrameRules, constraints)

    def track_programs(self, ids: Any) -> list[int]:
        """One track, the piano."""
        return [DEFAULT_PROGRAM]

    def whole_prefix(self, ids: Any) -> int:
        """Up to the last FRAME_END: an unfinished frame is not written out."""
        ends = np.flatnonzero(np.asarray(ids) == self.frame_end_id)
        return int(ends[-1]) + 1 if len(ends) else len(ids)

    def token_name(self, token_id: int) -> str:
        """``PITCH(60)``, and ``FRAME_END`` without a value."""
        if 0 <= int(token_id) < self.vocab_size and self.kinds[int(token_id)] == Kind.FRAME_END:
            return "FRAME_END"
        return super().token_name(token_id)
