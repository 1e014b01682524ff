"""Musical sanity figures on hand-built pieces with known values."""

from __future__ import annotations

import numpy as np
import pytest
from midi_factory import Track, make_pretty_midi

from musicgen.evaluation import metrics
from musicgen.tokens import Tokenizer, TokenizerConfig

EVENTS = TokenizerConfig(encoding="events")

# A C major triad for one beat, then a lone C5 for one beat: 4 notes over 2 beats.
TRIAD_THEN_NOTE = np.array([[0, 1, 60], [0, 1, 64], [0, 1, 67], [1, 2, 72]], float)


def test_pitch_class_histogram() -> None:
    histogram = metrics.pitch_class_histogram(TRIAD_THEN_NOTE)
    expected = np.zeros(12)
    expected[[0, 4, 7]] = [0.5, 0.25, 0.25]
    np.testing.assert_allclose(histogram, expected)
    np.testing.assert_array_equal(metrics.pitch_class_histogram(np.zeros((0, 3))), np.zeros(12))


def test_distances() -> None:
    c_only, g_only = np.eye(12)[0], np.eye(12)[7]
    assert metrics.total_variation(c_only, g_only) == pytest.approx(1.0)
    assert metrics.jensen_shannon(c_only, g_only) == pytest.approx(1.0)
    assert metrics.total_variation(c_only, c_only) == 0.0
    assert metrics.jensen_shannon(c_only, c_only) == 0.0
    half = (c_only + g_only) / 2
    assert metrics.total_variation(c_only, half) == pytest.approx(0.5)
    # JS(c, half) = 0.5 KL(c || m) + 0.5 KL(half || m), m = (3/4, 1/4).
    expected = 0.5 * np.log2(4 / 3) + 0.5 * (0.5 * np.log2(0.5 / 0.75) + 0.5 * np.log2(2))
    assert metrics.jensen_shannon(c_only, half) == pytest.approx(expected)


def test_density_and_polyphony() -> None:
    assert metrics.note_density(TRIAD_THEN_NOTE) == pytest.approx(2.0)
    assert metrics.polyphony(TRIAD_THEN_NOTE) == pytest.approx(2.0)  # 4 note-beats over 2 sounding beats
    gapped = np.array([[0, 1, 60], [3, 4, 62]], float)  # a silent gap does not dilute polyphony
    assert metrics.polyphony(gapped) == pytest.approx(1.0)
    assert metrics.note_density(gapped) == pytest.approx(0.5)
    overlapping = np.array([[0, 2, 60], [1, 3, 64]], float)
    assert metrics.polyphony(overlapping) == pytest.approx(4 / 3)
    assert metrics.note_density(np.zeros((0, 3))) == 0.0 and metrics.polyphony(np.zeros((0, 3))) == 0.0


def test_repetition_rate() -> None:
    # Events A B A B A B: bigrams AB BA AB BA AB, of which 3 repeat an earlier one.
    alternating = np.array([[beat, beat + 1, 60 if beat % 2 == 0 else 62] for beat in range(6)], float)
    assert metrics.repetition_rate(alternating, n=2) == pytest.approx(3 / 5)
    assert metrics.repetition_rate(alternating, n=4) == pytest.approx(1 / 3)
    scale = np.array([[beat, beat + 1, 60 + beat] for beat in range(8)], float)
    assert metrics.repetition_rate(scale) == 0.0
    assert metrics.onset_events(TRIAD_THEN_NOTE) == [(60, 64, 67), (72,)]
    assert metrics.repetition_rate(TRIAD_THEN_NOTE) == 0.0  # fewer events than n


def test_tokens_and_midi_give_the_same_notes() -> None:
    midi = make_pretty_midi([
        Track(notes=[(60, 0.0, 1.0, 80), (64, 0.0, 1.0, 80), (67, 0.5, 2.0, 80)]),
        Track(notes=[(36, 0.0, 0.5, 100)], is_drum=True),
    ], tempo=90.0)
    tokenizer = Tokenizer(EVENTS)
    from_midi = metrics.notes_from_midi(midi)
    from_tokens = metrics.notes_from_tokens(tokenizer.encode(midi), tokenizer)
    np.testing.assert_allclose(sorted(map(tuple, from_midi)), [(0, 1, 60), (0, 1, 64), (0.5, 2, 67)], atol=1e-6)
    np.testing.assert_allclose(sorted(map(tuple, from_tokens)), sorted(map(tuple, from_midi)), atol=1e-6)


def test_compare_sets() -> None:
    reference = [TRIAD_THEN_NOTE]
    same = metrics.compare_sets(reference, reference)
    assert same["pitch_class_tv"] == 0.0 and same["pitch_class_js"] == 0.0
    assert same["pieces"] == 1 and same["notes"] == 4.0 and same["polyphony"] == pytest.approx(2.0)
    shifted = TRIAD_THEN_NOTE + [0, 0, 7]  # G major: classes 7, 11, 2 (x2 for G)
    figures = metrics.compare_sets([shifted], reference)
    assert figures["pitch_class_tv"] == pytest.approx(0.75)  # only the G (0.25 of each) overlaps
    assert metrics.compare_sets([], reference) == {"pieces": 0}
    table = metrics.format_table({"model": figures, "reference": same})
    assert "pitch_class_tv" in table.splitlines()[0] and table.splitlines()[1].startswith("model")
