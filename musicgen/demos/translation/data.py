"""Spanish-English sentence pairs: reading, tokenising, splitting, vocabularies, batches.

The corpus is Tatoeba's English-Spanish pairs (``spa.txt``: ``English<TAB>Spanish`` per
line). Text is NFC-normalised and lower-cased, then cut into words (apostrophes kept
inside words: ``don't``) and single punctuation marks (``¿``, ``?``). A pair's split is a
stable hash of its normalised Spanish source, so all translations of one source sit in
one split. The task is restricted to pairs whose both sides have at most
``max_tokens`` tokens; the rule is the same for every split.
"""

from __future__ import annotations

import collections
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musicgen.data.splits import split_of
from musicgen.errors import DataError

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"
SPECIAL_TOKENS = (PAD, UNK, BOS, EOS)
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
SPLIT_SALT = "translation"
_TOKEN_PATTERN = re.compile(r"\w+(?:'\w+)*|[^\w\s]")
_NO_SPACE_BEFORE = set(".,!?;:%)]}…")
_NO_SPACE_AFTER = set("([{$")


@dataclass(frozen=True)
class Pair:
    """One sentence pair: the raw texts and their tokens (Spanish source, English target)."""

    source: str
    target: str
    source_tokens: tuple[str, ...]
    target_tokens: tuple[str, ...]


def normalise(text: str) -> str:
    """NFC-normalised, lower-cased text with single spaces (the key of a source's split)."""
    return " ".join(unicodedata.normalize("NFC", text).lower().split())


def tokenize(text: str, lowercase: bool = True) -> list[str]:
    """Words and punctuation marks of ``text`` (``"¿Qué hora es?"`` -> ``¿ qué hora es ?``)."""
    text = unicodedata.normalize("NFC", text)
    return _TOKEN_PATTERN.findall(text.lower() if lowercase else text)


def detokenize(tokens: Sequence[str], truecase: dict[str, str] | None = None) -> str:
    """Join English tokens into a sentence: punctuation attached, cased, first letter capital."""
    truecase = truecase or {}
    words = [truecase.get(token, token) for token in tokens]
    text = ""
    for index, word in enumerate(words):
        if index and word not in _NO_SPACE_BEFORE and words[index - 1] not in _NO_SPACE_AFTER:
            text += " "
        text += word
    return text[:1].upper() + text[1:]


def split_name(source: str) -> str:
    """The split (train, validation, test) of a Spanish source sentence."""
    return split_of(normalise(source), salt=SPLIT_SALT)


def read_pairs(data_dir: str | Path) -> list[tuple[str, str]]:
    """``(spanish, english)`` pairs of ``data_dir/spa.txt``; ``DataError`` if unusable."""
    path = Path(data_dir) / "spa.txt"
    if not path.is_file():
        raise DataError(f"{path}: no such file (expected Tatoeba's English<TAB>Spanish pairs)")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text ({error})") from error
    pairs = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2 or not fields[0].strip() or not fields[1].strip():
            raise DataError(f"{path}:{number}: expected 'English<TAB>Spanish', got {line[:60]!r}")
        pairs.append((fields[1].strip(), fields[0].strip()))
    if not pairs:
        raise DataError(f"{path}: no sentence pairs")
    return pairs


def load_splits(data_dir: str | Path, max_tokens: int) -> dict[str, list[Pair]]:
    """The pairs of each split with at most ``max_tokens`` tokens per side, in file order."""
    splits: dict[str, list[Pair]] = {"train": [], "validation": [], "test": []}
    for source, target in read_pairs(data_dir):
        source_tokens, target_tokens = tokenize(source), tokenize(target)
        if not source_tokens or not target_tokens:
            continue
        if len(source_tokens) > max_tokens or len(target_tokens) > max_tokens:
            continue
        pair = Pair(source, target, tuple(source_tokens), tuple(target_tokens))
        splits[split_name(source)].append(pair)
    return splits


