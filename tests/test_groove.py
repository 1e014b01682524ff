"""The groove under chords: a part is pulled to play a bar again only where that bar stated this
bar's chords (drums always), so a bass never repeats its A-minor bar under C."""

from __future__ import annotations

import numpy as np
from guidance_rows import guidance_rows

from musicgen.music.chords import parse_chord
from musicgen.tokens import Kind, Tokenizer, TokenizerConfig

CONFIG = TokenizerConfig(min_pitch=36, max_pitch=84, velocity_bins=4, max_tracks=4, pedal="ignore", chords=True,
                         repeats=(1, 2, 4))


def test_a_part_is_pulled_to_play_again_only_a_bar_under_the_same_chords() -> None:
    """Bars under C, G, C: in the third, the piano's REPEAT(2) (the C bar) is pulled (half the
    strength) and its REPEAT(1) (the G bar) not at all; the drums' both, fully. Masker and checker
    agree."""
    from musicgen.generation.steering import groove_pull

    tokenizer = Tokenizer(CONFIG)
    pull, name = groove_pull(tokenizer, 4.0), tokenizer.id_of
    song = [tokenizer.bos_id, name(Kind.PROGRAM, 0), name(Kind.PROGRAM, 128)]
    for bar, chord in enumerate(("C", "G", "C")):
        song += [name(Kind.BAR), *([name(Kind.TIME_SIGNATURE, tokenizer.meters.index((4, 4)))] if bar == 0 else []),
                 name(Kind.CHORD, parse_chord(chord))]
        if bar < 2:
            for track in (0, 1):
                song += [name(Kind.TRACK, track), name(Kind.POSITION, 0), name(Kind.PITCH, 60), name(Kind.VELOCITY, 2),
                         tokenizer.duration_id(4 * CONFIG.steps_per_quarter)]
    rows = guidance_rows(tokenizer, pull, [[*song, name(Kind.TRACK, track)] for track in (0, 1)])  # piano, drums
    repeat = np.flatnonzero(tokenizer.roles.repeat)
    piano, drums = ({int(tokenizer.values[token]): float(row[token]) for token in repeat} for row in rows)
    assert piano == {1: 0.0, 2: 2.0, 4: 2.0} and drums == {1: 4.0, 2: 4.0, 4: 4.0}
