"""The notes encoding's harmony and repetition: CHORD tokens that open a bar, REPEAT tokens that stand for a part.

**Harmony** (``chords=True``). Each bar opens, after its meter, with the chords that sound in
it: ``CHORD(c)`` for the chord at its downbeat, then ``POSITION(q) CHORD(c)`` for each change
inside it (at most one a beat, as :func:`musicgen.music.harmony.chords_of` gives them: the
piece's own chord symbols where it has them, else those recognised from its notes). A chord
is a root and a quality, numbered as :mod:`musicgen.music.chords` numbers them, or no chord
(-1). The model writes the harmony of a bar before its parts, so every part follows it; a chord
plan (``--chords``) is the harmony given.

**Repetition** (``repeats=(1, 2, 4, 8)``). Where a track's part of a bar is note for note the
part it played ``n`` bars back (bars of the same length), it is written ``TRACK(t) REPEAT(n)``
(the smallest such ``n``): a drum pattern that holds, a riff, a returning phrase cost one
token, and the model can say "this bar again" as easily as the data does. Decoding expands
them (:func:`musicgen.tokens.bars.expand`). A training window that starts later than a bar it
refers to has those parts written out (``expand`` with ``before``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from musicgen.tokens.bars import expand, fold  # noqa: F401  (REPEAT parts: the bar structure's)
from musicgen.tokens.base import ProgramStats
from musicgen.tokens.config import Kind

if TYPE_CHECKING:
    from musicgen.music.piece import Piece
    from musicgen.tokens.base import Tokenizer as NoteTokenizer

HARMONY = -1  # the "track" of harmony events: they sort before every track of a bar


def harmony_events(tokenizer: NoteTokenizer, piece: Piece, bar_starts: np.ndarray) -> list[tuple]:
    """The chord events of ``piece`` (bars starting at the steps ``bar_starts``): one at each bar's
    downbeat and one at each change inside a bar, as ``(bar, HARMONY, position, 0, chord, 0, 0)``."""
    from musicgen.music.harmony import chords_at, chords_of

    changes = chords_of(piece)
    if not changes:
        return [(bar, HARMONY, 0, 0, -1, 0, 0) for bar in range(len(bar_starts))]
    steps = tokenizer.to_steps(piece, [beat for beat, _ in changes])
    events = []
    at_bars = chords_at(changes, _beats(tokenizer, piece, bar_starts))
    for bar, chord in enumerate(np.asarray(at_bars).tolist()):
        events.append((bar, HARMONY, 0, 0, int(chord), 0, 0))
    for step, (_, chord) in zip(steps.tolist(), changes, strict=True):
        bar = int(np.searchsorted(bar_starts, step, side="right") - 1)
        position = step - int(bar_starts[bar])
        if 0 <= bar and position > 0:
            events.append((bar, HARMONY, position, 0, int(chord), 0, 0))
    return events


def _beats(tokenizer: NoteTokenizer, piece: Piece, steps: np.ndarray) -> np.ndarray:
    """Grid steps as beats of ``piece`` (seconds timing goes through its tempo map)."""
    if tokenizer.config.timing == "beats":
        return np.asarray(steps, np.float64) / tokenizer.config.steps_per_quarter
    seconds = np.asarray(steps, np.float64) / tokenizer.config.steps_per_second
    grid = np.linspace(0.0, max(piece.end_beat, 1.0) + 8.0, 4096)
    return np.interp(seconds, piece.seconds(grid), grid)


def harmony_tokens(tokenizer: NoteTokenizer, events: list[tuple]) -> list[int]:
    """A bar's harmony events as tokens: ``CHORD(c)``, then ``POSITION(q) CHORD(c)`` per change."""
    tokens: list[int] = []
    last = None
    for _, _, position, _, chord, _, _ in events:
        if position and chord == last:
            continue  # a change to the chord already sounding is no change
        if position:
            tokens.append(tokenizer.id_of(Kind.POSITION, position))
        tokens.append(tokenizer.id_of(Kind.CHORD, chord))
        last = chord
    return tokens


def has_repeats(tokenizer: NoteTokenizer, ids: Any) -> bool:
    """Whether ``ids`` hold a REPEAT token."""
    ids = np.asarray(ids).reshape(-1)
    ids = ids[(ids >= 0) & (ids < tokenizer.vocab_size)]
    return bool(tokenizer.config.repeats) and bool(np.any(tokenizer.kinds[ids] == Kind.REPEAT))


