"""Asked instruments play: the every-track rule, stand-ins for unseen instruments, and refusals."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from musicgen.cli import main
from musicgen.errors import ConfigError
from musicgen.evaluation.music_figures import plays_throughout
from musicgen.music import midi_io
from musicgen.music.instruments import playable
from musicgen.tokens import Kind, Tokenizer, TokenizerConfig


def _bar_of_one_note(tokenizer: Tokenizer, track: int) -> list[int]:
    name = tokenizer.id_of
    return [name(Kind.TRACK, track), name(Kind.POSITION, 0), name(Kind.PITCH, 60), name(Kind.VELOCITY, 1),
            tokenizer.duration_id(4 * tokenizer.config.steps_per_quarter)]


def test_every_track_keeps_a_bar_open_until_each_track_played_in_two_bars() -> None:
    import tensorflow as tf

    tokenizer = Tokenizer(TokenizerConfig(min_pitch=48, max_pitch=72, velocity_bins=4, max_tracks=4))
    masker = tokenizer.grammar().masker()
    params = {every: masker.params(every_track=every, sampling=True) for every in (False, True)}
    name = tokenizer.id_of
    bar = name(Kind.BAR)
    state = masker.update(masker.initial_state(1), tf.constant([tokenizer.bos_id]), params[True], False)
    for token in (name(Kind.PROGRAM, 0), name(Kind.PROGRAM, 40), bar, name(Kind.TIME_SIGNATURE,
                                                                           tokenizer.meters.index((4, 4)))):
        state = masker.update(state, tf.constant([token]), params[True])

    def allowed(every_track: bool) -> np.ndarray:
        return masker.allowed(state, params[every_track]).numpy()[0]

    def feed(tokens: list[int]) -> None:
        nonlocal state
        for token in tokens:
            state = masker.update(state, tf.constant([token]), params[True])

    feed(_bar_of_one_note(tokenizer, 0))
    assert allowed(True)[bar]  # the first bar owes nothing: the bar before it is free
    feed([bar])
    feed(_bar_of_one_note(tokenizer, 0))
    # Track 1 played in neither this bar nor the one before: the bar stays open for it.
    assert not allowed(True)[bar] and not allowed(True)[tokenizer.eos_id] and allowed(True)[name(Kind.TRACK, 1)]
    assert allowed(False)[bar] and allowed(False)[tokenizer.eos_id]  # without the rule, it may close
    feed(_bar_of_one_note(tokenizer, 1))
    assert allowed(True)[bar]
    feed([bar])
    feed(_bar_of_one_note(tokenizer, 1))
    assert allowed(True)[bar]  # track 0 played in the bar before
    feed([bar])
    # Now track 0 owes its note: TRACK 1 would skip it, so only TRACK 0 may open the bar.
    assert allowed(True)[name(Kind.TRACK, 0)] and not allowed(True)[name(Kind.TRACK, 1)]
    assert allowed(False)[name(Kind.TRACK, 1)]


def test_every_track_keeps_an_asked_drum_part_playing_in_every_bar() -> None:
    """A pitched part may rest a bar after playing; a drum part may not (the groove holds): a bar
    without its drums stays open for them, the first bar included. Masker and checker agree."""
    import tensorflow as tf

    tokenizer = Tokenizer(TokenizerConfig(min_pitch=36, max_pitch=72, velocity_bins=4, max_tracks=4))
    grammar, name, bar = tokenizer.grammar(), tokenizer.id_of, tokenizer.id_of(Kind.BAR)
    masker, checker = grammar.masker(), grammar.checker(every_track=True, sampling=True)
    params = masker.params(every_track=True, sampling=True)
    state = masker.initial_state(1)

    def feed(tokens: list[int]) -> np.ndarray:
        nonlocal state
        for token in tokens:
            state = masker.update(state, tf.constant([token]), params)
            checker.feed(token)
        mask = masker.allowed(state, params).numpy()[0]
        np.testing.assert_array_equal(mask, checker.allowed_mask())
        return mask

    feed([tokenizer.bos_id, name(Kind.PROGRAM, 0), name(Kind.PROGRAM, 128), bar,
          name(Kind.TIME_SIGNATURE, tokenizer.meters.index((4, 4)))])
    assert not feed(_bar_of_one_note(tokenizer, 0))[bar]  # the drums owe the first bar
    assert feed(_bar_of_one_note(tokenizer, 1))[bar]
    feed([bar])
    assert not feed(_bar_of_one_note(tokenizer, 0))[bar]  # and the second
    assert feed(_bar_of_one_note(tokenizer, 1))[bar]
    feed([bar])
    assert feed(_bar_of_one_note(tokenizer, 1))[bar]  # the piano played in the bar before: it may rest


def test_sampled_tracks_each_play_throughout(tune_model: Path) -> None:
    from musicgen.generation.ensemble import plan_ensemble
    from musicgen.generation.sampler import Sampler
    from musicgen.training.checkpoint import load_checkpoint

    loaded = load_checkpoint(tune_model)
    tokenizer = loaded.tokenizer
    ensemble = plan_ensemble(tokenizer, "33,73", loaded.profile)
    assert ensemble.played == ensemble.written == (33, 73) and not ensemble.remarks
    prefix = tokenizer.prompt([], list(ensemble.played))
    plays = []
    for every_track in (False, True):
        sampler = Sampler.from_checkpoint(loaded, jit_compile=False, ensemble=ensemble)
        result = sampler.sample(num=6, length=6 * 200, temperature=1.0, seed=3, prefix=prefix, max_bars=5,
                                every_track=every_track)
        pieces = [tokenizer.decode_piece(row) for row in result.tokens]
        plays.append([all(plays_throughout(piece, track, 6) for track in range(2)) for piece in pieces])
    assert all(plays[1])  # with the rule, both instruments play in every two bars of every piece


def test_an_unseen_instrument_is_played_by_a_stand_in_and_written_as_asked(tune_model: Path, tmp_path: Path,
                                                                          capsys) -> None:
    out = tmp_path / "out"
    assert main(["generate", "--checkpoint", str(tune_model), "--instruments", "flute,cello", "--num", "3",
                 "--bars", "4", "--seed", "7", "--out", str(out), "--json"]) == 0
    captured = capsys.readouterr()
    assert "the training data had no Cello: its part is the model's Electric Bass (finger) part" in captured.err
    low, high = map(int, re.search(r"kept to pitches (\d+)\.\.(\d+)", captured.err).groups())
    assert playable(42)[0] <= low and high <= playable(42)[1] and high - low >= 12
    paths = sorted(out.glob("*.mid"))
    assert len(paths) == 3
    for path in paths:
        piece = midi_io.read_piece(path)
        assert [(track.program, track.name) for track in piece.tracks] == [(42, "Cello"), (73, "Flute")]
        cello = piece.notes[piece.notes[:, 4] == 0]
        assert len(cello) and low <= cello[:, 2].min() and cello[:, 2].max() <= high
        assert all(plays_throughout(piece, track, 4) for track in range(2))


def test_requests_that_cannot_be_played_are_refused_with_the_reason(tune_model: Path) -> None:
    from musicgen.generation.ensemble import plan_ensemble
    from musicgen.training.checkpoint import load_checkpoint

    loaded = load_checkpoint(tune_model)
    constraints = loaded.profile.constraints(loaded.tokenizer)
    with pytest.raises(ConfigError, match="the training data had no drums"):
        plan_ensemble(loaded.tokenizer, "flute,drums", loaded.profile, constraints)
    with pytest.raises(ConfigError, match="no instrument it had is free to play its part"):
        plan_ensemble(loaded.tokenizer, "flute,bass,piano", loaded.profile, constraints)

def test_the_cli_refuses_on_one_line(tune_model: Path, tmp_path: Path, capsys) -> None:
    assert main(["generate", "--checkpoint", str(tune_model), "--instruments", "flute,drums",
                 "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "the training data had no drums" in error[0]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_an_asked_bass_plays_one_note_at_a_time() -> None:
    """The data's bass tracks hold a few double stops, and a sampled bass turned them into triads:
    an asked bass (or the stand-in written as one) is kept to one note at an onset; the piano is not."""
    from musicgen.generation.ensemble import plan_ensemble
    from musicgen.tokens.grammar import Constraints

    tokenizer = Tokenizer(TokenizerConfig(velocity_bins=1, max_tracks=4))
    stacks = np.full(129, 4, np.int64)
    constraints = Constraints(max_stacks=stacks)
    planned = plan_ensemble(tokenizer, "piano,bass,drums", None, constraints).constraints(constraints)
    assert planned.max_stacks[33] == 1 and planned.max_stacks[0] == 4 and planned.max_stacks[128] == 4
    assert plan_ensemble(tokenizer, "piano", None, constraints).constraints(constraints).max_stacks[33] == 4
