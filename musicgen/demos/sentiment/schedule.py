"""ULMFiT's fine-tuning schedules (Howard and Ruder 2018), as plain functions of the epoch.

- Gradual unfreezing: the layer groups are ordered top first (the heads, then each
  recurrent level, then the embedding); epoch ``e`` (from 0) trains groups ``0..e``.
- Discriminative learning rates: group ``g`` learns at ``decay ** -g`` of the top rate.
- Slanted triangular learning rate: a short linear rise to the peak, then a long
  linear fall to ``peak / ratio``.

Pure Python: no TensorFlow import.
"""

from __future__ import annotations

STLR_RATIO = 32.0  # how much lower than the peak the rate starts and ends (the paper's value)


def trainable_groups(epoch: int, groups: int, gradual: bool = True, freeze_encoder: bool = False) -> int:
    """How many layer groups, counted from the top, train in ``epoch`` (from 0).

    ``freeze_encoder`` trains the top group (the heads) alone; without ``gradual`` every
    group trains from the start.
    """
    if epoch < 0 or groups < 1:
        raise ValueError(f"need epoch >= 0 and groups >= 1, got {epoch} and {groups}")
    if freeze_encoder:
        return 1
    return min(groups, epoch + 1) if gradual else groups


def learning_rate_multipliers(groups: int, decay: float) -> list[float]:
    """The factor on the top rate of each group, top first: ``1, 1/decay, 1/decay**2, ...``."""
    return [decay ** -index for index in range(groups)]


def slanted_triangular(progress: float, peak: float, warmup_fraction: float, ratio: float = STLR_RATIO) -> float:
    """The learning rate once ``progress`` (0 to 1) of the planned training is done.

    It rises linearly from ``peak / ratio`` to ``peak`` over the first ``warmup_fraction``,
    then falls linearly back to ``peak / ratio`` at the end.
    """
    progress = min(max(progress, 0.0), 1.0)
    if progress < warmup_fraction:
        position = progress / warmup_fraction
    else:
        position = 1.0 - (progress - warmup_fraction) / (1.0 - warmup_fraction) if warmup_fraction < 1.0 else 1.0
    return peak * (1.0 + position * (ratio - 1.0)) / ratio
