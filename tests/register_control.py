"""A control written as a plugin is: one module. ``register`` says where a piece's pitched notes
lie (low, middle or high, by their mean pitch), and asking for it also pulls the pitches there.

It declares its tokens, how it is read from a piece, how it is asked for, how it is checked (its
reading is checkable) and how it guides the sampler; the library's tokenizer, data profile,
steering, ``generate`` and ``evaluate --controls`` take it from the registry, unchanged. A
tokenizer writes it when its config names it: ``TokenizerConfig(controls=("register",))``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from musicgen.errors import ConfigError
from musicgen.music.piece import PITCH, TRACK
from musicgen.tokens.controls import Control

NAMES = ("low", "middle", "high")
EDGES = (55.0, 67.0)  # mean pitches that divide the registers


class RegisterControl(Control, name="register"):
    """Low, middle or high: the bin of the mean pitch of a piece's pitched notes."""

    order = 10

    def values(self, config: Any) -> np.ndarray:
        return np.arange(len(NAMES))

    def read(self, piece: Any, config: Any) -> int | None:
        drums = np.array([track.is_drum for track in piece.tracks] or [False])
        pitched = piece.notes[~drums[piece.notes[:, TRACK].astype(int)]] if len(piece.notes) else piece.notes
        if not len(pitched):
            return None
        return int(np.searchsorted(EDGES, pitched[:, PITCH].mean(), "right"))

    def parse(self, text: Any, config: Any) -> int:
        word = str(text).strip().lower()
        if word in NAMES:
            return NAMES.index(word)
        if word.isdigit() and int(word) < len(NAMES):
            return int(word)
        raise ConfigError(f"--control register= must be one of {', '.join(NAMES)}, got {text!r}")

    def describe(self, value: int, config: Any) -> str:
        return NAMES[value]

    def bias(self, tokenizer: Any, value: int, strength: float) -> np.ndarray | None:
        """Pitches pulled toward the register's middle: ``strength`` per octave away from it."""
        centre = (40.0, 61.0, 76.0)[value]
        bias = np.zeros(tokenizer.vocab_size, np.float32)
        pitch = tokenizer.roles.pitch
        bias[pitch] = -strength * np.abs(tokenizer.values[pitch] - centre) / 12.0
        return bias
