"""Chord symbols: a small fixed vocabulary, the label syntaxes of the data and of users, names.

A chord is a root (pitch class 0..11, C = 0) and a quality from :data:`QUALITIES`, numbered
``root * len(QUALITIES) + quality`` (``Am7`` is ``9 * 12 + 8``); :data:`NO_CHORD` (-1) is "no
chord" (``N``). The twelve qualities cover pop, jazz standards, folk and chorales; every other
chord is read as the nearest of them (a ninth as its seventh, ``min6`` as ``min``, ``7sus4`` as
``sus4``), and an inversion as its root position: the bass note is read and dropped, so the
vocabulary stays small enough for a model to learn.

:data:`QUALITIES` is the one table of chord facts: each quality's intervals, the suffix its
name is written with, its Harte shorthand, and every spelling of it (or of a richer chord that
reduces to it) that the readers meet. :func:`parse_chord` reads

* Harte labels as POP909 writes them (``Gb:maj``, ``C:min7``, ``A:7/3``, ``C:(1,b3,5)``, ``N``),
* music21 ``ChordSymbol`` figures (``Dm7``, ``B-7``, ``F#m7b5``, ``Bb/D``, ``C+``),
* ABC chord annotations as in Nottingham (``Am``, ``D7``, ``G/b``, ``D/f+``; ``Gd`` diminished,
  ``Ea`` augmented; an optional chord in parentheses, ``(E7)``),
* MusicXML ``<kind>`` values (``dominant-ninth``) as the quality part,
* and what a user types (``Cmaj7``, ``C-7``'s music21 reading aside, ``CΔ7``, ``Bø``).

:func:`parse_progression` reads a user's progression, ``"C G Am F"`` or ``"Dm7:2 G7:2 Cmaj7:4"``
(``:N`` a length in beats). :func:`chord_name` writes ``Am7`` (``N.C.``); :func:`pitch_classes` gives the
chord's pitch classes, root first.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from musicgen.errors import ConfigError

NO_CHORD = -1


class Quality(NamedTuple):
    """One chord quality: its name, intervals above the root, the suffix of a chord name
    (``m7`` in ``Am7``), its Harte shorthand, and the spellings read as it."""

    name: str
    intervals: tuple[int, ...]
    suffix: str
    harte: str
    spellings: tuple[str, ...]


QUALITIES: tuple[Quality, ...] = (
    Quality("maj", (0, 4, 7), "", "maj", (
        "", "maj", "major", "M", "Ma", "5", "power", "add9", "add2", "add11", "add4", "(add9)", "2",
        "pedal", "Neapolitan", "major-minor-none")),
    Quality("min", (0, 3, 7), "m", "min", (
        "m", "min", "minor", "mi", "madd9", "m(add9)", "minadd9", "m6", "min6", "mi6", "minor-sixth",
        "mmaj7", "m(maj7)", "mM7", "minmaj7", "mMaj7", "m^7", "mΔ7", "major-minor", "m69", "m6/9",
        "mmaj9")),
    Quality("dim", (0, 3, 6), "dim", "dim", ("dim", "diminished", "o", "°", "d", "mb5", "m(b5)")),
    Quality("aug", (0, 4, 8), "aug", "aug", ("aug", "augmented", "+", "a", "#5", "(#5)", "+5")),
    Quality("sus2", (0, 2, 7), "sus2", "sus2", ("sus2", "suspended-second", "2sus")),
    Quality("sus4", (0, 5, 7), "sus4", "sus4", (
        "sus4", "sus", "suspended-fourth", "4", "7sus4", "7sus", "sus7", "9sus4", "9sus", "11",
        "sus4(b7)", "sus4(b7,9)", "13sus4", "7sus4b9")),
    Quality("7", (0, 4, 7, 10), "7", "7", (
        "7", "dom", "dominant", "dominant-seventh", "9", "13", "dominant-ninth", "dominant-11th",
        "dominant-13th", "7b9", "7#9", "7b5", "7#5", "7+", "+7", "aug7", "7aug", "7#11", "7b13",
        "9#11", "7alt", "alt", "augmented-seventh", "a7", "Italian", "French", "German", "69+")),
    Quality("maj7", (0, 4, 7, 11), "maj7", "maj7", (
        "maj7", "M7", "Maj7", "major-seventh", "Δ", "Δ7", "∆", "∆7", "^", "^7", "ma7", "j7",
        "maj9", "M9", "maj11", "maj13", "major-ninth", "major-11th", "major-13th", "maj7#11",
        "maj7#5", "+maj7", "augmented-major-seventh")),
    Quality("min7", (0, 3, 7, 10), "m7", "min7", (
        "m7", "min7", "mi7", "minor-seventh", "-7", "m9", "min9", "m11", "min11", "m13", "min13",
        "minor-ninth", "minor-11th", "minor-13th", "m7(9)", "m7(11)")),
    Quality("m7b5", (0, 3, 6, 10), "m7b5", "hdim7", (
        "m7b5", "hdim7", "hdim", "half-diminished", "ø", "ø7", "Ø", "Ø7", "m7(b5)", "min7b5", "mi7b5",
        "Tristan")),
    Quality("dim7", (0, 3, 6, 9), "dim7", "dim7", (
        "dim7", "diminished-seventh", "o7", "°7", "d7")),
    Quality("6", (0, 4, 7, 9), "6", "maj6", (
        "6", "maj6", "M6", "major-sixth", "69", "6/9", "6(9)", "add6")),
)
QUALITY_NAMES = tuple(quality.name for quality in QUALITIES)
CHORD_COUNT = 12 * len(QUALITIES)  # chord numbers run 0 .. CHORD_COUNT - 1
ROOT_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
FLAT_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
# Keys (tonic + 12 for minor) whose signatures hold flats, and sharps: a chord is spelled as its key is.
FLAT_KEYS = frozenset({5, 10, 3, 8, 1, 6, 12 + 2, 12 + 7, 12 + 0, 12 + 5, 12 + 10, 12 + 3})
SHARP_KEYS = frozenset({7, 2, 9, 4, 11, 12 + 4, 12 + 11, 12 + 6, 12 + 1, 12 + 8})
NO_CHORD_LABELS = frozenset({"N", "NC", "N.C.", "N.C", "X", "NONE", "NO CHORD", "-", ""})
_LETTERS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ACCIDENTALS = {"#": 1, "♯": 1, "b": -1, "♭": -1, "-": -1}
_SPELLINGS = {spelling: index for index, quality in enumerate(QUALITIES) for spelling in quality.spellings}
_LOWER_SPELLINGS = {spelling.lower(): index for spelling, index in reversed(_SPELLINGS.items())
                    if not spelling.startswith("M")}
_HARTE_DEGREES = {"1": 0, "2": 2, "3": 4, "4": 5, "5": 7, "6": 9, "7": 11, "9": 2, "10": 4, "11": 5, "13": 9}
_EXTENSION_TAIL = re.compile(r"(?:\((?:[^()]*)\)|(?:add|omit|no)\d+|[b#+\-]\d+)$")
_LENGTH = re.compile(r"^(.*?):(\d+(?:\.\d*)?|\.\d+)$")


class Chord(NamedTuple):
    """A chord as read from a label: root pitch class, quality index, and the bass pitch class
    (the root unless the label names another bass)."""

    root: int
    quality: int
    bass: int

    @property
    def number(self) -> int:
        """The chord's number (:func:`chord_number`)."""
        return chord_number(self.root, self.quality)


