"""The notes encoding's grammar, the data's constraints, and sampling with both."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from guidance_rows import guidance_rows

from musicgen.errors import ConfigError
from musicgen.generation.processors import PitchBias, StepContext
from musicgen.music.instruments import PROGRAM_COUNT
from musicgen.paths import BACH_MIDI_DIR
from musicgen.tokens import Kind, Tokenizer, TokenizerConfig
from musicgen.tokens.grammar import Constraints, check_tokens

CONFIG = TokenizerConfig(min_pitch=48, max_pitch=72, velocity_bins=4, max_tracks=4, pedal="events")


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer(CONFIG)


def test_encoded_chorales_are_grammatical_in_both_encodings() -> None:
    for config in (TokenizerConfig(velocity_bins=1), TokenizerConfig(encoding="events")):
        tokenizer = Tokenizer(config)
        grammar = tokenizer.grammar()
        for path in sorted(BACH_MIDI_DIR.glob("*.mid"))[::35]:
            assert check_tokens(tokenizer.encode(path), grammar).ended


def test_structural_rules(tokenizer: Tokenizer) -> None:
    checker = tokenizer.grammar().checker()
    name = tokenizer.id_of
    checker.feed(tokenizer.bos_id)
    assert not checker.allowed(name(Kind.BAR))  # a header needs a track first
    checker.feed(name(Kind.PROGRAM, 0))
    checker.feed(name(Kind.PROGRAM, 128))
    checker.feed(name(Kind.BAR))
    assert not checker.allowed(name(Kind.TRACK, 0))  # the first bar states its meter first
    assert checker.allowed_mask().sum() == len(tokenizer.meters)
    checker.feed(name(Kind.TIME_SIGNATURE, tokenizer.meters.index((4, 4))))
    assert not checker.allowed(tokenizer.eos_id)  # no note yet
    assert not checker.allowed(name(Kind.TRACK, 2))  # only two tracks in the header
    checker.feed(name(Kind.TRACK, 1))
    assert not checker.allowed(name(Kind.PITCH, 60))  # a POSITION first
    checker.feed(name(Kind.POSITION, 4))
    assert not checker.allowed(name(Kind.PEDAL_ON))  # never a pedal on the drums
    checker.feed(name(Kind.PITCH, 60))
    checker.feed(name(Kind.VELOCITY, 2))
    checker.feed(tokenizer.duration_id(3))
    assert not checker.allowed(name(Kind.PITCH, 60))  # pitches ascend at one position
    assert not checker.allowed(name(Kind.POSITION, 4))  # positions ascend
    assert not checker.allowed(name(Kind.TRACK, 0))  # tracks ascend in a bar
    assert not checker.allowed(name(Kind.POSITION, 48))  # the 4/4 bar has 48 steps
    assert checker.allowed(tokenizer.eos_id)
    checker.feed(name(Kind.BAR))
    checker.feed(name(Kind.TIME_SIGNATURE, tokenizer.meters.index((3, 4))))
    checker.feed(name(Kind.TRACK, 0))
    assert not checker.allowed(name(Kind.POSITION, 36)) and checker.allowed(name(Kind.POSITION, 35))
    checker.feed(name(Kind.POSITION, 0))
    checker.feed(name(Kind.PEDAL_OFF))
    assert checker.allowed(name(Kind.PEDAL_ON)) and not checker.allowed(name(Kind.PEDAL_OFF))
    checker.feed(name(Kind.PITCH, 50))
    assert checker.closing_tokens() == [name(Kind.VELOCITY, 2), tokenizer.duration_id(1), tokenizer.eos_id]


@pytest.mark.parametrize("figures", [{}, {"sampling": True, "every_track": True, "bar_limit": 3}])
def test_masker_agrees_with_checker_on_random_walks(tokenizer: Tokenizer, figures: dict) -> None:
    """The rules run in TensorFlow (the masker) and in NumPy (the checker) agree, the sampling
    rules (full bars, every track in any two bars, a bar limit) included."""

    longest = np.full(PROGRAM_COUNT, np.iinfo(np.int32).max)
    longest[0] = 12
    grammar = tokenizer.grammar(Constraints(max_tracks=3, max_durations=longest))
    masker = grammar.masker()
    params = masker.params(constraints=grammar.constraints, **figures)
    batch = 6
    checkers = [grammar.checker(**figures) for _ in range(batch)]
    weights = {Kind.BAR: 20.0, Kind.EOS: 5.0, Kind.PROGRAM: 30.0}
    for _, _, mask, rng in _walk(tokenizer, masker, params, checkers, weights, 250, seed=0):
        for row, checker in enumerate(checkers):
            probe = rng.integers(0, tokenizer.vocab_size, 4)
            assert [checker.allowed(token) for token in probe.tolist()] == mask[row, probe].tolist()
    assert all(checker.value("tracks") <= 3 for checker in checkers)
    assert sum(checker.value("bars") for checker in checkers) > batch


@pytest.mark.parametrize("players", [1, 2])
def test_a_pitched_constraint_opens_a_piece_with_that_many_pitched_tracks(tokenizer: Tokenizer, players: int) -> None:
    """Under ``Constraints(pitched=n)`` (a chord plan: 2 where nobody chose the parts, as a tune alone
    states no chord) the first n tracks may be any pitched program but not the drums, and the first
    bar waits for them; after them, drums may join and the bars begin. Masker and checker agree."""
    import tensorflow as tf

    grammar, name = tokenizer.grammar(), tokenizer.id_of
    drums, piano = name(Kind.PROGRAM, 128), name(Kind.PROGRAM, 0)
    masker, checker = grammar.masker(), grammar.checker(Constraints(pitched=players))
    params = masker.params(constraints=Constraints(pitched=players))
    state = masker.initial_state(1)
    for tracks, token in enumerate([tokenizer.bos_id] + [piano] * players):
        state = masker.update(state, tf.constant([token], tf.int32), params)
        checker.feed(token)
        mask = masker.allowed(state, params).numpy()[0]
        np.testing.assert_array_equal(mask, checker.allowed_mask())
        assert mask[drums] == mask[name(Kind.BAR)] == (tracks == players) and mask[name(Kind.PROGRAM, 33)]
    free = grammar.checker()
    free.feed(tokenizer.bos_id)
    assert free.allowed(drums)


def test_a_new_piece_keeps_the_meter_its_first_bar_states(tokenizer: Tokenizer) -> None:
    """Under ``Constraints(one_meter=True)`` (every generated piece) the first bar states a meter and
    no later bar another; without it the data's meter changes stay grammatical. Masker and checker agree."""
    import tensorflow as tf

    grammar, name = tokenizer.grammar(), tokenizer.id_of
    three_four = name(Kind.TIME_SIGNATURE, tokenizer.meters.index((3, 4)))
    song = [tokenizer.bos_id, name(Kind.PROGRAM, 0), name(Kind.BAR), name(Kind.TIME_SIGNATURE,
            tokenizer.meters.index((4, 4))), name(Kind.TRACK, 0), name(Kind.POSITION, 0), name(Kind.PITCH, 60),
            name(Kind.VELOCITY, 2), tokenizer.duration_id(48), name(Kind.BAR)]
    for one_meter in (True, False):
        constraints = Constraints(one_meter=one_meter)
        masker, checker = grammar.masker(), grammar.checker(constraints)
        params = masker.params(constraints=constraints)
        state = masker.initial_state(1)
        for token in song:
            state = masker.update(state, tf.constant([token], tf.int32), params)
            checker.feed(token)
        mask = masker.allowed(state, params).numpy()[0]
        np.testing.assert_array_equal(mask, checker.allowed_mask())
        assert mask[three_four] == (not one_meter) and mask[name(Kind.TRACK, 0)]


