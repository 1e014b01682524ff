"""The labelled sentences of the sentiment demo: reading, splitting, fingerprinting (no TensorFlow)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from musicgen import fileio
from musicgen.data.splits import DEFAULT_FRACTIONS
from musicgen.demos import text as text_utils
from musicgen.errors import DataError
from musicgen.paths import SENTIMENT_DATA_DIR

DATA_FILES = ("amazon_cells_labelled.txt", "imdb_labelled.txt", "yelp_labelled.txt")


@dataclass(frozen=True)
class Example:
    """One labelled sentence; ``source`` is the file stem (``amazon_cells``, ``imdb``, ``yelp``)."""

    text: str
    label: int
    source: str


def load_examples(data_dir: str | os.PathLike = SENTIMENT_DATA_DIR) -> list[Example]:
    """Read every ``*_labelled.txt`` file in ``data_dir`` (``sentence<TAB>label`` lines).

    Sentences are normalised (:func:`musicgen.demos.text.normalize_text`); a label other
    than 0 or 1 or an empty sentence raises ``DataError`` with the file and line.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: no such data directory")
    paths = sorted(data_dir.glob("*_labelled.txt"))
    if not paths:
        raise DataError(f"{data_dir}: no *_labelled.txt files (expected {', '.join(DATA_FILES)})")
    examples = []
    for path in paths:
        source = path.name.removesuffix("_labelled.txt")
        for number, line in enumerate(text_utils.read_lines(path), start=1):
            if not line.strip():
                continue
            sentence, separator, label = line.rpartition("\t")
            if not separator or label.strip() not in ("0", "1"):
                raise DataError(f"{path}: line {number}: expected 'sentence<TAB>0' or 'sentence<TAB>1'")
            sentence = text_utils.normalize_text(sentence)
            if not sentence:
                raise DataError(f"{path}: line {number}: empty sentence")
            examples.append(Example(sentence, int(label), source))
    return examples


def split_examples(
    examples: Sequence[Example], fractions: Sequence[float] = DEFAULT_FRACTIONS, salt: str = ""
) -> dict[str, list[Example]]:
    """Deterministic train/validation/test split by a stable hash of each (case-folded) sentence."""
    return text_utils.split_items(
        examples, key=lambda example: text_utils.split_key(example.text), fractions=fractions, salt=salt
    )


def data_fingerprint(data_dir: str | os.PathLike) -> dict[str, str]:
    """SHA-256 of each data file, recorded in the checkpoint."""
    return {path.name: fileio.sha256_file(path) for path in sorted(Path(data_dir).glob("*_labelled.txt"))}
