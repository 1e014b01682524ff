"""Reading score files (MusicXML, ABC, Humdrum kern) through music21, whole collections included.

A score file may hold one piece or many: a multi-tune ABC file (a folk collection) or any
file music21 parses to an ``Opus``. :func:`read_score_pieces` returns one
:class:`ScorePiece` per piece, in file order, each with the standard MIDI file music21
writes for it, so the tokenizer reads scores exactly as it reads MIDI. A tune that fails is
returned with its ``error`` set instead of losing the whole file.

Multi-tune ABC files are split into tunes here, at each ``X:`` line (the file header, the
field lines before the first ``X:``, is given to every tune), and each tune is parsed on its
own: music21's own Opus reader tokenizes the whole file at once (one bad tune loses them
all), orders tunes by reference number rather than by position and merges tunes that share
a number.

Six music21 problems are repaired:

* **Shared objects** (the "TimeSignature ... is already found in this Stream" failure).
  When an ABC bar is longer than its meter, music21's ``abcFormat.translate.reBar`` splits
  it, gives the overflow its own time signature and puts the *same* ``TimeSignature``
  object back into the next measure, so one object sits in two measures; the MIDI
  writer's ``conductorStream`` then inserts it twice into the conductor track and fails.
  :func:`separate_shared_elements` gives every repeated occurrence its own deep copy.
* **Fields after a barline.** music21's ABC reader drops a field that directly follows a
  barline (a meter, key or unit-length change on its own line), and reads inline fields
  (``[M:2/4]``) as chords: see :func:`parse_abc_tune`.
* **Interleaved ABC voices** (``V:1`` ... ``V:2`` ... ``V:1`` ...) became one part per
  block, all from the start; they are gathered per voice (:func:`group_voices`) and voices
  without notes dropped (:func:`remove_empty_parts`).
* **Unnamed tracks**: parts without an instrument (ABC voices) get one named after the
  part, so every MIDI track has a name (:func:`name_parts`).
* **Grace notes** are dropped: music21 writes them as zero-length notes that MIDI readers
  hold until the next note of the same pitch (:func:`remove_grace_notes`).
* **Repeats music21 cannot expand.** The MIDI writer expands repeats itself; where it
  raises, the piece is played through once as written (:func:`remove_repeats`).

Chord symbols (``harmony.ChordSymbol``: MusicXML ``<harmony>``, ABC's quoted chords) have no
length, so music21's MIDI writer would write each as a zero-length chord of notes (held until
the next note of its pitch) and the grace-note repair removed them. Instead the repeats are
expanded first, the chord symbols taken out with their offsets
(:func:`musicgen.music.score_chords.take_chord_symbols`)
and written into the MIDI bytes as a ``Chords`` track (:func:`musicgen.music.smf.chord_track`),
which the MIDI reader reads back as the piece's chords. ABC chord annotations are first
rewritten as names music21 reads (:func:`~musicgen.music.score_chords.normalise_abc_chords`: it drops ``Gd``, reads
``D/f+`` as augmented).
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import re
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from musicgen.errors import MidiError
from musicgen.music.score_chords import normalise_abc_chords, take_chord_symbols
from musicgen.music.smf import append_tracks, chord_track

SCORE_SUFFIXES = frozenset({".xml", ".mxl", ".musicxml", ".abc", ".krn"})
MAX_SCORE_BYTES = 64 << 20
MAX_REASON_CHARS = 300

_REFERENCE_LINE = re.compile(r"^[ \t]*X:[ \t]*(.*?)[ \t]*$", re.MULTILINE)
_INLINE_FIELD = re.compile(r"\[([KLMQV]):([^\]\n]*)\]")
_KEY_LINE = re.compile(r"^[ \t]*K:")
_VOICE_LINE = re.compile(r"^[ \t]*V:[ \t]*(\S+)")
_TITLE_LINE = re.compile(r"^[ \t]*T:[ \t]*(.*?)[ \t]*$", re.MULTILINE)
_HEADER_FIELD = re.compile(r"^[ \t]*(?:[A-SU-WYZa-z]:|%%|%abc)")  # fields but T: and X:; directives


@dataclass(frozen=True)
class ScorePiece:
    """One piece of a score file: its MIDI bytes, or why it could not be read."""

    key: str  # "" when the file holds one piece; else the piece's id inside the file, e.g. "12"
    midi: bytes | None  # a standard MIDI file of the piece, as music21 writes it
    error: str | None  # why this piece could not be read (then midi is None)
    title: str = ""  # the tune/score title when known


@dataclass(frozen=True)
class AbcTune:
    """The text of one tune of an ABC file, with its reference number and title."""

    reference: str  # the X: field's value ("" when the tune has none)
    title: str
    text: str  # the file header's fields followed by the tune, ready for music21


def read_score_pieces(path: str | os.PathLike) -> list[ScorePiece]:
    """Every piece of a MusicXML, ABC or kern file as MIDI, in file order.

    A file with one piece gives one :class:`ScorePiece` with key ``""``; a multi-tune ABC
    file or an ``Opus`` gives one per tune, keyed by the tunes' reference numbers when
    they are all distinct, else by 1-based position. A tune that fails has ``error`` set.
    Raises :class:`MidiError` (``"<path>: <reason>"``) when the file cannot be read at all:
    missing, empty, unparseable, or none of its pieces readable.
    """
    path = Path(path)
    data = _read_score_bytes(path)
    kind = path.suffix.lower().lstrip(".")
    with quiet_music21():
        if kind == "abc":
            tunes = split_abc_tunes(decode_text(data))
            if len(tunes) > 1:
                keys = piece_keys([tune.reference for tune in tunes])
                pieces = [_abc_tune_piece(key, tune) for key, tune in zip(keys, tunes, strict=True)]
                return _checked(path, pieces)
            text = tunes[0].text if tunes else decode_text(data)
            return [_single_piece(path, kind, lambda: parse_abc_tune(text))]
        parsed = _parse_or_raise(path, kind, lambda: _parse_file(path))
        if _is_opus(parsed):
            scores = list(parsed.scores)
            if not scores:
                raise MidiError(f"{path}: the {kind} file holds no scores")
            if len(scores) > 1:
                keys = piece_keys([_score_number(score) for score in scores])
                pieces = [_score_piece(key, score) for key, score in zip(keys, scores, strict=True)]
                return _checked(path, pieces)
            parsed = scores[0]
        piece = _score_piece("", parsed)
        if piece.error is not None:
            raise MidiError(f"{path}: cannot write as MIDI: {piece.error}")
        return [piece]


def split_abc_tunes(text: str) -> list[AbcTune]:
    """Split ABC text into tunes at each ``X:`` line; [] when there is none.

    Each tune runs to the next ``X:`` line (as music21 splits them, so blank lines inside a
    tune are kept). The file header's field lines (everything before the first ``X:``
    except titles and comments) are put in front of every tune, as the ABC standard says
    they apply to all of them.
    """
    starts = [match.start() for match in _REFERENCE_LINE.finditer(text)]
    if not starts:
        return []
    header_lines = [line for line in text[: starts[0]].splitlines() if _HEADER_FIELD.match(line)]
    header = "".join(line + "\n" for line in header_lines)
    tunes = []
    for start, end in zip(starts, starts[1:] + [len(text)], strict=True):
        body = text[start:end]
        reference = _REFERENCE_LINE.match(body)
        title = _TITLE_LINE.search(body)
        tunes.append(
            AbcTune(
                reference=reference.group(1) if reference else "",
                title=title.group(1) if title else "",
                text=header + body,
            )
        )
    return tunes


def piece_keys(references: list[str]) -> list[str]:
    """Keys of a file's pieces: their reference numbers if all present and distinct, else 1, 2, ..."""
    if all(references) and len(set(references)) == len(references):
        return list(references)
    return [str(position) for position in range(1, len(references) + 1)]