def test_the_bar_limit_turns_the_extra_bar_into_eos(tokenizer: Tokenizer) -> None:
    import tensorflow as tf

    grammar = tokenizer.grammar()
    masker = grammar.masker()
    state = masker.initial_state(1)
    bar = tokenizer.id_of(Kind.BAR)
    prefix = [tokenizer.bos_id, tokenizer.id_of(Kind.PROGRAM, 0), bar, tokenizer.id_of(Kind.TRACK, 0),
              tokenizer.id_of(Kind.POSITION, 0), tokenizer.id_of(Kind.PITCH, 60), tokenizer.id_of(Kind.VELOCITY, 1),
              tokenizer.duration_id(4)]
    two, unlimited = masker.params(bar_limit=2), masker.params()
    for token in prefix:
        state = masker.update(state, tf.constant([token]), two, count_time=token != bar)
    rewritten = masker.rewrite(state, tf.constant([bar]), two)
    assert rewritten.numpy().tolist() == [bar]
    for _ in range(2):
        state = masker.update(state, tf.constant([bar]), two)
    assert masker.rewrite(state, tf.constant([bar]), two).numpy().tolist() == [tokenizer.eos_id]
    assert masker.rewrite(state, tf.constant([bar]), unlimited).numpy().tolist() == [bar]