def chord_number(root: int, quality: int | str) -> int:
    """The number of the chord ``root`` (pitch class) ``quality`` (index or name)."""
    index = QUALITY_NAMES.index(quality) if isinstance(quality, str) else int(quality)
    return (int(root) % 12) * len(QUALITIES) + index


def chord_root(chord: int) -> int:
    """The root pitch class of a chord number (-1 for :data:`NO_CHORD`)."""
    return -1 if chord < 0 else int(chord) // len(QUALITIES)


def chord_quality(chord: int) -> Quality | None:
    """The quality of a chord number (None for :data:`NO_CHORD`)."""
    return None if chord < 0 else QUALITIES[int(chord) % len(QUALITIES)]


def chord_name(chord: int, key: int | None = None) -> str:
    """``Am7``, ``Bbm7b5``, ``F#``; ``N.C.`` for no chord, as lead sheets write it. In a ``key``
    (tonic + 12 for minor) whose signature holds flats the root is spelled with flats (``Db`` in A-flat
    major), in one with sharps with sharps (``D#m`` in B major)."""
    if chord < 0:
        return "N.C."
    names = FLAT_NAMES if key in FLAT_KEYS else SHARP_NAMES if key in SHARP_KEYS else ROOT_NAMES
    return names[chord_root(chord)] + QUALITIES[int(chord) % len(QUALITIES)].suffix


