"""Which pieces are the same music: content fingerprints, and groups that must share a split.

A folder may hold one song twice (two exports, a renamed copy) or a song and its twin with a
track more or less (a lead sheet and its full arrangement). If one lands in training and the
other in test, the test score is a training score. :func:`fingerprint` gives a piece's
content (its notes: onsets, lengths and pitches on the tokenizer's grid, per instrument,
whatever their velocities, controls or file names) and one fingerprint per instrument part;
:func:`duplicate_groups` joins the pieces that share a part of at least
:data:`MIN_SHARED_NOTES` notes, so that :func:`musicgen.data.splits.assign_splits` puts each
group in one split, and evaluation recognises a training piece by its content.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from musicgen.tokens import Tokenizer

MIN_SHARED_NOTES = 8  # a shared part this long makes two pieces twins (a lone crash cymbal does not)


def _digest(rows: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(rows, np.int64).tobytes()).hexdigest()[:16]


def fingerprint(ids: Any, tokenizer: Tokenizer) -> tuple[str, list[str]]:
    """``(content, parts)``: a digest of the piece's notes and one per instrument part of at least
    :data:`MIN_SHARED_NOTES` notes."""
    notes = np.asarray([(start, end - start, pitch, program) for start, end, pitch, _, program
                        in tokenizer.decode_notes(ids)], np.int64).reshape(-1, 4)
    notes = notes[np.lexsort(notes.T[::-1])]
    parts = [_digest(notes[notes[:, 3] == program]) for program in np.unique(notes[:, 3])
             if np.count_nonzero(notes[:, 3] == program) >= MIN_SHARED_NOTES]
    return _digest(notes), parts


def duplicate_groups(keys: Sequence[str], fingerprints: Sequence[tuple[str, list[str]]]) -> dict[str, str]:
    """Each key's group: the smallest key of the pieces joined to it by equal content or a shared part."""
    parent = list(range(len(keys)))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    first: dict[str, int] = {}
    for index, (content, parts) in enumerate(fingerprints):
        for mark in (f"content:{content}", *(f"part:{part}" for part in parts)):
            if mark in first:
                a, b = root(first[mark]), root(index)
                parent[max(a, b)] = min(a, b)
            else:
                first[mark] = index
    members: dict[int, list[str]] = {}
    for index, key in enumerate(keys):
        members.setdefault(root(index), []).append(key)
    return {key: min(group) for group in members.values() for key in group}