@pytest.fixture(scope="module")
def sampler(tokenizer: Tokenizer):
    import keras

    from musicgen.generation.sampler import Sampler
    from musicgen.models.language import build_language_model

    keras.utils.set_random_seed(2)
    model = build_language_model(tokenizer.vocab_size, cell="gru", units=16, num_layers=1, embedding_dim=8)
    allowed = np.ones(tokenizer.vocab_size, bool)
    allowed[tokenizer.kinds == Kind.PROGRAM] = False
    allowed[[tokenizer.id_of(Kind.PROGRAM, 40), tokenizer.id_of(Kind.PROGRAM, 33)]] = True
    longest = np.full(PROGRAM_COUNT, np.iinfo(np.int32).max)
    longest[40] = 6
    return Sampler(model, tokenizer, jit_compile=False,
                   constraints=Constraints(allowed=allowed, max_tracks=2, max_durations=longest))


def test_hot_samples_keep_to_the_data_and_to_the_bars(sampler, tokenizer: Tokenizer) -> None:
    result = sampler.sample(num=16, length=400, temperature=2.0, seed=5, max_bars=3)
    grammar = tokenizer.grammar()
    for row in result.tokens:
        check_tokens(row, grammar)
        piece = tokenizer.decode_piece(row)
        programs = [track.program for track in piece.tracks]
        assert set(programs) <= {40, 33} and 1 <= len(programs) <= 2
        bars = int(np.sum(tokenizer.kinds[row] == Kind.BAR))
        assert bars <= 3
        length, bar, started = 0.0, 4.0, False  # the bars' summed length, in beats
        for token in row.tolist():
            if tokenizer.kinds[token] == Kind.TIME_SIGNATURE:
                numerator, denominator = tokenizer.meters[int(tokenizer.values[token])]
                bar = numerator * 4 / denominator
            if tokenizer.kinds[token] == Kind.BAR:
                length += bar if started else 0.0
                started = True
        length += bar if started else 0.0
        if len(piece.notes):  # no note outlasts the piece's bars, and none beyond its program's longest
            assert piece.notes[:, 1].max() <= length + 1e-9
            lengths = piece.notes[:, 1] - piece.notes[:, 0]
            violin = np.array([programs[int(t)] == 40 for t in piece.notes[:, 4]])
            assert np.all(lengths[violin] <= 6 / 12 + 1e-9)
    assert 0.0 <= result.masked_mass_mean <= result.masked_mass_max <= 1.0


def test_same_seed_same_notes_and_beam_search_is_grammatical(sampler, tokenizer: Tokenizer) -> None:
    first = sampler.sample_tokens(num=3, length=120, seed=9, max_bars=2)
    np.testing.assert_array_equal(first, sampler.sample_tokens(num=3, length=120, seed=9, max_bars=2))
    beams = sampler.beam_search(3, num=2, length=60, max_bars=2)
    for row in beams.tokens:
        check_tokens(row, tokenizer.grammar())


