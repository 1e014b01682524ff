"""Music as tokens: the encodings, their grammars, and the options of all of them.

- :mod:`musicgen.tokens.base`: :class:`Tokenizer`, the contract every encoding implements;
- :mod:`musicgen.tokens.config`: :class:`TokenizerConfig` (every option), :class:`Kind`, the registry;
- one module per encoding: :mod:`musicgen.tokens.notes` (each note one group of tokens: track,
  position, pitch, velocity, duration, placed by bar) and :mod:`musicgen.tokens.events`
  (note-on, note-off and time-shift events, as Performance RNN);
- their grammars (:mod:`musicgen.tokens.grammar`, :mod:`musicgen.tokens.notes_grammar`,
  :mod:`musicgen.tokens.events_grammar`) and the bar structure edits use (:mod:`musicgen.tokens.bars`).

``Tokenizer(config)`` returns the tokenizer of ``config.encoding``. Importing this package
registers every encoding below: a new encoding is one module and one line here.
"""

from musicgen.tokens import events, frames, notes  # noqa: F401  (registers the encodings)
from musicgen.tokens.base import Tokenizer
from musicgen.tokens.config import ENCODINGS, Kind, TokenizerConfig

__all__ = ["ENCODINGS", "Kind", "Tokenizer", "TokenizerConfig"]
