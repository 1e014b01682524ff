"""MIDI <-> tokens: the tokenizer's public face.

``Tokenizer(config)`` gives the tokenizer of ``config.encoding`` (built once per process and
configuration); ``TokenizerConfig`` holds every option; ``Kind`` classifies token ids. The
encodings themselves, each with its exact specification, are in :mod:`musicgen.encodings`.
"""

from musicgen.encodings import (
    ENCODINGS,
    EventTokenizer,
    Kind,
    NoteTokenizer,
    Tokenizer,
    TokenizerConfig,
)
from musicgen.instruments import DRUM_PROGRAM

__all__ = ["DRUM_PROGRAM", "ENCODINGS", "EventTokenizer", "Kind", "NoteTokenizer", "Tokenizer", "TokenizerConfig"]