def score_to_midi(score: Any) -> bytes:
    """The standard MIDI file music21 writes for ``score``, after the repairs above.

    Repeats are expanded where music21 can; where its expander raises, the repeat signs
    are removed and the piece is played through once; failing that, the parts are written
    without their measures. ``score`` is modified in place.
    """
    remove_grace_notes(score)
    remove_empty_parts(score)
    name_parts(score)
    separate_shared_elements(score)
    try:
        # Chord symbols are read as played, repeats expanded (the writer expands again: only for them).
        expand = all(score.recurse().getElementsByClass(kind).first() is not None for kind in ("Harmony", "Measure"))
        return _midi_with_chords(score.expandRepeats() if expand else score)
    except Exception:  # music21's repeat expander raises several types
        pass
    if remove_repeats(score):
        try:
            return _midi_with_chords(score)
        except Exception:  # noqa: BLE001 - the last resort below
            pass
    # The writer expands repeats of any score with measures and fails when only some parts
    # have measures (an ABC voice music21 reads without bars): write the parts unbarred.
    return _midi_with_chords(without_measures(score))


def _midi_with_chords(score: Any) -> bytes:
    """music21's MIDI file of ``score`` (chord symbols taken out) with a ``Chords`` track."""
    from music21 import midi

    chords = take_chord_symbols(score)
    data = midi.translate.music21ObjectToMidiFile(score).writestr()
    if not chords:
        return data
    ticks_per_quarter = int.from_bytes(data[12:14], "big")
    return append_tracks(data, [chord_track(chords, ticks_per_quarter)])


