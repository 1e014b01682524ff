"""``musicgen train FILE --max-minutes 10`` and nothing else: the time is the budget."""

from __future__ import annotations

import dataclasses

from musicgen.training import recipe
from musicgen.training.config import TrainConfig


def test_a_time_budget_alone_is_the_budget_and_updates_or_epochs_still_set_it() -> None:
    timed = recipe.resolve_schedule(dataclasses.replace(TrainConfig(), max_minutes=10.0), updates_per_epoch=25)
    plain = recipe.resolve_schedule(TrainConfig(), updates_per_epoch=25)
    assert plain.max_updates == 2_000  # 40 epochs of 25 updates, at least 2,000
    assert timed.max_updates == recipe.MAX_BUDGET  # the clock or early stopping ends it
    # validation, patience and the earliest stop as without a time budget
    assert (timed.eval_every, timed.patience_updates, timed.min_updates) == (
        plain.eval_every, plain.patience_updates, plain.min_updates)
    both = dataclasses.replace(TrainConfig(), max_minutes=10.0, max_updates=3_000)
    assert recipe.resolve_schedule(both, updates_per_epoch=25).max_updates == 3_000
    capped = dataclasses.replace(TrainConfig(), max_minutes=10.0, epochs=4)
    assert recipe.resolve_schedule(capped, updates_per_epoch=25).max_updates == 100
