"""A smoothed n-gram language model over token streams, fitted with numpy.

The baseline a recurrent model must beat (``musicgen evaluate``) and a tiny generator.
Each stream is scored from its second token on: token ``t`` is predicted from the
``order - 1`` tokens before it, and positions before the stream's start are a padding
symbol that is only ever context (never predicted), so every stream's first token is a
given, like the BOS a language model is fed.

Contexts are numbered level by level without per-token Python objects: the id of a
context of length ``m`` is the rank of ``(id of its length m-1 suffix, its leftmost
token)`` among the pairs seen in training, so every context is an int64 and every
n-gram is ``context_id * vocab_size + token``; lookups are ``np.searchsorted``.

Smoothings (every one a proper distribution over the vocabulary):

- ``kneser_ney``: interpolated Kneser-Ney (continuation counts below the top order),
  one discount per order (Ney's estimate ``n1 / (n1 + 2 n2)`` unless ``discount`` is given);
- ``absolute``: interpolated absolute discounting (raw counts at every order);
- ``backoff``: absolute-discount back-off, normalised Katz-style so each context's
  distribution sums to one (a context followed by every token interpolates instead);
- ``add_k``: add-``k`` on the longest context seen in training.

Every chain ends in the uniform distribution, so unseen tokens keep some mass.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from musicgen.data.splits import hold_out_tails
from musicgen.errors import ConfigError, DataError

DEFAULT_ORDERS = tuple(range(1, 9))  # the orders fit_baseline tries

SMOOTHINGS = ("kneser_ney", "absolute", "backoff", "add_k")


class NGramModel:
    """An n-gram language model of ``order`` (``order - 1`` tokens of context).

    ``discount`` (in (0, 1)) fixes the discount of every order for the discounting
    smoothings; None estimates one per order from the counts of counts. ``k`` is the
    pseudo-count of ``add_k``. ``vocab_size`` defaults to the largest fitted token + 1.
    """

    def __init__(
        self,
        order: int,
        smoothing: str = "kneser_ney",
        discount: float | None = None,
        k: float = 0.01,
        vocab_size: int | None = None,
    ) -> None:
        if not isinstance(order, int) or order < 1:
            raise ConfigError(f"the n-gram order must be a positive integer, got {order!r}")
        if smoothing not in SMOOTHINGS:
            raise ConfigError(f"smoothing must be one of {', '.join(SMOOTHINGS)}, got {smoothing!r}")
        if discount is not None and not 0.0 < discount < 1.0:
            raise ConfigError(f"the discount must be in (0, 1), got {discount}")
        if not k > 0:
            raise ConfigError(f"k must be positive, got {k}")
        if vocab_size is not None and vocab_size < 1:
            raise ConfigError(f"vocab_size must be positive, got {vocab_size}")
        self.order = order
        self.smoothing = smoothing
        self.discount = discount
        self.k = float(k)
        self.vocab_size = vocab_size
        self.fitted = False

    def __repr__(self) -> str:
        return f"NGramModel(order={self.order}, smoothing={self.smoothing!r}, vocab_size={self.vocab_size})"

    # ------------------------------------------------------------------ fitting
    def fit(self, streams: Iterable[Sequence[int]]) -> NGramModel:
        """Count the n-grams of ``streams`` (int token sequences); returns ``self``."""
        streams = [np.asarray(stream, np.int64).reshape(-1) for stream in streams]
        streams = [stream for stream in streams if len(stream) >= 2]
        if not streams:
            raise DataError("cannot fit an n-gram model: no stream has two or more tokens")
        largest = max(int(stream.max()) for stream in streams)
        if min(int(stream.min()) for stream in streams) < 0:
            raise DataError("token ids must be non-negative")
        if self.vocab_size is None:
            self.vocab_size = largest + 1
        elif largest >= self.vocab_size:
            raise DataError(f"token id {largest} is outside the vocabulary of {self.vocab_size}")
        vocab, context_size = self.vocab_size, self.order - 1
        self._start = vocab  # padding symbol, only ever context
        padded, targets = self._pad(streams)
        # Context ids, extended to the left one token at a time.
        ids = np.zeros(len(targets), np.int64)
        self._context_keys = [np.zeros(1, np.int64)]
        context_ids = [ids]
        for length in range(1, context_size + 1):
            keys = ids * (vocab + 1) + padded[targets - length]
            unique, ids = np.unique(keys, return_inverse=True)
            self._context_keys.append(unique)
            context_ids.append(ids.astype(np.int64))
        self._tables = [self._level(m, context_ids, padded[targets]) for m in range(context_size + 1)]
        self._first_token = int(np.bincount([int(s[0]) for s in streams]).argmax())
        self._last_token = int(np.bincount([int(s[-1]) for s in streams]).argmax())
        self.fitted = True
        if self.smoothing == "backoff":
            self._fit_backoff_weights()
        return self

    def _pad(self, streams: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """All streams concatenated, each behind ``order - 1`` padding symbols, and target indices."""
        context_size = self.order - 1
        pieces, targets, offset = [], [], 0
        for stream in streams:
            pieces.append(np.full(context_size, self._start, np.int64))
            pieces.append(stream)
            begin = offset + context_size
            targets.append(np.arange(begin + 1, begin + len(stream)))
            offset = begin + len(stream)
        return np.concatenate(pieces), np.concatenate(targets)

    def _level(self, m: int, context_ids: list[np.ndarray], tokens: np.ndarray) -> _Level:
        """Counts of the n-grams with ``m`` tokens of context."""
        vocab = self.vocab_size
        raw_keys = context_ids[m] * vocab + tokens
        if self.smoothing == "kneser_ney" and m < self.order - 1:
            # Continuation counts: how many distinct tokens precede each n-gram.
            longer = np.unique(context_ids[m + 1] * vocab + tokens)
            parents = self._context_keys[m + 1][longer // vocab] // (vocab + 1)
            keys, counts = np.unique(parents * vocab + longer % vocab, return_counts=True)
        else:
            keys, counts = np.unique(raw_keys, return_counts=True)
        contexts = keys // vocab
        size = len(self._context_keys[m])
        totals = np.bincount(contexts, weights=counts, minlength=size)
        types = np.bincount(contexts, minlength=size).astype(np.float64)
        discount = self.discount
        if discount is None:
            n1, n2 = np.sum(counts == 1), np.sum(counts == 2)
            discount = float(n1 / (n1 + 2 * n2)) if n1 > 0 and n2 > 0 else 0.5
            discount = min(max(discount, 0.05), 0.95)
        return _Level(keys, counts.astype(np.float64), totals, types, discount)

    def _fit_backoff_weights(self) -> None:
        """Katz-style back-off weights: each context's unseen tokens share its discounted mass."""
        vocab = self.vocab_size
        for m, level in enumerate(self._tables):
            contexts, tokens = level.keys // vocab, level.keys % vocab
            chains = self._suffix_chains(contexts, m)
            lower = self._probabilities(chains[:, :m], tokens, top=m - 1) if m else np.full(len(tokens), 1.0 / vocab)
            covered = np.bincount(contexts, weights=lower, minlength=len(level.totals))
            freed = level.discount * level.types / np.maximum(level.totals, 1e-300)
            # A context followed by every token has nothing to back off to: it interpolates.
            level.full = 1.0 - covered < 1e-9
            level.alpha = np.where(level.full, freed, freed / np.maximum(1.0 - covered, 1e-9))

    def _suffix_chains(self, ids: np.ndarray, m: int) -> np.ndarray:
        """``(n, m + 1)`` context ids of lengths ``0..m`` of contexts of length ``m``."""
        chains = np.zeros((len(ids), m + 1), np.int64)
        chains[:, m] = ids
        for length in range(m, 0, -1):
            chains[:, length - 1] = self._context_keys[length][chains[:, length]] // (self.vocab_size + 1)
        return chains

    # ------------------------------------------------------------------ scoring
    def _check_fitted(self) -> None:
        if not self.fitted:
            raise ConfigError("the n-gram model is not fitted yet: call fit(streams) first")

    def _lookup_contexts(self, padded: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """``(n, order)`` training context ids of each target, -1 where unseen."""
        ids = np.zeros(len(targets), np.int64)
        chains = np.full((len(targets), self.order), -1, np.int64)
        chains[:, 0] = 0
        for length in range(1, self.order):
            table = self._context_keys[length]
            keys = ids * (self.vocab_size + 1) + padded[targets - length]
            found = _find(table, keys) & (ids >= 0)
            ids = np.where(found, np.searchsorted(table, keys), -1)
            chains[:, length] = ids
        return chains

    def _probabilities(self, chains: np.ndarray, tokens: np.ndarray, top: int | None = None) -> np.ndarray:
        """Probability of each token given its context chain, using levels ``0..top``."""
        vocab = self.vocab_size
        top = self.order - 1 if top is None else top
        probability = np.full(len(tokens), 1.0 / vocab)
        for m in range(top + 1):
            level = self._tables[m]
            context = chains[:, m]
            seen = context >= 0
            safe = np.where(seen, context, 0)
            keys = safe * vocab + tokens
            index = np.minimum(np.searchsorted(level.keys, keys), len(level.keys) - 1)
            hit = seen & (level.keys[index] == keys)
            count = np.where(hit, level.counts[index], 0.0)
            total = level.totals[safe]
            seen &= total > 0
            total = np.maximum(total, 1e-300)
            if self.smoothing == "add_k":
                estimate = (count + self.k) / (total + self.k * vocab)
            elif self.smoothing == "backoff":
                shared = level.alpha[safe] * probability
                estimate = np.where(hit, (count - level.discount) / total + np.where(level.full[safe], shared, 0.0),
                                    shared)
            else:
                estimate = (np.maximum(count - level.discount, 0.0)
                            + level.discount * level.types[safe] * probability) / total
            probability = np.where(seen, estimate, probability)
        return probability

    def _check_stream(self, stream: Sequence[int]) -> np.ndarray:
        stream = np.asarray(stream, np.int64).reshape(-1)
        if len(stream) and (stream.min() < 0 or stream.max() >= self.vocab_size):
            raise DataError(
                f"token ids must lie in [0, {self.vocab_size}), got {stream.min()}..{stream.max()} "
                "(the vocabulary is fixed at fit time: pass vocab_size to NGramModel)"
            )
        return stream

    def log_prob(self, stream: Sequence[int]) -> np.ndarray:
        """Natural-log probability of each token of ``stream`` after the first (length ``len - 1``)."""
        self._check_fitted()
        stream = self._check_stream(stream)
        if len(stream) < 2:
            return np.zeros(0)
        padded, targets = self._pad([stream])
        chains = self._lookup_contexts(padded, targets)
        return np.log(self._probabilities(chains, padded[targets]))

    def nll(self, streams: Iterable[Sequence[int]]) -> float:
        """Mean negative log-likelihood per scored token (nats) over ``streams``."""
        self._check_fitted()
        streams = [self._check_stream(s) for s in streams if len(s) >= 2]
        if not streams:
            raise DataError("no stream with two or more tokens to score")
        padded, targets = self._pad(streams)
        chains = self._lookup_contexts(padded, targets)
        return float(-np.mean(np.log(self._probabilities(chains, padded[targets]))))

    def distribution(self, context: Sequence[int]) -> np.ndarray:
        """Probabilities of every token of the vocabulary after ``context`` (sums to 1).

        ``context`` is the tokens so far, the first one included; an empty context
        means the start of a stream.
        """
        self._check_fitted()
        context = self._check_stream(list(context)[-(self.order - 1):] if self.order > 1 else [])
        padded = np.concatenate([np.full(self.order - 1, self._start, np.int64), context, [0]])
        chains = self._lookup_contexts(padded, np.array([len(padded) - 1]))
        tokens = np.arange(self.vocab_size)
        return self._probabilities(np.repeat(chains, self.vocab_size, axis=0), tokens)

    # ----------------------------------------------------------------- sampling
    def sample(
        self,
        length: int,
        seed: int | None = None,
        prefix: Sequence[int] | None = None,
        temperature: float = 1.0,
        stop_token: int | None = -1,
    ) -> np.ndarray:
        """Up to ``length`` new tokens after ``prefix``, returned with the prefix in front.

        ``prefix`` defaults to the most common first token of the training streams;
        sampling stops after ``stop_token`` (default: the most common last token; None
        never stops). ``temperature`` sharpens (< 1) or flattens (> 1) each distribution.
        """
        self._check_fitted()
        if not isinstance(length, int) or length < 0:
            raise ConfigError(f"length must be a non-negative integer, got {length!r}")
        if not temperature > 0:
            raise ConfigError(f"temperature must be positive, got {temperature}")
        rng = np.random.default_rng(seed)
        tokens = [self._first_token] if prefix is None else [int(t) for t in prefix]
        stop = self._last_token if stop_token == -1 else stop_token
        for _ in range(length):
            probabilities = self.distribution(tokens)
            if temperature != 1.0:
                logits = np.log(np.maximum(probabilities, 1e-300)) / temperature
                probabilities = np.exp(logits - logits.max())
            probabilities = probabilities / probabilities.sum()
            token = int(rng.choice(self.vocab_size, p=probabilities))
            tokens.append(token)
            if stop is not None and token == stop:
                break
        return np.asarray(tokens, np.int32)


@dataclass
class _Level:
    """Counts of one order: sorted n-gram keys and, per context, total and distinct types."""

    keys: np.ndarray
    counts: np.ndarray
    totals: np.ndarray
    types: np.ndarray
    discount: float
    alpha: np.ndarray | None = None
    full: np.ndarray | None = None


def _find(table: np.ndarray, keys: np.ndarray) -> np.ndarray:
    index = np.minimum(np.searchsorted(table, keys), len(table) - 1)
    return table[index] == keys


@dataclass
class Selection:
    """The n-gram model chosen on validation data and the grid it was chosen from."""

    model: NGramModel
    validation_nll: float
    table: list[dict]


def select_ngram(
    train_streams: Sequence[Sequence[int]],
    validation_streams: Sequence[Sequence[int]],
    orders: Iterable[int] = range(1, 9),
    smoothings: Iterable[str] = ("kneser_ney", "absolute", "backoff", "add_k"),
    vocab_size: int | None = None,
    progress: bool = False,
) -> Selection:
    """Fit each (order, smoothing) on ``train_streams``; keep the best on ``validation_streams``.

    ``add_k`` also tries k in 0.001, 0.01 and 0.1. Raises ``DataError`` when either set is empty.
    """
    train_streams = [s for s in train_streams if len(s) >= 2]
    validation_streams = [s for s in validation_streams if len(s) >= 2]
    if not train_streams or not validation_streams:
        raise DataError("choosing an n-gram model needs training and validation pieces of two or more tokens")
    if vocab_size is None:
        vocab_size = 1 + max(int(np.max(s)) for s in [*train_streams, *validation_streams])
    grid = []
    for smoothing in smoothings:
        for order in orders:
            for k in ((0.001, 0.01, 0.1) if smoothing == "add_k" else (0.01,)):
                grid.append((order, smoothing, k))
    iterator = grid
    if progress:
        from tqdm import tqdm

        iterator = tqdm(grid, desc="n-gram grid", unit="model", leave=False)
    best, table = None, []
    for order, smoothing, k in iterator:
        model = NGramModel(order, smoothing, k=k, vocab_size=vocab_size).fit(train_streams)
        nll = model.nll(validation_streams)
        row = {"order": order, "smoothing": smoothing, "validation_nll": nll}
        if smoothing == "add_k":
            row["k"] = k
        table.append(row)
        if math.isfinite(nll) and (best is None or nll < best[1]):
            best = (model, nll)
    return Selection(best[0], best[1], table)


def fit_baseline(streams: dict[str, list[np.ndarray]], vocab_size: int, orders: tuple[int, ...] = DEFAULT_ORDERS,
                 progress: bool = False) -> Selection:
    """The n-gram model fitted on ``train``, order and smoothing chosen on ``validation``.

    Without validation pieces, the last tenth of each training piece stands in for them.
    """
    train, validation = list(streams["train"]), list(streams["validation"])
    if not train:
        raise DataError("the n-gram baseline needs a training split with at least one piece")
    if not any(len(s) >= 2 for s in validation):
        train, validation = hold_out_tails(train, minimum=2)
    if progress:
        print(f"choosing the n-gram baseline on {len(validation)} validation pieces", file=sys.stderr, flush=True)
    return select_ngram(train, validation, orders=orders, vocab_size=vocab_size, progress=progress)