def remove_grace_notes(score: Any) -> int:
    """Drop grace notes (and any other note without duration); return how many.

    music21 writes a zero-length note as a note-off followed by a note-on at the same tick,
    so MIDI readers pair that note-on with the next note-off of its pitch: an ABC grace
    note ``{d}`` became a D held for bars. Chord symbols (no length either) are kept for
    :func:`take_chord_symbols`.
    """
    from music21 import harmony

    graces = [element for element in score.recurse().notes
              if (element.duration.isGrace or element.quarterLength == 0) and not isinstance(element, harmony.Harmony)]
    for element in graces:
        element.activeSite.remove(element)
    return len(graces)


def without_measures(score: Any) -> Any:
    """A copy of ``score`` whose parts are flattened: the same notes and meters, no measures."""
    from music21 import stream

    flat = stream.Score()
    if score.metadata is not None:
        flat.insert(0, copy.deepcopy(score.metadata))
    parts = list(score.parts) or [score]
    for part in parts:
        flat.insert(0, part.flatten())
    return flat


def name_parts(score: Any) -> int:
    """Give each part without an instrument one named after it (``Voice 1``...); return how many.

    music21 names a MIDI track after the part's instrument; ABC voices have none, so their
    tracks came out unnamed.
    """
    from music21 import instrument

    named = 0
    for number, part in enumerate(score.parts, start=1):
        if part.getInstrument(returnDefault=False) is None:
            voice = instrument.Instrument()
            voice.partName = part.partName or f"Voice {number}"
            part.insert(0, voice)
            named += 1
    return named


def remove_empty_parts(score: Any) -> int:
    """Drop parts without notes (ABC voices declared in the header only); return how many."""
    parts = list(score.parts) if hasattr(score, "parts") else []
    empty = [part for part in parts if part.recurse().notes.first() is None]
    if len(empty) == len(parts):
        return 0
    for part in empty:
        score.remove(part)
    return len(empty)


def separate_shared_elements(score: Any) -> int:
    """Replace every second and later occurrence of an object in the score by a deep copy.

    music21 keeps one object in several streams in a few places (a ``TimeSignature`` in
    two measures after ``reBar`` splits an over-long ABC bar), which its MIDI writer cannot
    handle. Returns how many occurrences were replaced.
    """
    seen: set[int] = set()
    replaced = 0
    for stream in list(score.recurse(streamsOnly=True, includeSelf=True)):
        for element in list(stream.elements):
            if id(element) in seen:
                stream.replace(element, copy.deepcopy(element))
                replaced += 1
            else:
                seen.add(id(element))
    return replaced