def harte_label(chord: int) -> str:
    """The chord as a Harte label, ``A:min7`` (``N`` for no chord)."""
    if chord < 0:
        return "N"
    return f"{ROOT_NAMES[chord_root(chord)]}:{QUALITIES[int(chord) % len(QUALITIES)].harte}"


def pitch_classes(chord: int) -> tuple[int, ...]:
    """The pitch classes of a chord number, root first (``()`` for no chord)."""
    if chord < 0:
        return ()
    root = chord_root(chord)
    return tuple((root + interval) % 12 for interval in QUALITIES[int(chord) % len(QUALITIES)].intervals)


@lru_cache(maxsize=1)
def chord_tones() -> np.ndarray:
    """``(CHORD_COUNT, 12)`` booleans: whether each pitch class is a tone of each chord number (read only)."""
    table = np.zeros((CHORD_COUNT, 12), bool)
    for chord in range(CHORD_COUNT):
        table[chord, list(pitch_classes(chord))] = True
    table.flags.writeable = False
    return table


def nearest_quality(intervals: set[int] | frozenset[int]) -> int:
    """The quality closest to a set of intervals above the root: the most tones shared, the
    fewest of its own missing, extra tones counting half; the first in the table on a tie."""
    tones = {interval % 12 for interval in intervals} | {0}

    def score(quality: Quality) -> float:
        own = set(quality.intervals)
        return len(own & tones) - len(own - tones) - 0.5 * len(tones - own)

    return max(range(len(QUALITIES)), key=lambda index: score(QUALITIES[index]))


def parse_chord(text: str) -> int:
    """The chord number of a label in any syntax the module reads (``NO_CHORD`` for ``N``)."""
    chord = read_chord(text)
    return NO_CHORD if chord is None else chord.number


def read_chord(text: str) -> Chord | None:
    """A label read as a :class:`Chord` (None for no chord); a label that is no chord symbol
    is a :class:`ConfigError` naming it."""
    label = text.strip()
    if label.startswith("(") and label.endswith(")"):  # an optional chord, as ABC writes them
        label = label[1:-1].strip()
    if label.upper() in NO_CHORD_LABELS:
        return None
    chord = _read_harte(label) if ":" in label else _read_symbol(label)
    if chord is None:
        raise ConfigError(f"cannot read the chord {text!r}: write a root and a quality, e.g. 'Am7', "
                          f"'F#m7b5', 'Bb/D', 'G:maj' or 'N' for no chord")
    return chord


def _read_note(text: str, bass: bool = False) -> tuple[int, str] | None:
    """A note name at the start of ``text`` (a letter, then accidentals) and the rest of it.

    In a bass note ``+`` is a sharp too, as ABC writes ``D/f+``; after a root it means augmented.
    """
    if not text or text[0].upper() not in _LETTERS:
        return None
    pitch, position = _LETTERS[text[0].upper()], 1
    accidentals = {**_ACCIDENTALS, "+": 1} if bass else _ACCIDENTALS
    while position < len(text) and text[position] in accidentals:
        pitch += accidentals[text[position]]
        position += 1
    return pitch % 12, text[position:]