def test_key_guidance_biases_pitches_on_pitched_tracks_only(tokenizer: Tokenizer) -> None:
    import tensorflow as tf

    from musicgen.generation.steering import guidance_bias
    from musicgen.tokens.controls import CONTROLS

    keyed = Tokenizer(dataclasses.replace(CONFIG, keys=True))
    # --key's guidance is the KEY control's own bias.
    np.testing.assert_array_equal(guidance_bias(keyed, {"key": "D major"}, 2.0), CONTROLS["key"].bias(keyed, 2, 2.0))
    bias = CONTROLS["key"].bias(tokenizer, 2, 2.0)
    pitch = tokenizer.kinds == Kind.PITCH
    assert not bias[~pitch].any()  # only PITCH tokens move
    by_pitch = dict(zip(tokenizer.values[pitch].tolist(), bias[pitch].tolist(), strict=True))
    assert max(by_pitch, key=by_pitch.get) % 12 == 2  # the tonic is pulled hardest
    assert by_pitch[62] > by_pitch[69] > by_pitch[66] > by_pitch[63]  # tonic, dominant, third, outside the key
    assert np.isclose(np.mean([by_pitch[p] for p in range(60, 72)]), 0.0, atol=1e-6)  # centred over an octave
    assert guidance_bias(keyed, {"key": "D major"}, 0.0) is None
    assert guidance_bias(keyed, {"density": "high"}, 2.0) is None
    with pytest.raises(ConfigError, match="--key-guidance must be a non-negative number"):
        guidance_bias(keyed, {"key": "D major"}, -1.0)

    masker = tokenizer.grammar().masker()
    params = masker.params()
    name = tokenizer.id_of
    state = masker.update(masker.initial_state(2), tf.constant([tokenizer.bos_id] * 2, tf.int32), params, False)
    for token in (name(Kind.PROGRAM, 0), name(Kind.PROGRAM, 128), name(Kind.BAR)):
        state = masker.update(state, tf.constant([token, token], tf.int32), params)
    state = masker.update(state, tf.constant([name(Kind.TRACK, 0), name(Kind.TRACK, 1)], tf.int32), params)  # piano, drums
    assert masker.drums(state).numpy().tolist() == [False, True]
    context = StepContext(tf.ones([2, tokenizer.vocab_size], tf.bool), masker.drums(state))
    rows = PitchBias(tf.constant(bias))(tf.zeros([2, tokenizer.vocab_size]), context).numpy()
    assert np.array_equal(rows[0], bias) and not rows[1].any()


def test_chords_and_repeats_keep_masker_and_checker_together() -> None:
    """With CHORD and REPEAT tokens, the masker and the checker agree on what may come next, on
    the chord sounding at each note (what chord guidance reads) and on each track's sounding pitches
    (what voice leading reads); no walk is left with nothing to choose."""

    tokenizer = Tokenizer(dataclasses.replace(CONFIG, pedal="ignore", chords=True, repeats=(1, 2, 4, 8)))
    grammar = tokenizer.grammar()
    figures = {"sampling": True, "every_track": True, "bar_limit": 4}
    masker, checkers = grammar.masker(), [grammar.checker(**figures) for _ in range(4)]
    params = masker.params(**figures)
    weights = {Kind.BAR: 10.0, Kind.CHORD: 3.0, Kind.REPEAT: 20.0, Kind.PROGRAM: 20.0}
    sounding, repeated = 0, 0
    for tokens, state, _, _ in _walk(tokenizer, masker, params, checkers, weights, 300, seed=1):
        for row, checker in enumerate(checkers):
            assert [int(state[name][row]) for name in ("chord", "changes", "tracks")] == [
                checker.value(name) for name in ("chord", "changes", "tracks")]
            for name in ("sounding", "carried"):  # what voice leading reads
                np.testing.assert_array_equal(state[name][row].numpy(), checker.state[name][0])
        sounding += int((state["chord"].numpy() >= 0).sum())
        repeated += int(np.isin(tokens, np.flatnonzero(tokenizer.kinds == Kind.REPEAT)).sum())
    assert all(checker.ended for checker in checkers) and sounding > 100 and repeated > 0
    assert all(checker.value("tracks") <= CONFIG.max_tracks for checker in checkers)