def remove_repeats(score: Any) -> int:
    """Replace the score's repeat barlines by plain ones; drop volta brackets, D.C., segno, coda.

    Returns how many repeat signs were removed (0: the score had none).
    """
    from music21 import bar, repeat, spanner

    removed = 0
    for measure in score.recurse().getElementsByClass("Measure"):
        for side in ("leftBarline", "rightBarline"):
            if isinstance(getattr(measure, side), bar.Repeat):
                setattr(measure, side, bar.Barline("regular"))
                removed += 1
    for stream in list(score.recurse(streamsOnly=True, includeSelf=True)):
        marks = [element for element in stream.elements if isinstance(element, repeat.RepeatExpression)]
        for element in marks + list(stream.getElementsByClass(spanner.RepeatBracket)):
            stream.remove(element)
            removed += 1
    return removed


def decode_text(data: bytes) -> str:
    """Text of an ABC file: UTF-8 (a byte-order mark dropped), else Latin-1."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


@contextlib.contextmanager
def quiet_music21() -> Iterator[None]:
    """Keep music21's warnings (Python warnings and its own stderr messages) off the terminal."""
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def one_line(error: BaseException) -> str:
    """``"Type: message"`` of an exception on one line, shortened to a readable length."""
    message = " ".join(str(error).split())
    reason = f"{type(error).__name__}: {message}" if message else type(error).__name__
    if len(reason) > MAX_REASON_CHARS:
        reason = reason[: MAX_REASON_CHARS - 3] + "..."
    return reason


def _read_score_bytes(path: Path) -> bytes:
    if path.suffix.lower() not in SCORE_SUFFIXES:
        expected = ", ".join(sorted(SCORE_SUFFIXES))
        raise MidiError(f"{path}: not a score file (expected one of {expected})")
    if not path.exists():
        raise MidiError(f"{path}: file not found")
    if not path.is_file():
        raise MidiError(f"{path}: not a file")
    try:
        data = path.read_bytes() if path.stat().st_size <= MAX_SCORE_BYTES else None
    except OSError as error:
        raise MidiError(f"{path}: cannot read: {error}") from error
    if data is None:
        raise MidiError(f"{path}: larger than {MAX_SCORE_BYTES} bytes, too large for a score file")
    if not data.strip():
        raise MidiError(f"{path}: empty file")
    return data


def _parse_file(path: Path) -> Any:
    from music21 import converter

    # forceSource/storePickle: no cache shared between processes, same result every time.
    return converter.parse(str(path), forceSource=True, storePickle=False)


def parse_abc_tune(text: str) -> Any:
    """One ABC tune as a music21 ``Score``, as ``converter.parseData`` reads it but for two repairs.

    A field right after a barline (``| M:2/4 A B``, or ``M:2/4`` on its own line after a bar
    ends) is dropped by music21's ``ABCHandler.splitByMeasure``: the barline and the field
    both mark measure boundaries, adjacent boundaries are merged, and the merged measure
    starts after the field. Mid-tune meter, key and unit-length changes were lost that way;
    :func:`keep_fields_after_barlines` keeps them. Inline fields (``[M:2/4]``), which
    music21 reads as chords, are first written as field lines (:func:`inline_fields_to_lines`),
    and interleaved voice blocks are gathered per voice (:func:`group_voices`).
    """
    from music21 import abcFormat, stream

    text = normalise_abc_chords(group_voices(inline_fields_to_lines(text)))
    handler = abcFormat.ABCHandler()
    handler.parseHeaderForVersionInformation(text[:100])
    handler.process(text)
    keep_fields_after_barlines(handler)
    score = stream.Score()
    abcFormat.translate.abcToStreamScore(handler, score)
    return score


def inline_fields_to_lines(text: str) -> str:
    """``B3 | [M:2/4] A B`` -> ``B3 |`` / ``M:2/4`` / ``A B``: inline meter, key, length, tempo, voice.

    A line break inside ABC music only breaks the printed staff, so the music is unchanged.
    """
    def field_line(match: re.Match) -> str:
        before = "" if match.start() == 0 or text[match.start() - 1] == "\n" else "\n"
        after = "" if match.end() == len(text) or text[match.end()] == "\n" else "\n"
        return f"{before}{match.group(1)}:{match.group(2).strip()}{after}"

    return _INLINE_FIELD.sub(field_line, text)


