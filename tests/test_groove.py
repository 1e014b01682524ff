"""The groove under chords: a part is pulled to play a bar again only where that bar stated this
bar's chords (drums always), so a bass never repeats its A-minor bar under C."""

from __future__ import annotations

import dataclasses

import numpy as np

from musicgen.generation.processors import StepContext
from musicgen.music.chords import parse_chord
from musicgen.tokens import Kind, Tokenizer, TokenizerConfig

CONFIG = TokenizerConfig(min_pitch=36, max_pitch=84, velocity_bins=4, max_tracks=4, pedal="ignore", chords=True,
                         repeats=(1, 2, 4))


def test_a_part_is_pulled_to_play_again_only_a_bar_under_the_same_chords() -> None:
    """Bars under C, G, C: in the third, the piano's REPEAT(2) (the C bar) is pulled (half the
    strength) and its REPEAT(1) (the G bar) not at all; the drums' both, fully. Masker and checker
    agree."""
    import tensorflow as tf

    from musicgen.generation.steering import groove_pull

    tokenizer = Tokenizer(dataclasses.replace(CONFIG))
    pull, name = groove_pull(tokenizer, 4.0), tokenizer.id_of
    grammar = tokenizer.grammar()
    masker, checkers = grammar.masker(), [grammar.checker(), grammar.checker()]
    params = masker.params()
    song = [tokenizer.bos_id, name(Kind.PROGRAM, 0), name(Kind.PROGRAM, 128)]
    for bar, chord in enumerate(("C", "G", "C")):
        song += [name(Kind.BAR), *([name(Kind.TIME_SIGNATURE, tokenizer.meters.index((4, 4)))] if bar == 0 else []),
                 name(Kind.CHORD, parse_chord(chord))]
        if bar < 2:
            for track in (0, 1):
                song += [name(Kind.TRACK, track), name(Kind.POSITION, 0), name(Kind.PITCH, 60), name(Kind.VELOCITY, 2),
                         tokenizer.duration_id(4 * CONFIG.steps_per_quarter)]
    state = masker.initial_state(2)
    for token in song:
        state = masker.update(state, tf.constant([token] * 2, tf.int32), params)
        for checker in checkers:
            checker.feed(token)
    tracks = [name(Kind.TRACK, 0), name(Kind.TRACK, 1)]  # piano, drums
    state = masker.update(state, tf.constant(tracks, tf.int32), params)
    for checker, track in zip(checkers, tracks, strict=True):
        checker.feed(track)
    inputs = {pull.name: {key: tf.constant(value) for key, value in pull.inputs().items()}}
    context = StepContext(tf.ones([2, tokenizer.vocab_size], tf.bool), masker.drums(state), masker=masker,
                          state=state, inputs=inputs)
    rows = pull(tf.zeros([2, tokenizer.vocab_size]), context).numpy()
    rules = checkers[0].rules
    np.testing.assert_allclose(rows, np.stack([pull.bias(pull.inputs(), pull.reads(rules, checker.state),
                                                         rules.drums(checker.state), rules.x)[0] for checker in checkers]))
    repeat = np.flatnonzero(tokenizer.roles.repeat)
    piano, drums = ({int(tokenizer.values[token]): float(row[token]) for token in repeat} for row in rows)
    assert piano == {1: 0.0, 2: 2.0, 4: 2.0} and drums == {1: 4.0, 2: 4.0, 4: 4.0}
