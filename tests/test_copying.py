"""The copy check: a planted copy is found, transposed copies by their intervals, new music is not."""

from __future__ import annotations

import numpy as np
import pytest

from musicgen.evaluation.copying import Reference, copy_figures, piece_sequences, window_hashes
from musicgen.tokens import Tokenizer, TokenizerConfig

TOKENIZER = Tokenizer(TokenizerConfig(encoding="notes"))


def _melody(rng: np.random.Generator, bars: int, transpose: int = 0, pitches: np.ndarray | None = None) -> np.ndarray:
    """Eighth notes in 4/4, eight per bar: rows (start, end, pitch, velocity, program)."""
    count = bars * 8
    if pitches is None:
        pitches = 60 + np.cumsum(rng.integers(-4, 5, count)) % 24
    starts = np.arange(count) * 0.5
    return np.stack([starts, starts + 0.5, pitches + transpose, np.full(count, 80), np.zeros(count)], 1)


def _ids(rows: np.ndarray) -> np.ndarray:
    return TOKENIZER.encode_notes(rows)


@pytest.fixture(scope="module")
def training() -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(0)
    melodies = [_melody(rng, bars=8) for _ in range(6)]
    return melodies, [_ids(rows) for rows in melodies]


def test_window_hashes_match_equal_windows_only() -> None:
    hashes = window_hashes(np.array([5, 3, 9, 5, 3, 9, 1]), 3)
    assert len(hashes) == 5 and hashes[0] == hashes[3] and len(set(hashes.tolist())) == 4
    assert len(window_hashes(np.array([1, 2]), 3)) == 0


def test_a_planted_copy_is_found_in_notes_and_bars(training) -> None:
    melodies, pieces = training
    rng = np.random.default_rng(1)
    # Bars 2-5 of training piece 3 (32 notes), between new music.
    copied = melodies[3][16:48, 2]
    pitches = np.concatenate([_melody(rng, 2)[:, 2], copied, _melody(rng, 2)[:, 2]])
    sample = _ids(_melody(rng, 8, pitches=pitches))
    figures = copy_figures([sample], pieces, TOKENIZER)
    assert figures["longest_shared_notes_max"] >= 32
    assert figures["longest_shared_bars_max"] == 4
    assert 0.3 < figures["pitch_8grams_in_training"] < 0.6  # 25 of the 57 windows lie inside the copy
    # New music shares almost nothing.
    fresh = copy_figures([_ids(_melody(rng, 8))], pieces, TOKENIZER)
    assert fresh["longest_shared_notes_max"] < 8 and fresh["longest_shared_bars_max"] == 0
    assert fresh["pitch_8grams_in_training"] < 0.05


def test_a_transposed_copy_shares_its_intervals_not_its_pitches(training) -> None:
    melodies, pieces = training
    transposed = _ids(_melody(None, 8, pitches=melodies[2][:, 2] + 5))
    figures = copy_figures([transposed], pieces, TOKENIZER)
    assert figures["interval_8grams_in_training"] == pytest.approx(1.0)
    assert figures["pitch_8grams_in_training"] < 0.1 and figures["longest_shared_notes_max"] < 8


def test_rests_are_never_a_shared_run(training) -> None:
    _, pieces = training
    silence = np.array([[0.0, 0.5, 60, 80, 0], [63.5, 64.0, 61, 80, 0]])
    reference = Reference([piece_sequences(ids, TOKENIZER, salt=index) for index, ids in enumerate(pieces)])
    assert reference.longest_run("bars", piece_sequences(_ids(silence), TOKENIZER, salt=99).bars) == 0
