"""Token encodings: one base class (:mod:`musicgen.encodings.base`) and one module each.

- ``events`` (:mod:`musicgen.encodings.events`): note-on, note-off and time-shift events.

``Tokenizer(config)`` returns the tokenizer of ``config.encoding``; importing this package
registers every encoding.
"""

from musicgen.encodings.base import ENCODINGS, Kind, Tokenizer, TokenizerConfig
from musicgen.encodings.events import EventTokenizer

__all__ = ["ENCODINGS", "EventTokenizer", "Kind", "Tokenizer", "TokenizerConfig"]