def program_stats(tokenizer: NoteTokenizer, ids: Any) -> dict[int, ProgramStats]:
    """Each program's longest DURATION, lowest and highest PITCH, and most PITCHes at one POSITION."""
    ids = np.asarray(ids).reshape(-1)
    ids = ids[(ids >= 0) & (ids < tokenizer.vocab_size)]
    kinds, values = tokenizer.kinds[ids], tokenizer.values[ids]
    header = np.asarray(tokenizer.track_programs(ids), np.int64)
    track_positions = np.flatnonzero(kinds == Kind.TRACK)
    notes = np.flatnonzero(kinds == Kind.PITCH)
    if not len(notes) or not len(track_positions) or not len(header):
        return {}
    owner = values[track_positions[np.maximum(np.searchsorted(track_positions, notes, side="right") - 1, 0)]]
    programs = header[np.minimum(owner, len(header) - 1)]
    durations = np.flatnonzero(kinds == Kind.DURATION)
    lengths = values[durations[np.minimum(np.searchsorted(durations, notes), len(durations) - 1)]]
    opening = np.flatnonzero(np.isin(kinds, [int(Kind.POSITION), int(Kind.TRACK), int(Kind.BAR)]))
    group = np.searchsorted(opening, notes, side="right")  # notes of one position share a group
    stats = {}
    for program in np.unique(programs).tolist():
        mine = programs == program
        stats[program] = ProgramStats(int(lengths[mine].max()), int(values[notes[mine]].min()),
                                      int(values[notes[mine]].max()), int(np.bincount(group[mine]).max()))
    return stats


def chord_plan(tokenizer: NoteTokenizer, progression: str, meter: tuple[int, int] = (4, 4)) -> np.ndarray:
    """The harmony tokens of each bar of a progression (``"C G Am F"``: a chord a bar;
    ``"Dm7:2 G7:2 Cmaj7:4"``: lengths in beats of ``meter``), as a ``(bars, tokens)`` int32 array
    (-1 after a bar's last token); a sampler cycles through its bars (:class:`ChordPlan`)."""
    from musicgen.errors import ConfigError
    from musicgen.music.chords import parse_progression

    if not tokenizer.config.chords:
        raise ConfigError("this model was trained without chords; --chords needs a model whose bars state their "
                          "chords (train it again, or use the shipped base model)")
    numerator, denominator = meter
    beat = 4 * tokenizer.config.steps_per_quarter // denominator
    bar = numerator * beat
    chords = parse_progression(progression)
    starts, step = [], 0
    for chord, beats in chords:
        starts.append((step, chord))
        step += int(round((beats if beats is not None else numerator) * beat))
    total = max(bar, -(-step // bar) * bar)
    rows: list[list[int]] = []
    for first in range(0, total, bar):
        sounding = [chord for at, chord in starts if at <= first][-1]
        row = [tokenizer.id_of(Kind.CHORD, sounding)]
        for at, chord in starts:
            if first < at < first + bar:
                row += [tokenizer.id_of(Kind.POSITION, at - first), tokenizer.id_of(Kind.CHORD, chord)]
        rows.append(row)
    plan = np.full((len(rows), max(len(row) for row in rows)), -1, np.int32)
    for index, row in enumerate(rows):
        plan[index, :len(row)] = row
    return plan


def pedal_events(tokenizer: NoteTokenizer, piece: Piece, track_of: np.ndarray, bar_starts: np.ndarray) -> list[tuple]:
    """The pedal changes of ``piece`` kept as events (``pedal="events"``), as ``(bar, track, position, 0/1, 0, 0, 0)``."""
    if tokenizer.config.pedal != "events" or not len(piece.pedals):
        return []
    events, state = [], {}
    pedals = piece.pedals[np.argsort(piece.pedals[:, 0], kind="stable")]
    for step, source, down in zip(tokenizer.to_steps(piece, pedals[:, 0]).tolist(), pedals[:, 1].astype(int).tolist(),
                                  pedals[:, 2].tolist(), strict=True):
        track = int(track_of[source]) if source < len(track_of) else -1
        if track < 0 or piece.tracks[source].is_drum or state.get(track) == bool(down):
            continue
        state[track] = bool(down)
        bar = int(np.searchsorted(bar_starts, step, side="right") - 1)
        events.append((bar, track, step - int(bar_starts[bar]), int(bool(down)), 0, 0, 0))
    return events
