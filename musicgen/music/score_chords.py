"""music21's chord symbols as chords of the vocabulary (:mod:`musicgen.music.chords`).

:func:`take_chord_symbols` takes a score's ``Harmony`` objects out (music21's MIDI writer would
write them as zero-length chords) and returns them with their offsets, for
:mod:`musicgen.music.scores` to write into the MIDI bytes as a ``Chords`` track.
:func:`normalise_abc_chords` rewrites ABC chord annotations music21 misreads before it parses them.
"""

from __future__ import annotations

import re
from typing import Any

from musicgen.errors import ConfigError
from musicgen.music.chords import NO_CHORD, ROOT_NAMES, chord_name, parse_chord, read_chord

_FIELD_OR_COMMENT = re.compile(r"^[ \t]*(?:[A-Za-z]:|%)")
_QUOTED = re.compile(r'"([^"\n]*)"')


def take_chord_symbols(score: Any) -> list[tuple[float, int]]:
    """Remove the score's chord symbols and return them as ``(offset in quarters, chord
    number)``, sorted; a symbol no chord can be read from is dropped (``N.C.`` is a chord)."""
    from music21 import harmony

    found = []
    for symbol in list(score.recurse().getElementsByClass(harmony.Harmony)):
        offset = float(symbol.getOffsetInHierarchy(score))
        chord = chord_of_symbol(symbol)
        symbol.activeSite.remove(symbol)
        if chord is not None:
            found.append((offset, chord))
    return sorted(found, key=lambda change: change[0])


def chord_of_symbol(symbol: Any) -> int | None:
    """The chord number of a music21 ``Harmony``: its MusicXML kind on its root when the kind
    is one the vocabulary spells, else its figure; None when neither reads."""
    from music21 import harmony

    if isinstance(symbol, harmony.NoChord):
        return NO_CHORD
    root = symbol.root() if isinstance(symbol, harmony.ChordSymbol) else None
    kind = getattr(symbol, "chordKind", "") or ""
    labels = [f"{ROOT_NAMES[root.pitchClass]}:{kind}"] if root is not None and kind not in ("", "other", "none") else []
    labels.append(str(getattr(symbol, "figure", "") or ""))
    for label in labels:
        try:
            return parse_chord(label)
        except ConfigError:
            continue
    return None


def normalise_abc_chords(text: str) -> str:
    """ABC text with each quoted chord annotation music21 would misread written as its chord's
    name (``"Gd"`` -> ``"Gdim"``, ``"D/f+"`` -> ``"D"``); annotations that are no chords (``"^Fine"``)
    and field lines are left alone. Inversions are dropped, as the chord vocabulary drops them."""
    def name(match: re.Match) -> str:
        content = match.group(1)
        if content[:1] in "^_<>@":
            return match.group(0)
        try:
            chord = read_chord(content)
        except ConfigError:
            return match.group(0)
        return f'"{chord_name(NO_CHORD if chord is None else chord.number)}"'

    return "".join(line if _FIELD_OR_COMMENT.match(line) else _QUOTED.sub(name, line)
                   for line in text.splitlines(keepends=True))
