"""What a guidance processor adds after given tokens, from the compiled rules, checked against the
token-by-token sampler's NumPy rules (a checker per row), which must add the same numbers."""

from __future__ import annotations

from typing import Any

import numpy as np

from musicgen.generation.processors import StepContext


def guidance_rows(tokenizer: Any, guidance: Any, rows: list[list[int]]) -> np.ndarray:
    """``(len(rows), vocab)``: the bias ``guidance`` adds after each row of tokens (rows of one length)."""
    import tensorflow as tf

    grammar = tokenizer.grammar()
    masker, checkers = grammar.masker(), [grammar.checker() for _ in rows]
    params = masker.params()
    state = masker.initial_state(len(rows))
    for column in zip(*rows, strict=True):
        state = masker.update(state, tf.constant(column, tf.int32), params)
        for checker, token in zip(checkers, column, strict=True):
            checker.feed(token)
    inputs = {guidance.name: {key: tf.constant(value) for key, value in guidance.inputs().items()}}
    context = StepContext(tf.ones([len(rows), tokenizer.vocab_size], tf.bool), masker.drums(state), masker=masker,
                          state=state, inputs=inputs)
    compiled = guidance(tf.zeros([len(rows), tokenizer.vocab_size]), context).numpy()
    rules = checkers[0].rules
    np.testing.assert_allclose(compiled, np.stack([
        guidance.bias(guidance.inputs(), guidance.reads(rules, checker.state), rules.drums(checker.state), rules.x)[0]
        for checker in checkers]))
    return compiled
