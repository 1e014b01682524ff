"""Reading piano-roll data sets: the four classic polyphonic benchmarks and any file of their layout.

Boulanger-Lewandowski et al. (2012) published JSB Chorales, Nottingham, MuseData and
Piano-midi.de as pickles of ``{"train": [piece, ...], "valid": [...], "test": [...]}``, a piece
being a list of frames in time order and a frame the MIDI pitches sounding in it (``[]`` for
silence). :func:`read_rolls` reads that layout from JSON (``.json``, ``.json.gz``) and from the
original pickles (``.pickle``, ``.pkl``, gzipped or not) without running any code a pickle
could carry: its unpickler builds lists, tuples, dicts, strings and numbers and refuses
everything else. The file's own keys are its splits (``valid`` is musicgen's ``validation``);
a file may hold any of the three, a ``test`` alone to be scored whole.

A frame lasts a quarter note in JSB Chorales and an eighth note in the other three, as the
benchmark has it (:data:`FRAMES_PER_QUARTER`, by file name); another file may say its own
with a ``frames_per_quarter`` key, else an eighth note is assumed. :func:`roll_piece` turns
frames into a :class:`~musicgen.music.piece.Piece` (a key sounding in consecutive frames is
one held note). Every failure is a :class:`musicgen.MidiError` naming the file and the reason.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from musicgen.errors import MidiError
from musicgen.music.instruments import DEFAULT_PROGRAM
from musicgen.music.piece import Piece, Track

ROLL_SUFFIXES = (".json", ".json.gz", ".pickle", ".pkl", ".pickle.gz", ".pkl.gz")
SPLIT_OF_KEY = {"train": "train", "valid": "validation", "test": "test"}  # the file's key -> musicgen's split
FRAMES_PER_QUARTER = {"jsb_chorales": 1, "nottingham": 2, "musedata": 2, "piano_midi": 2, "piano_midi_de": 2}
DEFAULT_FRAMES_PER_QUARTER = 2
MAX_ROLL_BYTES = 512 << 20  # decompressed; the largest benchmark file is about 10 MB
VELOCITY = 80

Frame = tuple[int, ...]


@dataclass(frozen=True)
class Roll:
    """One piece of a piano-roll file: its key in the file (``"valid/3"``), its split, its frames."""

    key: str
    split: str
    frames: tuple[Frame, ...]


@dataclass(frozen=True)
class RollFile:
    """A piano-roll file's pieces, in file order (train, valid, test), and its frame length."""

    path: Path
    rolls: tuple[Roll, ...]
    frames_per_quarter: int
    frame_reason: str  # where the frame length came from, for people


def is_roll_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a file named as a piano-roll data set (:data:`ROLL_SUFFIXES`)."""
    path = Path(path)
    return path.is_file() and path.name.lower().endswith(ROLL_SUFFIXES)


def read_rolls(path: str | os.PathLike) -> RollFile:
    """Every piece of a piano-roll file; a file that is not one is a :class:`MidiError`."""
    path = Path(path)
    data = _load(path)
    if not isinstance(data, dict):
        raise MidiError(f"{path}: not a piano-roll file: it holds a {type(data).__name__}, not a dict of splits")
    data = {(key.decode("latin-1") if isinstance(key, bytes) else key): value for key, value in data.items()}
    unknown = sorted(str(key) for key in data if key not in (*SPLIT_OF_KEY, "frames_per_quarter"))
    if unknown:
        raise MidiError(f"{path}: not a piano-roll file: it holds {', '.join(map(repr, unknown))}; a piano-roll file "
                        "holds train, valid and test (and frames_per_quarter)")
    if not any(key in data for key in SPLIT_OF_KEY):
        raise MidiError(f"{path}: not a piano-roll file: it holds none of train, valid and test")
    rolls = []
    for key, split in SPLIT_OF_KEY.items():
        pieces = data.get(key, [])
        if not isinstance(pieces, (list, tuple)):
            raise MidiError(f"{path}: not a piano-roll file: {key!r} is a {type(pieces).__name__}, not a list of pieces")
        rolls.extend(Roll(f"{key}/{index}", split, _frames(path, key, index, piece)) for index, piece in enumerate(pieces))
    frames_per_quarter, reason = _frame_length(path, data.get("frames_per_quarter"))
    return RollFile(path, tuple(rolls), frames_per_quarter, reason)


def roll_piece(frames: Any, frames_per_quarter: int, velocity: int = VELOCITY) -> Piece:
    """A piece of one piano track playing ``frames``, each ``1 / frames_per_quarter`` of a quarter
    note: a key sounding in consecutive frames is one held note."""
    keys = sorted({pitch for frame in frames for pitch in frame})
    notes = []
    if keys:
        column = {pitch: index for index, pitch in enumerate(keys)}
        roll = np.zeros((len(frames) + 2, len(keys)), np.int8)
        for index, frame in enumerate(frames):
            roll[index + 1, [column[pitch] for pitch in frame]] = 1
        change = np.diff(roll, axis=0)
        starts, ends = np.argwhere(change == 1), np.argwhere(change == -1)
        starts = starts[np.lexsort((starts[:, 0], starts[:, 1]))]
        ends = ends[np.lexsort((ends[:, 0], ends[:, 1]))]
        notes = [(s / frames_per_quarter, e / frames_per_quarter, keys[k], velocity, 0)
                 for (s, k), (e, _) in zip(starts, ends, strict=True)]
    return Piece(np.array(sorted(notes), np.float64).reshape(-1, 5), (Track(DEFAULT_PROGRAM, "piano"),))


def _load(path: Path) -> Any:
    """The file's content: JSON, or a pickle read by :class:`_DataUnpickler`."""
    name = path.name.lower()
    try:
        if path.stat().st_size > MAX_ROLL_BYTES:
            raise MidiError(f"{path}: larger than {MAX_ROLL_BYTES} bytes, too large for a piano roll")
        raw = path.read_bytes()
        if name.endswith(".gz"):
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as stream:
                raw = stream.read(MAX_ROLL_BYTES + 1)
    except (OSError, EOFError, zlib.error) as error:
        raise MidiError(f"{path}: cannot read the piano roll: {error}") from error
    if len(raw) > MAX_ROLL_BYTES:
        raise MidiError(f"{path}: larger than {MAX_ROLL_BYTES} bytes uncompressed, too large for a piano roll")
    if not raw:
        raise MidiError(f"{path}: empty file")
    if name.endswith((".json", ".json.gz")):
        try:
            return json.loads(raw)
        except (ValueError, RecursionError) as error:
            raise MidiError(f"{path}: cannot read the piano roll: not valid JSON ({error})") from error
    try:
        return _DataUnpickler(io.BytesIO(raw), path).load()
    except MidiError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, RecursionError) as error:
        raise MidiError(f"{path}: cannot read the piano roll: not a readable pickle ({error})") from error


