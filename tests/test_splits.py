"""Deterministic splits."""

from __future__ import annotations

import pytest

from musicgen.data.splits import split_of, stable_fraction
from musicgen.errors import ConfigError


def test_split_is_stable_and_independent_of_other_keys() -> None:
    keys = [f"piece_{index}.mid" for index in range(2000)]
    first = {key: split_of(key) for key in keys}
    second = {key: split_of(key) for key in reversed(keys + ["new.mid"])}
    assert all(first[key] == second[key] for key in keys)


def test_split_fractions_are_respected() -> None:
    counts = {"train": 0, "validation": 0, "test": 0}
    for index in range(5000):
        counts[split_of(f"item-{index}")] += 1
    assert 0.77 < counts["train"] / 5000 < 0.83
    assert 0.08 < counts["validation"] / 5000 < 0.12


def test_known_value_pins_the_hash() -> None:
    # SHA-1 based, so this never changes between Python runs (unlike hash()).
    assert stable_fraction("bach/bwv66.6.mid") == pytest.approx(0.038464436438139724)
    assert split_of("bach/bwv66.6.mid") == "train"
    assert split_of("a", (0.0, 0.0, 1.0)) == "test"
    assert split_of("a", (1.0, 0.0, 0.0)) == "train"


@pytest.mark.parametrize("fractions", [(0.5, 0.5), (0.8, 0.1, 0.2), (1.2, -0.1, -0.1)])
def test_bad_fractions_are_rejected(fractions: tuple[float, ...]) -> None:
    with pytest.raises(ConfigError):
        split_of("x", fractions)
