"""Benchmarks behind ``musicgen bench``.

One module per benchmark (``prepare``, ``train``, ``generate``). Each exposes
``add_arguments(parser)`` and ``run(args) -> dict``; the returned dict is printed
as one JSON object on the last line with ``--json``. Machines are shared and noisy,
so benchmarks report medians after warm-up and compare against a baseline
measured in the same run rather than against fixed numbers.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of repeated calls."""

    seconds: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def best(self) -> float:
        return min(self.seconds)


def time_calls(function: Callable[[], object], repeats: int, warmup: int = 1) -> Timing:
    """Call ``function`` ``warmup`` times untimed, then ``repeats`` times timed."""
    for _ in range(warmup):
        function()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - start)
    return Timing(seconds)
