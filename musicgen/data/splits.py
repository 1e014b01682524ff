"""Deterministic train/validation/test splits by a stable hash of each item's key.

A key (a file's relative path, a sentence) always lands in the same split, whatever
else is added to the data set and on whatever machine: the split depends only on
the SHA-1 of the key, not on Python's salted ``hash`` or on file order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from musicgen.errors import ConfigError

SPLIT_NAMES = ("train", "validation", "test")
SPLIT_CHOICES = (*SPLIT_NAMES, "all")  # what a caller may ask a data set for
DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)


def stable_fraction(key: str, salt: str = "") -> float:
    """Map ``key`` to a number in [0, 1) that is the same on every machine and run."""
    digest = hashlib.sha1(f"{salt}{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_of(key: str, fractions: Sequence[float] = DEFAULT_FRACTIONS, salt: str = "") -> str:
    """The split (``train``, ``validation`` or ``test``) that ``key`` belongs to."""
    check_fractions(fractions)
    position = stable_fraction(key, salt)
    boundary = 0.0
    for name, fraction in zip(SPLIT_NAMES, fractions, strict=True):
        boundary += fraction
        if position < boundary:
            return name
    return SPLIT_NAMES[-1]


def check_fractions(fractions: Sequence[float]) -> None:
    """Raise ``ConfigError`` unless ``fractions`` are three non-negative numbers summing to 1."""
    if len(fractions) != 3 or any(fraction < 0 for fraction in fractions):
        raise ConfigError(f"split fractions must be three non-negative numbers, got {tuple(fractions)}")
    if abs(sum(fractions) - 1.0) > 1e-6:
        raise ConfigError(f"split fractions must sum to 1, got {tuple(fractions)} (sum {sum(fractions)})")


def hold_out_tails(streams: Sequence, minimum: int) -> tuple[list, list]:
    """Split each stream into a head and its last tenth (at least ``minimum`` tokens).

    The validation data of a set too small for a validation split: every stream that is
    longer than twice ``minimum`` gives its tail; shorter ones stay whole in the heads.
    """
    heads, tails = [], []
    for stream in streams:
        holdout = max(minimum, len(stream) // 10)
        if len(stream) - holdout >= minimum:
            heads.append(stream[:-holdout])
            tails.append(stream[-holdout:])
        else:
            heads.append(stream)
    return heads, tails


def assign_splits(paths: Sequence[str], fractions: Sequence[float] = DEFAULT_FRACTIONS,
                  groups: dict[str, str] | None = None) -> dict[str, str]:
    """The split of each relative path: a stable hash, plus a minimum-size rule.

    With ``groups`` (path -> its group's key, see :func:`musicgen.data.duplicates.duplicate_groups`)
    the groups are split as items and every path goes where its group goes, so twins share a split.

    Each path goes where :func:`split_of` puts it. Then, if there are at
    least as many files as splits with a non-zero fraction, every such split that came
    out empty (checked in the order train, validation, test) takes one file from the
    currently largest split (ties: train, validation, test): the file whose hash
    position lies nearest to the empty split. The rule depends only on the paths.
    """
    if groups is not None:
        by_group = assign_splits(sorted({groups[path] for path in paths}), fractions)
        return {path: by_group[groups[path]] for path in paths}
    splits = {path: split_of(path, fractions) for path in paths}
    wanted = [name for name, fraction in zip(SPLIT_NAMES, fractions, strict=True) if fraction > 0]
    if len(paths) < len(wanted):
        return splits
    for target in wanted:
        members = {name: [p for p in paths if splits[p] == name] for name in SPLIT_NAMES}
        if members[target]:
            continue
        donor = max(SPLIT_NAMES, key=lambda name: (len(members[name]), -SPLIT_NAMES.index(name)))
        later = SPLIT_NAMES.index(target) > SPLIT_NAMES.index(donor)
        choose = max if later else min
        moved = choose(sorted(members[donor]), key=stable_fraction)
        splits[moved] = target
    return splits
