"""Sampling under guidance: tokens forced where the music is given, sampled where it is not.

Infilling and accompaniment interleave given tokens (the bars around a hole; a melody's
part of every bar) with sampled ones, in an order only known while sampling. The compiled
sampler runs a fixed prefix and then samples; :class:`GuidedSampler` instead takes one
token at a time from its caller, through the session's step network (one compiled step,
:meth:`musicgen.Session.step_network`) and the encoding's grammar, the same rules
(:mod:`musicgen.tokens.grammar`) that the compiled sampler runs, with the data's constraints
and the sampling rules (every sampled bar full). Random numbers come from stateless draws
seeded by the caller's seed and the draw's number, so a seed gives the same music. The logits
go through the same processors as the compiled sampler's (:mod:`musicgen.generation.processors`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from musicgen.errors import ConfigError
from musicgen.generation.options import check_sampling_options

if TYPE_CHECKING:
    from musicgen.generation.processors import Guidance
    from musicgen.generation.sampler import ModelSession
    from musicgen.tokens.grammar import Constraints


class GuidedSampler:
    """One sequence, token by token: :meth:`force` given tokens, :meth:`sample` the model's."""

    def __init__(self, session: ModelSession, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
                 seed: int = 0, precision: str = "auto", constraints: Constraints | None = None,
                 guidance: tuple[Guidance, ...] = ()) -> None:
        check_sampling_options(temperature, top_k, top_p)
        checkpoint = session.checkpoint
        tokenizer = checkpoint.tokenizer
        if not tokenizer.editable:
            raise ConfigError(f"checkpoint {checkpoint.directory} uses the {tokenizer.encoding} encoding, whose pieces "
                              "cannot be edited bar by bar and track by track: train a model in the notes encoding")
        self.tokenizer = tokenizer
        if constraints is None:  # what the training data had
            constraints = checkpoint.profile.constraints(tokenizer)
        self.checker = tokenizer.grammar().checker(constraints, sampling=True)
        self.network, self.step = session.step_network(precision)
        self.states = self.network.initial_states(1)
        self.logits: Any = None
        self._options = (float(temperature), int(top_k), float(top_p))
        self.guidance = tuple(guidance)
        self._choose = _chooser(temperature == 0, top_k > 0, top_p < 1.0)
        self.seed = int(seed) % (1 << 63)
        self.tokens: list[int] = []
        self.masked: list[float] = []

    def force(self, tokens: Any) -> None:
        """Feed given tokens: music from a file, or a token the caller chose. They are not held to
        the training data's limits (a file may have more tracks, or wider parts, than the data)."""
        import tensorflow as tf

        for token in np.asarray(tokens, np.int64).reshape(-1).tolist():
            self.checker.feed(token, check=False)
            self.logits, self.states = self.step(tf.constant([token], tf.int32), self.states)
            self.tokens.append(token)

    def can_sample(self, allowed: np.ndarray) -> bool:
        """Whether some token is grammatical, kept to the data and in ``allowed`` here."""
        return bool((self.checker.allowed_mask() & allowed).any())

    def sample(self, allowed: np.ndarray | None = None, feed: bool = True) -> int:
        """Draw the next token from the model, among the grammatical, allowed ones; return it.

        The token is fed unless ``feed`` is false (the caller then forces it, or another).
        Draw ``n`` is seeded by ``(seed, n)``, so a seed gives the same tokens.
        """
        import tensorflow as tf

        if self.logits is None:
            raise ConfigError("force at least BOS before sampling")
        mask = self.checker.allowed_mask()
        if allowed is not None:
            mask &= allowed
        if not mask.any():
            raise ConfigError("nothing is allowed here: the guidance contradicts the grammar")
        seed = tf.constant([self.seed, len(self.masked)], tf.int64)
        forced = tf.constant([self.checker.forced])
        temperature, top_k, top_p = self._options
        token, mass = self._choose(tf.cast(self.logits, tf.float32), tf.constant(mask[np.newaxis]), forced, seed,
                                   tf.constant(max(temperature, 1e-6), tf.float32), tf.constant(max(top_k, 1)),
                                   tf.constant(top_p, tf.float32), tf.constant(self._bias()))
        self.masked.append(float(mass))
        token = int(token)
        if feed:
            self.force([token])
        return token

    def _bias(self) -> np.ndarray:
        """What the guidance processors add to the next token's logits, computed as the compiled
        sampler computes it (:class:`~musicgen.generation.processors.Guidance`); zeros without any."""
        bias = np.zeros(self.tokenizer.vocab_size, np.float32)
        rules, state = self.checker.rules, self.checker.state
        for item in self.guidance:
            now = item.reads(rules, state)
            if now is not None:
                bias += np.asarray(item.bias(item.inputs(), now, rules.drums(state), rules.x), np.float32)[0]
        return bias

    @property
    def masked_mass(self) -> tuple[float, float]:
        """Mean and largest probability mass the grammar and constraints removed per sampled token."""
        return (float(np.mean(self.masked)) if self.masked else 0.0, float(max(self.masked, default=0.0)))


@lru_cache(maxsize=8)
def _chooser(greedy: bool, use_top_k: bool, use_top_p: bool) -> Any:
    """The compiled choice of one token (processors, then a draw or the best), shared by every
    guided sampler with these switches: the numbers are its inputs."""
    import tensorflow as tf

    from musicgen.generation.processors import (
        StepContext,
        draw,
        masked_mass,
        sampling_chain,
        unsure_rows,
    )
    from musicgen.generation.processors import greedy as best

    def choose(logits: Any, allowed: Any, forced: Any, seed: Any, temperature: Any, top_k: Any, top_p: Any,
               bias: Any) -> Any:
        removed = masked_mass(logits, allowed)
        chain = sampling_chain(None if greedy else temperature, top_k if use_top_k else None,
                               top_p if use_top_p else None, bias)
        scores = chain(logits, StepContext(allowed, unsure=unsure_rows(forced, removed)))
        token = best(scores) if greedy else draw(scores, seed)
        return token[0], removed[0]

    return tf.function(choose, reduce_retracing=True)
