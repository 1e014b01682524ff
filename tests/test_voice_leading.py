"""Voice leading (``--voice-leading``): the grammar knows what each track sounds in the bar, and
a part that would move with another into the same fifth or octave is held back."""

from __future__ import annotations

import dataclasses

import pytest
from guidance_rows import guidance_rows

from musicgen.tokens import Kind, Tokenizer, TokenizerConfig

CONFIG = TokenizerConfig(min_pitch=36, max_pitch=84, velocity_bins=4, max_tracks=4, pedal="ignore")


def _notes(tokenizer: Tokenizer, track: int, notes: list[tuple[int, int, int]]) -> list[int]:
    """A track's part of a bar: ``(position, pitch, steps)`` notes."""
    name = tokenizer.id_of
    tokens = [name(Kind.TRACK, track)]
    for position, pitch, steps in notes:
        tokens += [name(Kind.POSITION, position), name(Kind.PITCH, pitch), name(Kind.VELOCITY, 2),
                   name(Kind.DURATION, steps)]
    return tokens


def _penalties(tokenizer: Tokenizer, tokens: list[int], strength: float = 8.0) -> dict[int, float]:
    """What :class:`VoiceLeading` adds to each pitch after ``tokens``, from the compiled rules; the
    token-by-token sampler's NumPy rules (a checker) add the same."""
    from musicgen.generation.steering import voice_leading

    row = guidance_rows(tokenizer, voice_leading(tokenizer, strength), [[tokenizer.bos_id, *tokens]])[0]
    pitch = tokenizer.roles.pitch
    assert not row[~pitch].any()
    return dict(zip(tokenizer.values[pitch].tolist(), row[pitch].tolist(), strict=True))


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer(CONFIG)


def _bar(tokenizer: Tokenizer, programs: list[int]) -> list[int]:
    name = tokenizer.id_of
    return [*(name(Kind.PROGRAM, program) for program in programs), name(Kind.BAR),
            name(Kind.TIME_SIGNATURE, tokenizer.meters.index((4, 4)))]


def test_a_voice_moving_with_another_into_the_same_fifth_or_octave_is_held_back(tokenizer: Tokenizer) -> None:
    """G4 -> A4 above, C4 below: the lower voice's D4 (and E5, a fifth above) would be parallel
    fifths, its E4 or a step down would not; C4 -> C5 under G4 -> A4 is no parallel."""
    name = tokenizer.id_of
    song = [*_bar(tokenizer, [52, 52, 128]), *_notes(tokenizer, 0, [(0, 67, 12), (12, 69, 12)]),
            *_notes(tokenizer, 1, [(0, 60, 12)]), name(Kind.POSITION, 12)]
    row = _penalties(tokenizer, song)
    assert row[62] == row[76] == -8.0 and row[64] == row[59] == row[60] == row[57] == 0.0
    octaves = [*_bar(tokenizer, [52, 52]), *_notes(tokenizer, 0, [(0, 67, 12), (12, 69, 12)]),
               *_notes(tokenizer, 1, [(0, 55, 12)]), name(Kind.POSITION, 12)]
    row = _penalties(tokenizer, octaves)
    assert row[57] == row[69] == row[81] == -8.0 and row[59] == row[53] == 0.0  # A3, A4, A5: parallel octaves
    assert row[45] == 0.0  # A2: into the octave by contrary motion


def test_held_notes_a_bass_and_drums_are_left_alone(tokenizer: Tokenizer) -> None:
    name = tokenizer.id_of
    held = [*_bar(tokenizer, [52, 52]), *_notes(tokenizer, 0, [(0, 67, 24)]), *_notes(tokenizer, 1, [(0, 60, 12)]),
            name(Kind.POSITION, 12)]
    assert not any(_penalties(tokenizer, held).values())  # the upper voice holds: oblique motion
    bass = [*_bar(tokenizer, [52, 33]), *_notes(tokenizer, 0, [(0, 67, 12), (12, 69, 12)]),
            *_notes(tokenizer, 1, [(0, 48, 12)]), name(Kind.POSITION, 12)]
    assert not any(_penalties(tokenizer, bass).values())  # a bass guitar keeps its roots
    drums = [*_bar(tokenizer, [52, 128]), *_notes(tokenizer, 0, [(0, 67, 12), (12, 69, 12)]),
             *_notes(tokenizer, 1, [(0, 36, 12)]), name(Kind.POSITION, 12)]
    assert not any(_penalties(tokenizer, drums).values())


def test_the_last_step_of_a_bar_carries_into_the_next(tokenizer: Tokenizer) -> None:
    """Fifths from beat 4 of one bar to beat 1 of the next count: the bar line keeps each voice's
    last pitch. Strength 0, or an encoding without tracks, is no processor."""
    from musicgen.generation.steering import voice_leading

    name = tokenizer.id_of
    song = [*_bar(tokenizer, [52, 52]), *_notes(tokenizer, 0, [(0, 65, 48)]), *_notes(tokenizer, 1, [(0, 58, 48)]),
            name(Kind.BAR), *_notes(tokenizer, 0, [(0, 67, 48)]), name(Kind.TRACK, 1), name(Kind.POSITION, 0)]
    row = _penalties(tokenizer, song)
    assert row[60] == -8.0 and row[62] == 0.0  # F4 -> G4 over B-flat3 -> C4: parallel fifths
    events = Tokenizer(dataclasses.replace(CONFIG, encoding="events"))  # no tracks: nothing to lead
    assert voice_leading(tokenizer, 0.0) is None and voice_leading(events, 8.0) is None