class _DataUnpickler(pickle.Unpickler):
    """An unpickler that builds only data: any class or function a pickle names is refused, so
    no code from the file runs (the benchmark's pickles hold only lists, tuples and numbers)."""

    def __init__(self, stream: Any, path: Path) -> None:
        super().__init__(stream, encoding="latin-1")
        self.path = path

    def find_class(self, module: str, name: str) -> Any:
        raise MidiError(f"{self.path}: the pickle asks for {module}.{name}; only lists, tuples, dicts, strings and "
                        "numbers are read from a pickle, so that no code in it runs")

    def persistent_load(self, pid: Any) -> Any:
        raise MidiError(f"{self.path}: the pickle refers to an outside object; only plain data is read")


def _frames(path: Path, key: str, index: int, piece: Any) -> tuple[Frame, ...]:
    """A piece's frames as sorted tuples of distinct pitches, checked."""
    where = f"piece {index} of {key!r}"
    if not isinstance(piece, (list, tuple)):
        raise MidiError(f"{path}: not a piano-roll file: {where} is a {type(piece).__name__}, not a list of frames")
    frames = []
    for number, frame in enumerate(piece):
        if not isinstance(frame, (list, tuple)):
            raise MidiError(f"{path}: not a piano-roll file: frame {number} of {where} is a {type(frame).__name__}, "
                            "not a list of pitches")
        pitches = set()
        for pitch in frame:
            if isinstance(pitch, bool) or not isinstance(pitch, (int, float)) or pitch != int(pitch) \
                    or not 0 <= pitch <= 127:
                raise MidiError(f"{path}: not a piano-roll file: frame {number} of {where} holds {pitch!r}, not a "
                                "MIDI pitch 0..127")
            pitches.add(int(pitch))
        frames.append(tuple(sorted(pitches)))
    return tuple(frames)


def _frame_length(path: Path, given: Any) -> tuple[int, str]:
    """Frames per quarter note: the file's own ``frames_per_quarter``, the benchmark's for its
    four data sets (by file name), else an eighth note; and why."""
    if given is not None:
        if isinstance(given, bool) or not isinstance(given, int) or not 1 <= given <= 960:
            raise MidiError(f"{path}: frames_per_quarter must be a whole number 1..960, got {given!r}")
        return given, f"the file's frames_per_quarter {given}"
    stem = path.name.lower()
    for suffix in sorted(ROLL_SUFFIXES, key=len, reverse=True):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    stem = re.sub(r"[^a-z0-9]+", "_", stem).strip("_")
    if stem in FRAMES_PER_QUARTER:
        count = FRAMES_PER_QUARTER[stem]
        return count, f"{path.name} is a benchmark set whose frame is {'a quarter' if count == 1 else 'an eighth'} note"
    return DEFAULT_FRAMES_PER_QUARTER, (f"{path.name} names no frame length (frames_per_quarter): an eighth note, as "
                                        "in three of the four benchmark sets")