def build_vocabulary(token_lists: Iterable[Sequence[str]], min_count: int, max_size: int) -> list[str]:
    """Special tokens, then the words seen ``min_count`` times or more, most frequent first."""
    counts = collections.Counter(token for tokens in token_lists for token in tokens)
    ranked = sorted(
        (token for token, count in counts.items() if count >= min_count),
        key=lambda token: (-counts[token], token),
    )
    return list(SPECIAL_TOKENS) + ranked[: max(0, max_size - len(SPECIAL_TOKENS))]


def build_truecase(sentences: Iterable[str]) -> dict[str, str]:
    """Lower-case word -> its usual written form, where that is not lower case (``tom -> Tom``).

    Counts forms away from the start of the sentence, where capitals carry meaning.
    """
    forms: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for sentence in sentences:
        for token in tokenize(sentence, lowercase=False)[1:]:
            forms[token.lower()][token] += 1
    truecase = {}
    for word, counter in forms.items():
        form = max(counter, key=lambda candidate: (counter[candidate], candidate == word))
        if form != word:
            truecase[word] = form
    return dict(sorted(truecase.items()))


def encode_tokens(tokens: Sequence[str], index: dict[str, int]) -> list[int]:
    """Token ids, unknown words as ``UNK_ID``."""
    return [index.get(token, UNK_ID) for token in tokens]


def pad_batch(sequences: Sequence[Sequence[int]], multiple: int = 1) -> np.ndarray:
    """Right-padded int32 matrix, its width the longest length rounded up to ``multiple``.

    Rounding keeps the number of distinct batch shapes (and so of traced graphs) small.
    """
    length = max((len(sequence) for sequence in sequences), default=1)
    length = -(-length // multiple) * multiple
    batch = np.full((len(sequences), max(length, 1)), PAD_ID, dtype=np.int32)
    for row, sequence in enumerate(sequences):
        batch[row, : len(sequence)] = sequence
    return batch


def encode_pairs(
    pairs: Sequence[Pair], source_index: dict[str, int], target_index: dict[str, int]
) -> tuple[list[list[int]], list[list[int]]]:
    """Source ids, and target ids framed as ``<s> ... </s>``."""
    sources = [encode_tokens(pair.source_tokens, source_index) for pair in pairs]
    targets = [[BOS_ID, *encode_tokens(pair.target_tokens, target_index), EOS_ID] for pair in pairs]
    return sources, targets


def teacher_forcing_batch(
    sources: Sequence[Sequence[int]], targets: Sequence[Sequence[int]], multiple: int = 1
) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray, np.ndarray]:
    """``((source, decoder_input), decoder_target, weights)`` for one batch."""
    source = pad_batch(sources, multiple)
    target = pad_batch(targets, multiple)
    decoder_input, decoder_target = target[:, :-1], target[:, 1:]
    weights = (decoder_target != PAD_ID).astype(np.float32)
    return (source, decoder_input), decoder_target, weights


def count_batches(pairs: int, batch_size: int) -> int:
    """How many batches :func:`length_bucketed_batches` yields for ``pairs`` pairs."""
    chunk = batch_size * 32
    full, rest = divmod(pairs, chunk)
    return full * 32 + -(-rest // batch_size)


def length_bucketed_batches(
    sources: Sequence[Sequence[int]],
    targets: Sequence[Sequence[int]],
    batch_size: int,
    rng: np.random.Generator | None,
) -> Iterator[tuple[tuple[np.ndarray, np.ndarray], np.ndarray, np.ndarray]]:
    """Batches of pairs of similar length (little padding); shuffled when ``rng`` is given.

    Pairs are shuffled, sorted by length within chunks of 32 batches, cut into batches,
    and the batches shuffled again; without ``rng`` the order is fixed.
    """
    order = np.arange(len(sources))
    if rng is not None:
        rng.shuffle(order)
    chunk = batch_size * 32
    batches = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lambda i: (len(targets[i]), len(sources[i])))
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    if rng is not None:
        rng.shuffle(batches)
    for batch in batches:
        yield teacher_forcing_batch([sources[i] for i in batch], [targets[i] for i in batch], multiple=4)