def test_chord_guidance_pulls_pitches_to_the_chord_sounding_at_the_note() -> None:
    """A bar states C, then G from beat 3: a note placed before the change leans to C's tones, one
    after it to G's; a bass is pulled to the root below middle C; drums are left alone. Guidance 0 is none."""
    import tensorflow as tf

    from musicgen.generation.steering import chord_guidance
    from musicgen.music.chords import parse_chord

    tokenizer = Tokenizer(dataclasses.replace(CONFIG, min_pitch=28, max_pitch=84, pedal="ignore", chords=True))
    guidance = chord_guidance(tokenizer, 3.0)
    assert chord_guidance(tokenizer, 0.0) is None and chord_guidance(Tokenizer(CONFIG), 3.0) is None
    masker, name = tokenizer.grammar().masker(), tokenizer.id_of
    params = masker.params()
    inputs = {guidance.name: {key: tf.constant(value) for key, value in guidance.inputs().items()}}
    change = int(tokenizer.values[tokenizer.kinds == Kind.POSITION].max()) // 2
    state = masker.update(masker.initial_state(3), tf.constant([tokenizer.bos_id] * 3, tf.int32), params, False)
    song = [name(Kind.PROGRAM, 33), name(Kind.PROGRAM, 0), name(Kind.PROGRAM, 128), name(Kind.BAR),
            name(Kind.CHORD, parse_chord("C")), name(Kind.POSITION, change), name(Kind.CHORD, parse_chord("G"))]
    for token in song:
        state = masker.update(state, tf.constant([token] * 3, tf.int32), params)
    for token in ([name(Kind.TRACK, 0), name(Kind.TRACK, 1), name(Kind.TRACK, 2)],  # bass, piano, drums
                  [name(Kind.POSITION, 0), name(Kind.POSITION, change), name(Kind.POSITION, 0)]):
        state = masker.update(state, tf.constant(token, tf.int32), params)
    assert state["chord"].numpy().tolist() == [parse_chord("C"), parse_chord("G"), parse_chord("C")]
    context = StepContext(tf.ones([3, tokenizer.vocab_size], tf.bool), masker.drums(state), masker=masker,
                          state=state, inputs=inputs)
    rows = guidance(tf.zeros([3, tokenizer.vocab_size]), context).numpy()
    pitch = tokenizer.kinds == Kind.PITCH
    by_pitch = [dict(zip(tokenizer.values[pitch].tolist(), row[pitch].tolist(), strict=True)) for row in rows]
    bass, piano = by_pitch[0], by_pitch[1]
    assert max(bass, key=bass.get) % 12 == 0 and bass[36] > bass[43] > bass[40] > bass[41]  # root, fifth, third, other
    assert bass[36] > bass[60]  # the same root an octave and more up is out of the bass's register
    assert piano[67] == piano[71] == piano[62] > piano[60] and piano[62] > piano[64]  # G's tones after the change
    assert not rows[:, ~pitch].any() and not rows[2].any()  # only pitches move, and never on drums


def test_chord_guidance_holds_back_a_bar_played_again_under_other_chords() -> None:
    """Bars under C, G, C: in the third, a piano's REPEAT(2) (the C bar) is free and its REPEAT(1)
    (the G bar) is held back by twice the strength; drums may repeat anything. Masker and checker
    (the guided sampler's rules) give the same numbers."""
    from musicgen.generation.steering import chord_guidance
    from musicgen.music.chords import parse_chord

    tokenizer = Tokenizer(dataclasses.replace(CONFIG, pedal="ignore", chords=True, repeats=(1, 2, 4)))
    guidance, name = chord_guidance(tokenizer, 3.0), tokenizer.id_of
    song = [tokenizer.bos_id, name(Kind.PROGRAM, 0), name(Kind.PROGRAM, 128)]
    for bar, chord in enumerate(("C", "G", "C")):
        song += [name(Kind.BAR), *([name(Kind.TIME_SIGNATURE, 0)] if bar == 0 else []), name(Kind.CHORD, parse_chord(chord))]
        if bar < 2:
            song += [name(Kind.TRACK, 0), name(Kind.POSITION, 0), name(Kind.PITCH, 60), name(Kind.VELOCITY, 2),
                     name(Kind.DURATION, 12), name(Kind.TRACK, 1), name(Kind.POSITION, 0), name(Kind.PITCH, 60),
                     name(Kind.VELOCITY, 2), name(Kind.DURATION, 12)]
    rows = guidance_rows(tokenizer, guidance, [[*song, name(Kind.TRACK, track)] for track in (0, 1)])  # piano, drums
    piano = {int(tokenizer.values[token]): float(rows[0][token]) for token in np.flatnonzero(tokenizer.roles.repeat)}
    assert piano == {1: -6.0, 2: 0.0, 4: 0.0} and not rows[1].any()


