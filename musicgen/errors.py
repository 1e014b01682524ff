"""Narrow exception classes.

Every error a user can cause (a bad file, a bad option, a damaged checkpoint) is a
subclass of :class:`MusicgenError`, so the command line can print its message
and exit non-zero without a traceback. Each is also a ``ValueError``.
"""

from __future__ import annotations


class MusicgenError(ValueError):
    """Base class of the errors musicgen reports to users."""


class MidiError(MusicgenError):
    """A file could not be read as music: missing, empty, truncated, corrupt or not MIDI."""


class DataError(MusicgenError):
    """A data set cannot be used: no usable files, pieces shorter than the window, a bad cache."""


class CheckpointError(MusicgenError):
    """A checkpoint directory is missing, incomplete, corrupt or incompatible."""


class ConfigError(MusicgenError):
    """An option or configuration value is out of range or inconsistent."""


class DiskFullError(MusicgenError):
    """A write ran out of space; the file it would have replaced is intact."""
