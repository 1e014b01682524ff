"""Sampling under guidance: tokens forced where the music is given, sampled where it is not.

Infilling and accompaniment interleave given tokens (the bars around a hole; a melody's
part of every bar) with sampled ones, in an order only known while sampling. The compiled
sampler runs a fixed prefix and then samples; :class:`GuidedSampler` instead takes one
token at a time from its caller, through the same step network
(:class:`musicgen.models.stepping.StepNetwork`, one compiled step) and the same grammar
(:class:`musicgen.tokens.notes_grammar.NoteChecker`), with the data's constraints. Random numbers
come from a NumPy generator seeded by the caller, so a seed gives the same music.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from musicgen.errors import ConfigError
from musicgen.generation.options import check_sampling_options
from musicgen.tokens.grammar import grammar_for


class GuidedSampler:
    """One sequence, token by token: :meth:`force` given tokens, :meth:`sample` the model's."""

    def __init__(self, checkpoint: Any, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
                 seed: int = 0) -> None:
        import tensorflow as tf

        from musicgen.models.stepping import StepNetwork

        check_sampling_options(temperature, top_k, top_p)
        tokenizer = checkpoint.tokenizer
        if tokenizer.config.encoding != "notes":
            raise ConfigError(f"checkpoint {checkpoint.directory} uses the events encoding; infilling and "
                              "accompaniment need bars and tracks: train a model in the notes encoding")
        self.tokenizer = tokenizer
        constraints = checkpoint.profile.constraints(tokenizer)
        self.checker = grammar_for(tokenizer, constraints).checker()
        self.allowed = np.ones(tokenizer.vocab_size, bool) if constraints.allowed is None else constraints.allowed.copy()
        self.network = StepNetwork(checkpoint.model)
        self.step = tf.function(self.network.step, reduce_retracing=True)
        self.states = self.network.initial_states(1)
        self.logits: np.ndarray | None = None
        self.temperature, self.top_k, self.top_p = temperature, top_k, top_p
        self.rng = np.random.default_rng(seed)
        self.tokens: list[int] = []
        self.masked: list[float] = []

    def force(self, tokens: Any) -> None:
        """Feed given tokens (they must be grammatical here)."""
        import tensorflow as tf

        for token in np.asarray(tokens, np.int64).reshape(-1).tolist():
            self.checker.feed(token)
            logits, self.states = self.step(tf.constant([token], tf.int32), self.states)
            self.logits = logits.numpy()[0].astype(np.float64)
            self.tokens.append(token)

    def sample(self, allowed: np.ndarray | None = None, feed: bool = True) -> int:
        """Draw the next token from the model, among the grammatical, allowed ones; return it.

        The token is fed unless ``feed`` is false (the caller then forces it, or another).
        """
        if self.logits is None:
            raise ConfigError("force at least BOS before sampling")
        mask = self.checker.allowed_mask() & self.allowed
        if allowed is not None:
            mask &= allowed
        if not mask.any():
            raise ConfigError("nothing is allowed here: the guidance contradicts the grammar")
        logits = self.logits
        probabilities = np.exp(logits - logits.max())
        self.masked.append(1.0 - probabilities[mask].sum() / probabilities.sum())
        if self.temperature == 0:
            token = int(np.flatnonzero(mask)[np.argmax(logits[mask])])
        else:
            token = self._draw(np.where(mask, logits / self.temperature, -np.inf))
        if feed:
            self.force([token])
        return token

    def _draw(self, logits: np.ndarray) -> int:
        order = np.argsort(-logits, kind="stable")
        ranked = logits[order]
        keep = np.isfinite(ranked)
        if self.top_k:
            keep[self.top_k:] = False
        weights = np.exp(ranked - ranked[0]) * keep
        if self.top_p < 1.0:
            before = np.cumsum(weights) - weights
            keep &= before < self.top_p * weights.sum()
            weights = weights * keep
        return int(order[self.rng.choice(len(weights), p=weights / weights.sum())])

    @property
    def masked_mass(self) -> tuple[float, float]:
        """Mean and largest probability mass the grammar and constraints removed per sampled token."""
        return (float(np.mean(self.masked)) if self.masked else 0.0, float(max(self.masked, default=0.0)))
