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


def matmul_rate(rows: int, inner: int, columns: int, dtype: str, seconds: float = 1.0) -> float:
    """GFLOP/s of one compiled ``(rows, inner) @ (inner, columns)`` product in ``dtype``, the best
    of three rounds of about ``seconds`` each."""
    import tensorflow as tf

    a = tf.cast(tf.random.normal([rows, inner]), dtype)
    b = tf.cast(tf.random.normal([inner, columns]), dtype)
    product = tf.function(lambda a, b: tf.matmul(a, b))
    product(a, b).numpy()
    start = time.perf_counter()
    product(a, b).numpy()
    repeats = max(1, int(seconds / max(time.perf_counter() - start, 1e-6)))
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            result = product(a, b)
        result.numpy()
        best = min(best, (time.perf_counter() - start) / repeats)
    return 2.0 * rows * inner * columns / best / 1e9


def machine_report(shapes: dict[str, tuple[int, int, int]]) -> dict:
    """The device, the CPU's flags that matter here, and the float32 and bfloat16 rates of
    ``shapes`` (name -> product shape), measured now: the baseline every figure is a fraction of."""
    import platform

    from musicgen.models.precision import BFLOAT16_FLAGS, cpu_flags, gpu_capability

    flags = cpu_flags()
    capability = gpu_capability()
    return {
        "device": f"GPU (compute capability {capability[0]}.{capability[1]})" if capability else
        f"CPU: {platform.processor() or platform.machine()}",
        "cpu_flags": sorted(flags & {*BFLOAT16_FLAGS, "amx_tile", "amx_int8", "avx512f", "avx2", "avx512_vnni"}),
        "matmul_gflops": {name: {dtype: round(matmul_rate(*shape, dtype), 1) for dtype in ("float32", "bfloat16")}
                          for name, shape in shapes.items()},
    }