def test_the_harmony_returns_a_phrase_later_but_turns_at_the_phrase_end() -> None:
    """Bars under C F G Am, C F G D: where bar 5's harmony begins, C (bar 1's) is pulled and,
    once stated, a second change held back (bar 1 had one chord); bar 8, the phrase's end, is
    free. The token-by-token sampler's rules give the same numbers."""
    import tensorflow as tf

    from musicgen.generation.steering import harmony_loop
    from musicgen.music.chords import parse_chord

    tokenizer = Tokenizer(dataclasses.replace(CONFIG, pedal="ignore", chords=True, repeats=(1, 2, 4)))
    loop, name = harmony_loop(tokenizer, 5.0), tokenizer.id_of
    assert harmony_loop(tokenizer, 0.0) is None and harmony_loop(Tokenizer(CONFIG), 5.0) is None
    grammar = tokenizer.grammar()
    masker, checker = grammar.masker(), grammar.checker()
    params = masker.params()
    inputs = {loop.name: {key: tf.constant(value) for key, value in loop.inputs().items()}}
    state = masker.initial_state(1)

    def feed(token: int) -> None:
        nonlocal state
        state = masker.update(state, tf.constant([token], tf.int32), params)
        checker.feed(token)

    def bias() -> np.ndarray:
        context = StepContext(tf.ones([1, tokenizer.vocab_size], tf.bool), masker.drums(state), masker=masker,
                              state=state, inputs=inputs)
        row = loop(tf.zeros([1, tokenizer.vocab_size]), context).numpy()[0]
        rules = checker.rules
        np.testing.assert_allclose(row, loop.bias(loop.inputs(), loop.reads(rules, checker.state),
                                                  rules.drums(checker.state), rules.x)[0])
        return row

    rows = {}
    for token in (tokenizer.bos_id, name(Kind.PROGRAM, 0)):
        feed(token)
    for bar, chord in enumerate("C F G Am C F G D".split(), start=1):
        feed(name(Kind.BAR))
        if bar == 1:
            feed(name(Kind.TIME_SIGNATURE, 0))
        rows[bar] = bias()
        feed(name(Kind.CHORD, parse_chord(chord)))
        rows[bar, "stated"] = bias()
        for token in (name(Kind.TRACK, 0), name(Kind.POSITION, 0), name(Kind.PITCH, 60), name(Kind.VELOCITY, 2),
                      name(Kind.DURATION, 12)):
            feed(token)
    pulled = {int(tokenizer.values[token]) for token in np.flatnonzero(rows[5] > 0)}
    assert pulled == {parse_chord("C")} and rows[5].max() == 5.0 and not (rows[5] < 0).any()
    assert (rows[5, "stated"][tokenizer.roles.position] == -5.0).all()
    assert not rows[5, "stated"][~tokenizer.roles.position].any()
    assert {int(tokenizer.values[token]) for token in np.flatnonzero(rows[7] > 0)} == {parse_chord("G")}
    assert not rows[8].any() and not rows[1].any()  # the phrase's end turns; the first bars are the model's


