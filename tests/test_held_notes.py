"""Held notes under chord guidance: a note's length that would carry it into a chord it is no tone
of (a later change of its bar, or the next bar of a chord plan) is held back."""

from __future__ import annotations

import numpy as np
import pytest
from guidance_rows import guidance_rows

from musicgen.music.chords import parse_chord
from musicgen.tokens import Kind, Tokenizer, TokenizerConfig

CONFIG = TokenizerConfig(min_pitch=36, max_pitch=84, velocity_bins=4, max_tracks=4, pedal="ignore", chords=True)
BAR = 4 * CONFIG.steps_per_quarter  # a 4/4 bar in steps; the note starts on beat 2, the chord turns on beat 3


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer(CONFIG)


def _lengths(tokenizer: Tokenizer, track: int, pitch: int, starts: list[str] | None) -> dict[int, float]:
    """What :class:`HeldNotes` adds to each length of a note of ``pitch`` on beat 2 of a 4/4 bar under
    C that turns to Am on beat 3, on ``track`` (0: piano, 1: drums), the plan's bars beginning with
    ``starts``; the compiled rules and the token-by-token sampler's NumPy rules add the same."""
    from musicgen.generation.steering import held_notes

    name = tokenizer.id_of
    plan = None if starts is None else np.array([parse_chord(chord) for chord in starts])
    guidance = held_notes(tokenizer, 3.0, plan, first=1)
    song = [tokenizer.bos_id, name(Kind.PROGRAM, 0), name(Kind.PROGRAM, 128), name(Kind.BAR),
            name(Kind.TIME_SIGNATURE, tokenizer.meters.index((4, 4))),
            name(Kind.CHORD, parse_chord("C")), name(Kind.POSITION, BAR // 2), name(Kind.CHORD, parse_chord("Am")),
            name(Kind.TRACK, track), name(Kind.POSITION, BAR // 4), name(Kind.PITCH, pitch), name(Kind.VELOCITY, 2)]
    row = guidance_rows(tokenizer, guidance, [song])[0]
    length = tokenizer.kinds == Kind.DURATION
    assert not row[~length].any()  # only a note's length moves
    return dict(zip(tokenizer.values[length].tolist(), row[length].tolist(), strict=True))


def test_a_note_is_not_held_into_a_later_chord_of_its_bar_that_lacks_it(tokenizer: Tokenizer) -> None:
    """G on beat 2 under C: for a beat it is a chord tone; held past the change to Am it is not."""
    lengths = _lengths(tokenizer, 0, 67, None)
    assert max(lengths[steps] for steps in range(1, BAR // 4 + 1)) == 0.0
    assert min(value for steps, value in lengths.items() if steps > BAR // 4) == -3.0
    assert max(value for steps, value in lengths.items() if steps > BAR // 4) == -3.0


def test_a_note_is_not_held_over_the_bar_line_into_the_plans_next_chord(tokenizer: Tokenizer) -> None:
    """E on beat 2 is a tone of C and of Am: free to the bar line. Over it, the plan's next
    bar is G, which lacks E; under a plan whose next bar is Em it may be held; with no plan (the next
    chord not known ahead) nothing is held back; drums never are."""
    lengths = _lengths(tokenizer, 0, 64, ["C", "G"])
    assert max(lengths[steps] for steps in range(1, BAR * 3 // 4 + 1)) == 0.0
    assert min(value for steps, value in lengths.items() if steps > BAR * 3 // 4) == -3.0
    assert max(value for steps, value in lengths.items() if steps > BAR * 3 // 4) == -3.0
    assert not any(_lengths(tokenizer, 0, 64, ["C", "Em"]).values())
    assert not any(_lengths(tokenizer, 0, 64, None).values())
    assert not any(_lengths(tokenizer, 1, 64, ["C", "G"]).values())


def test_the_plan_cycles_from_its_first_bar(tokenizer: Tokenizer) -> None:
    """A one-bar plan of G: the bar after is G again (the rows cycle), so E held over is held back."""
    lengths = _lengths(tokenizer, 0, 64, ["G"])
    assert lengths[BAR * 3 // 4] == 0.0 and lengths[BAR * 3 // 4 + 1] == -3.0


def test_a_later_section_reads_the_plan_where_the_piece_is(tokenizer: Tokenizer) -> None:
    """A form samples a later section after a prefix of ``done`` bars, whose bars the grammar counts
    anew: shifted by them, the held notes (and the chord plan) read the row of the piece's own bar."""
    from musicgen.generation.processors import ChordPlan
    from musicgen.generation.steering import held_notes
    from musicgen.tokens.grammar import NumpyOps

    plan = np.array([parse_chord(chord) for chord in ("C", "G", "Am", "F")])
    guidance = held_notes(tokenizer, 3.0, plan, first=1)
    shifted = guidance.shifted(2)
    changes = (np.full((1, 4), 1 << 20, np.int32), np.full((1, 4), -1, np.int32))

    def bias(item: object, bar: int) -> np.ndarray:  # C (60) on beat 3 of a 4/4 bar, held for any length
        now = (np.array([60]), np.array([BAR // 2]), np.array([BAR]), np.array([bar]), *changes)
        return item.bias(item.inputs(), now, np.array([False]), NumpyOps())[0]

    # Bar 1 of the section is bar 3 of the piece, under Am, before F (which has C): nothing held back;
    # read unshifted, bar 1 is under C before G (which lacks C).
    np.testing.assert_array_equal(bias(shifted, 1), bias(guidance, 3))
    assert not bias(shifted, 1).any() and bias(guidance, 1).min() == -3.0
    assert guidance.inputs()["first"][0] == 1  # the original is left as it was
    assert ChordPlan(np.zeros((4, 1), np.int32), first=1).shifted(2).first == -1
