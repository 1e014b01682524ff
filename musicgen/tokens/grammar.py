"""Which tokens may come next: each encoding's grammar, and what the training data allows.

:func:`grammar_for` gives the tables, the pure-Python checker and the tensor masker of a
tokenizer's encoding (:mod:`musicgen.tokens.events_grammar`, :mod:`musicgen.tokens.notes_grammar`). Both
follow one protocol, which the sampler relies on:

- ``tables``: ``pad_id``, ``bos_id``, ``eos_id``, ``vocab_size``, ``kinds``, ``values``;
- ``checker()``: ``feed(token)``, ``allowed(token)``, ``closing_tokens()``, ``started``, ``ended``;
- ``masker()``: ``initial_state(batch)``, ``allowed(state)`` (batch, vocab) booleans,
  ``update(state, tokens, count_time)``, ``limit(state, allowed, bar_limit)`` and
  ``rewrite(state, tokens, bar_limit)`` (a bar limit, for encodings with bars), and the
  state's ``ended`` and ``elapsed`` (grid steps, or bars, after the prefix).

:class:`Constraints` is what the training data had, saved with a checkpoint: the sampler
gives zero probability to anything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Constraints:
    """What training pieces had: the tokens seen, the most tracks (instruments) in one piece,
    and each program's longest note in steps (``None``: no limit)."""

    allowed: np.ndarray | None = None
    max_tracks: int | None = None
    max_durations: np.ndarray | None = None


@dataclass(frozen=True)
class Grammar:
    """An encoding's grammar: ``tables`` plus factories of checkers and maskers."""

    tables: Any
    checker_class: type
    masker_class: type

    def checker(self) -> Any:
        return self.checker_class(self.tables)

    def masker(self) -> Any:
        return self.masker_class(self.tables)


def grammar_for(tokenizer: Any, constraints: Constraints | None = None) -> Grammar:
    """The grammar of ``tokenizer``'s encoding, limited by ``constraints``."""
    if tokenizer.config.encoding == "notes":
        from musicgen.tokens.notes_grammar import NoteChecker, NoteMasker, NoteTables

        return Grammar(NoteTables(tokenizer, constraints), NoteChecker, NoteMasker)
    from musicgen.tokens.events_grammar import GrammarChecker, GrammarMasker, GrammarTables

    return Grammar(GrammarTables.from_tokenizer(tokenizer, constraints), GrammarChecker, GrammarMasker)


def check_tokens(tokens: np.ndarray, grammar: Grammar) -> Any:
    """Run a whole sequence (BOS first, PAD after EOS allowed) through a checker; return it."""
    checker = grammar.checker()
    for token in np.asarray(tokens).tolist():
        checker.feed(int(token))
    return checker