def test_groove_pull_asks_each_part_to_play_its_bar_again_but_at_a_phrase_end() -> None:
    """REPEAT tokens get the full strength on drums, half on a piano part, nothing in the fourth
    bar (left free for a fill); the token-by-token sampler adds the same numbers (NumPy rules)."""
    import tensorflow as tf

    from musicgen.generation.options import SamplingOptions
    from musicgen.generation.steering import groove_pull, guidance

    tokenizer = Tokenizer(dataclasses.replace(CONFIG, pedal="ignore", repeats=(1, 2, 4)))
    pull = groove_pull(tokenizer, 4.0)
    assert groove_pull(tokenizer, 0.0) is None and groove_pull(Tokenizer(CONFIG), 4.0) is None
    # Under a planned progression the pitched parts are pulled too (a bar under other chords is the
    # chord guidance's to hold back), so the parts return where the plan's chords do.
    planned = [item for item in guidance(tokenizer, SamplingOptions(groove=4.0), planned=True) if item.name == pull.name]
    assert planned[0].inputs()["strength"].tolist() == [4.0, 4.0]
    grammar, name = tokenizer.grammar(), tokenizer.id_of
    masker, checkers = grammar.masker(), [grammar.checker(), grammar.checker()]
    params = masker.params()
    inputs = {pull.name: {key: tf.constant(value) for key, value in pull.inputs().items()}}
    repeat = tokenizer.kinds == Kind.REPEAT
    state = masker.update(masker.initial_state(2), tf.constant([tokenizer.bos_id] * 2, tf.int32), params, False)
    for checker in checkers:
        checker.feed(tokenizer.bos_id)
    header = [name(Kind.PROGRAM, 0), name(Kind.PROGRAM, 128)]
    rows = []
    for bar in range(1, 5):
        song = [*(header if bar == 1 else []), name(Kind.BAR), *([name(Kind.TIME_SIGNATURE, 0)] if bar == 1 else [])]
        for token in song:
            state = masker.update(state, tf.constant([token] * 2, tf.int32), params)
        tracks = [name(Kind.TRACK, 0), name(Kind.TRACK, 1)]  # piano, drums
        state = masker.update(state, tf.constant(tracks, tf.int32), params)
        for checker, track in zip(checkers, tracks, strict=True):
            for token in (*song, track):
                checker.feed(token, check=False)
        context = StepContext(tf.ones([2, tokenizer.vocab_size], tf.bool), masker.drums(state), masker=masker,
                              state=state, inputs=inputs)
        row = pull(tf.zeros([2, tokenizer.vocab_size]), context).numpy()
        rules = checkers[0].rules
        guided = [pull.bias(pull.inputs(), pull.reads(rules, checker.state), rules.drums(checker.state), rules.x)[0]
                  for checker in checkers]
        np.testing.assert_allclose(row, np.stack(guided))
        rows.append(row)
        for token in (name(Kind.POSITION, 0), name(Kind.PITCH, 60), name(Kind.DURATION, 12)):
            state = masker.update(state, tf.constant([token] * 2, tf.int32), params)
    for bar, row in enumerate(rows, start=1):
        expected = (0.0, 0.0) if bar == 4 else (2.0, 4.0)  # a piano half, drums the whole
        assert [float(row[0][repeat].max()), float(row[1][repeat].max())] == list(expected), bar
        assert not row[:, ~repeat].any()


def _walk(tokenizer: Tokenizer, masker, params: dict, checkers: list, weights: dict, steps: int, seed: int):
    """Walk the masker and one checker per row through ``steps`` random tokens (a kind's tokens
    weighted by ``weights``), asserting at each step that both allow the same next tokens; yields
    (tokens fed, masker state, mask, rng) for the caller's own checks."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    odds = np.ones(tokenizer.vocab_size)
    for kind, weight in weights.items():
        odds[tokenizer.kinds == kind] = weight
    state, tokens = masker.initial_state(len(checkers)), np.full(len(checkers), tokenizer.bos_id, np.int32)
    for _ in range(steps):
        for checker, token in zip(checkers, tokens.tolist(), strict=True):
            checker.feed(token)
        state = masker.update(state, tf.constant(tokens), params)
        mask = masker.allowed(state, params).numpy()
        for row, checker in enumerate(checkers):
            np.testing.assert_array_equal(mask[row], checker.allowed_mask())
        yield tokens, state, mask, rng
        choices = np.where(mask, odds, 0.0)
        tokens = np.array([rng.choice(tokenizer.vocab_size, p=p / p.sum()) for p in choices], np.int32)
        tokens = masker.rewrite(state, tf.constant(tokens), params).numpy()
