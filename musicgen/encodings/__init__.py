"""Token encodings: one base class (:mod:`musicgen.encodings.base`) and one module each.

- ``notes`` (:mod:`musicgen.encodings.notes`): each note one group of tokens (track,
  position, pitch, velocity, duration), placed by bar and position.
- ``events`` (:mod:`musicgen.encodings.events`): note-on, note-off and time-shift events.

``Tokenizer(config)`` returns the tokenizer of ``config.encoding``; importing this package
registers every encoding.
"""

from musicgen.encodings.base import ENCODINGS, Kind, Tokenizer, TokenizerConfig
from musicgen.encodings.events import EventTokenizer
from musicgen.encodings.notes import NoteTokenizer

__all__ = ["ENCODINGS", "EventTokenizer", "Kind", "NoteTokenizer", "Tokenizer", "TokenizerConfig"]