def group_voices(text: str) -> str:
    """Gather interleaved voice blocks (``V:1`` ... ``V:2`` ... ``V:1`` ...) into one block per voice.

    music21 makes a new part of every ``V:`` block, each starting at the beginning, so a
    two-voice tune written in alternating blocks came out as a pile of parts sounding at
    once. A voice's first ``V:`` line (with its properties) heads its gathered block; lines
    before the first ``V:`` in the tune body stay in front.
    """
    lines = text.splitlines()
    body_start = next((index + 1 for index, line in enumerate(lines) if _KEY_LINE.match(line)), None)
    if body_start is None:
        return text
    leading: list[str] = []
    voices: dict[str, list[str]] = {}
    current = None
    for line in lines[body_start:]:
        match = _VOICE_LINE.match(line)
        if match:
            current = match.group(1)
            voices.setdefault(current, [line.strip()])
            continue
        (voices[current] if current is not None else leading).append(line)
    if len(voices) < 2:
        return text
    grouped = lines[:body_start] + leading + [line for block in voices.values() for line in block]
    return "\n".join(grouped) + "\n"


def keep_fields_after_barlines(handler: Any) -> int:
    """Put an empty token between each barline and a field that follows it; return how many.

    The empty token (which music21 ignores) stops the barline and the field from counting
    as one measure boundary, so the field starts the next measure instead of vanishing.
    """
    from music21 import abcFormat

    tokens: list = []
    for token in handler.tokens:
        if isinstance(token, abcFormat.ABCMetadata) and tokens and isinstance(tokens[-1], abcFormat.ABCBar):
            tokens.append(abcFormat.ABCToken(""))
        tokens.append(token)
    inserted = len(tokens) - len(handler.tokens)
    handler.tokens = tokens
    return inserted


def _parse_or_raise(path: Path, kind: str, parse: Any) -> Any:
    try:
        return parse()
    except Exception as error:  # music21 raises many types on bad input
        raise MidiError(f"{path}: cannot read as {kind} score: {one_line(error)}") from error


def _single_piece(path: Path, kind: str, parse: Any) -> ScorePiece:
    piece = _score_piece("", _parse_or_raise(path, kind, parse))
    if piece.error is not None:
        raise MidiError(f"{path}: cannot write as MIDI: {piece.error}")
    return piece


def _abc_tune_piece(key: str, tune: AbcTune) -> ScorePiece:
    try:
        score = parse_abc_tune(tune.text)
    except Exception as error:  # music21 raises many types on bad input
        return ScorePiece(key=key, midi=None, error=one_line(error), title=tune.title)
    piece = _score_piece(key, score)
    return piece if piece.title else ScorePiece(piece.key, piece.midi, piece.error, tune.title)


def _score_piece(key: str, score: Any) -> ScorePiece:
    title = _score_title(score)
    if score.recurse().notes.first() is None:
        return ScorePiece(key=key, midi=None, error="the score has no notes", title=title)
    try:
        midi = score_to_midi(score)
    except Exception as error:  # music21's writer raises many types
        return ScorePiece(key=key, midi=None, error=one_line(error), title=title)
    return ScorePiece(key=key, midi=midi, error=None, title=title)


def _checked(path: Path, pieces: list[ScorePiece]) -> list[ScorePiece]:
    if all(piece.midi is None for piece in pieces):
        raise MidiError(f"{path}: none of its {len(pieces)} pieces could be read (first: {pieces[0].error})")
    return pieces


def _is_opus(parsed: Any) -> bool:
    return "Opus" in parsed.classes


def _score_number(score: Any) -> str:
    number = getattr(score.metadata, "number", None) if score.metadata is not None else None
    return "" if number is None else str(number).strip()


def _score_title(score: Any) -> str:
    metadata = score.metadata
    if metadata is None:
        return ""
    title = metadata.title or metadata.movementName or ""
    return " ".join(str(title).split())


if __name__ == "__main__":  # pragma: no cover - a manual check: python -m musicgen.music.scores FILE
    for piece in read_score_pieces(sys.argv[1]):
        status = f"{len(piece.midi)} bytes" if piece.midi is not None else piece.error
        print(f"{piece.key or '-'}\t{piece.title}\t{status}")
