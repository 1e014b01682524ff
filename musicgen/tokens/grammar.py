"""Which tokens may come next: each encoding's grammar, and what the training data allows.

An encoding's :meth:`~musicgen.tokens.base.Tokenizer.grammar` gives its tables, its
pure-Python checker and its tensor masker (:mod:`musicgen.tokens.events_grammar`,
:mod:`musicgen.tokens.notes_grammar`). All follow one protocol, which the samplers rely on:

- ``tables``: ``pad_id``, ``bos_id``, ``eos_id``, ``vocab_size``, ``kinds``, ``values``;
- ``checker()``, a :class:`Checker`: one sequence in Python, token by token;
- ``masker()``, a :class:`Masker`: a batch of sequences as tensors, for compiled loops.

:class:`Constraints` is what the training data had, saved with a checkpoint: the sampler
gives zero probability to anything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from musicgen.tokens.config import Kind


class Checker(Protocol):
    """One sequence, fed token by token: what may come next, and how to close it."""

    started: bool  # BOS was fed
    ended: bool  # the sequence is over (only PAD may follow)

    def feed(self, token: int, check: bool = True) -> None:
        """Advance past ``token``; ``ValueError`` if it is not allowed here (and ``check``)."""

    def allowed(self, token: int) -> bool:
        """Whether ``token`` may come next."""

    def allowed_mask(self) -> np.ndarray:
        """:meth:`allowed` of every token at once, as booleans over the vocabulary."""

    def closing_tokens(self) -> list[int]:
        """The tokens that end the sequence cleanly from here."""

    @property
    def forced(self) -> bool:
        """The grammar, not the model, decides the next token's kind."""


class Masker(Protocol):
    """The same rules for a batch, as tensors: a state dict of ``(batch, ...)`` tensors holding at
    least ``ended`` and ``elapsed`` (grid steps, or bars, counted after the prefix)."""

    def initial_state(self, batch_size: Any) -> dict:
        """The state before BOS."""

    def allowed(self, state: dict) -> Any:
        """``(batch, vocab)`` booleans: the tokens that may come next."""

    def update(self, state: dict, tokens: Any, count_time: Any = True) -> dict:
        """The state after ``tokens``; ``count_time`` false feeds a prefix without counting it."""

    def limit(self, state: dict, allowed: Any, bar_limit: Any, every_track: Any = False) -> Any:
        """``allowed`` under a limit of ``bar_limit`` bars (-1: none; encodings with bars), and with
        ``every_track``, no bar closed before every track played in it or the bar before."""

    def rewrite(self, state: dict, tokens: Any, bar_limit: Any) -> Any:
        """``tokens`` with one that would open a bar past ``bar_limit`` turned into the end."""

    def drums(self, state: dict) -> Any:
        """``(batch,)`` booleans: the next token belongs to a drum track."""

    def forced(self, state: dict) -> Any:
        """``(batch,)`` booleans: the grammar, not the model, decides the next token's kind."""


@dataclass(frozen=True)
class Constraints:
    """What training pieces had, and what their instruments can play: the tokens seen, the most
    tracks (instruments) in one piece, and per program (129 rows, drums last) the longest note
    in steps, the ``(lowest, highest)`` pitch and the most notes at one position of a track
    (``None``: no limit)."""

    allowed: np.ndarray | None = None
    max_tracks: int | None = None
    max_durations: np.ndarray | None = None
    pitch_ranges: np.ndarray | None = None
    max_chords: np.ndarray | None = None

    def sampleable(self, kinds: np.ndarray) -> np.ndarray:
        """Booleans over the vocabulary (of per-id ``kinds``): the tokens a sampler may ever
        choose. Those the training data had, PAD and EOS (the grammar decides those), and never
        a fill-in-the-middle marker: those are only ever given (:mod:`musicgen.generation.infill`)."""
        kinds = np.asarray(kinds)
        allowed = np.ones(len(kinds), bool) if self.allowed is None else np.asarray(self.allowed, bool).copy()
        allowed[np.isin(kinds, [int(Kind.PAD), int(Kind.EOS)])] = True
        allowed[np.isin(kinds, [int(Kind.FILL), int(Kind.FILL_START), int(Kind.FILL_END)])] = False
        return allowed


@dataclass(frozen=True)
class Grammar:
    """An encoding's grammar: ``tables`` plus factories of checkers and maskers."""

    tables: Any
    checker_class: type
    masker_class: type

    def checker(self) -> Checker:
        return self.checker_class(self.tables)

    def masker(self) -> Masker:
        return self.masker_class(self.tables)


def check_tokens(tokens: np.ndarray, grammar: Grammar) -> Checker:
    """Run a whole sequence (BOS first, PAD after EOS allowed) through a checker; return it."""
    checker = grammar.checker()
    for token in np.asarray(tokens).tolist():
        checker.feed(int(token))
    return checker
