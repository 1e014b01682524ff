"""Token encodings: one base class (:mod:`musicgen.tokens.base`) and one module each.

- ``notes`` (:mod:`musicgen.tokens.notes`): each note one group of tokens (track,
  position, pitch, velocity, duration), placed by bar and position.
- ``events`` (:mod:`musicgen.tokens.events`): note-on, note-off and time-shift events.

``Tokenizer(config)`` returns the tokenizer of ``config.encoding``; importing this package
registers every encoding.
"""

from musicgen.tokens.base import ENCODINGS, Kind, Tokenizer, TokenizerConfig
from musicgen.tokens.events import EventTokenizer
from musicgen.tokens.notes import NoteTokenizer

__all__ = ["ENCODINGS", "EventTokenizer", "Kind", "NoteTokenizer", "Tokenizer", "TokenizerConfig"]