def _read_symbol(label: str) -> Chord | None:
    """A chord symbol: root, quality spelling, optional ``/bass``."""
    note = _read_note(label)
    if note is None:
        return None
    root, rest = note
    bass = root
    if "/" in rest and not rest.endswith("6/9"):
        rest, _, bass_text = rest.rpartition("/")
        bass_note = _read_note(bass_text.strip(), bass=True)
        if bass_note is None or bass_note[1].strip():
            return None
        bass = bass_note[0]
    quality = _quality_of(rest.strip())
    return None if quality is None else Chord(root, quality, bass)


def _quality_of(suffix: str) -> int | None:
    """The quality a suffix spells, trying it whole, then without its extensions one by one."""
    suffix = suffix.replace(" ", "")
    while True:
        if suffix in _SPELLINGS:
            return _SPELLINGS[suffix]
        if suffix[:1] == "M" and suffix[1:2] not in ("a", "A", "") and "maj" + suffix[1:] in _SPELLINGS:
            return _SPELLINGS["maj" + suffix[1:]]
        lower = suffix.lower()
        if not suffix.startswith("M") and lower in _LOWER_SPELLINGS:
            return _LOWER_SPELLINGS[lower]
        shorter = _EXTENSION_TAIL.sub("", suffix)
        if shorter == suffix:
            return None
        suffix = shorter


def _read_harte(label: str) -> Chord | None:
    """A Harte label ``root:shorthand(degrees)/bass`` (``C:min7``, ``A:7/3``, ``C:(1,b3,5)``)."""
    root_text, _, rest = label.partition(":")
    note = _read_note(root_text.strip())
    if note is None or note[1].strip():
        return None
    root = note[0]
    rest, _, bass_text = rest.partition("/")
    match = re.fullmatch(r"([^()]*)(?:\(([^()]*)\))?", rest.strip())
    if match is None:
        return None
    shorthand, degrees = match.group(1), match.group(2)
    quality = _quality_of(shorthand) if shorthand else None
    if shorthand and quality is None:
        return None
    if degrees is not None:
        tones = set(QUALITIES[quality].intervals) if quality is not None else set()
        for degree in (part.strip() for part in degrees.split(",") if part.strip()):
            interval = _harte_degree(degree.lstrip("*"))
            if interval is None:
                return None
            (tones.discard if degree.startswith("*") else tones.add)(interval)
        quality = nearest_quality(tones)
    if quality is None:
        return None
    bass = root
    if bass_text.strip():
        interval = _harte_degree(bass_text.strip())
        if interval is None:
            return None
        bass = (root + interval) % 12
    return Chord(root, quality, bass)


def _harte_degree(degree: str) -> int | None:
    """Semitones above the root of a Harte degree: ``b3`` 3, ``#11`` 6, ``5`` 7."""
    shift = 0
    while degree[:1] in ("b", "#"):
        shift += -1 if degree[0] == "b" else 1
        degree = degree[1:]
    if degree not in _HARTE_DEGREES:
        return None
    return (_HARTE_DEGREES[degree] + shift) % 12


def parse_progression(text: str) -> list[tuple[int, float | None]]:
    """A progression a user typed, as ``(chord, beats)`` pairs; ``beats`` is None where no
    length was given. Chords are separated by spaces, commas or bar lines; ``:N`` after a
    chord is its length in beats (``"Dm7:2 G7:2 Cmaj7:4"``), so a Harte label's colon is not
    read here: write ``C7``, not ``C:7`` (which is C for seven beats)."""
    progression: list[tuple[int, float | None]] = []
    for item in re.split(r"[\s,|]+", text.strip()):
        if not item:
            continue
        length = _LENGTH.match(item)
        label, beats = (length.group(1), float(length.group(2))) if length else (item, None)
        if beats is not None and beats <= 0:
            raise ConfigError(f"the chord {item!r} has no length: give a positive number of beats")
        progression.append((parse_chord(label), beats))
    if not progression:
        raise ConfigError("no chords given: write them like 'C G Am F' or 'Dm7:2 G7:2 Cmaj7:4'")
    return progression
