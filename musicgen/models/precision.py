"""Which precision the matrix products run in: ``--precision auto|float32|bfloat16|float16``.

The policy is mixed: weights and optimizer state stay float32, and so do the embedding, the
recurrent cell state and gates, the logits, the softmax and the loss. Only the recurrent
layers' matrix products run in the lower precision (:func:`musicgen.models.kernels.product`
in musicgen's fused layer; Keras's mixed policy for Keras's layers on a GPU), which is where
the work is, so a checkpoint trained in one precision resumes, evaluates and samples in any
other.

What ``auto`` chooses (:func:`choose_precision`): on a GPU, bfloat16 where the device has it
(compute capability 8 and up), else float16 (with loss scaling); on a CPU, bfloat16 where the
CPU multiplies bfloat16 in hardware (the ``amx_bf16`` or ``avx512_bf16`` flag: measured faster,
docs/benchmarks.md), else float32. float16 on a CPU is refused; bfloat16 on a CPU without
those units runs emulated, with a warning.
"""

from __future__ import annotations

import sys
from pathlib import Path

from musicgen.errors import ConfigError

PRECISIONS = ("auto", "float32", "bfloat16", "float16")
BFLOAT16_FLAGS = ("amx_bf16", "avx512_bf16")  # CPU flags of hardware bfloat16 products


def cpu_flags() -> set[str]:
    """The CPU's feature flags (Linux ``/proc/cpuinfo``; empty elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def gpu_capability() -> tuple[int, int] | None:
    """The first GPU's compute capability, or None without a GPU."""
    import tensorflow as tf

    devices = tf.config.list_physical_devices("GPU")
    if not devices:
        return None
    details = tf.config.experimental.get_device_details(devices[0])
    return tuple(details.get("compute_capability", (0, 0)))


def choose_precision(requested: str = "auto") -> tuple[str, str]:
    """``(precision, why)`` for ``requested`` on this machine; a :class:`ConfigError` for a
    precision the device cannot run."""
    if requested not in PRECISIONS:
        raise ConfigError(f"--precision must be one of {', '.join(PRECISIONS)}, got {requested!r}")
    capability = gpu_capability()
    hardware = sorted(set(BFLOAT16_FLAGS) & cpu_flags())
    if capability is not None:
        bfloat16 = capability >= (8, 0)
        if requested == "auto":
            return (("bfloat16", f"a GPU of compute capability {capability[0]}.{capability[1]} has bfloat16")
                    if bfloat16 else ("float16", "a GPU without bfloat16: float16 with loss scaling"))
        return requested, "as asked"
    if requested == "float16":
        raise ConfigError("--precision float16 needs a GPU; on a CPU use bfloat16 or float32")
    if requested == "auto":
        if hardware:
            return "bfloat16", f"the CPU multiplies bfloat16 in hardware ({', '.join(hardware)})"
        return "float32", "the CPU has no bfloat16 units (no amx_bf16 or avx512_bf16)"
    if requested == "bfloat16" and not hardware:
        print("warning: this CPU has no bfloat16 units (no amx_bf16 or avx512_bf16): bfloat16 runs emulated "
              "and slower than float32", file=sys.stderr)
    return requested, "as asked"


def apply_precision(model: object, precision: str) -> None:
    """Run ``model``'s recurrent layers' products in ``precision`` (a resolved one, not ``auto``)."""
    import keras

    from musicgen.models.recurrent import Recurrent

    lower = None if precision == "float32" else precision
    for layer in getattr(model, "layers", []):
        if isinstance(layer, Recurrent):
            layer.product_dtype = lower
        elif isinstance(layer, keras.layers.RNN):  # Keras's layers (cuDNN): the mixed policy
            layer.dtype_policy = keras.DTypePolicy(f"mixed_{precision}" if lower else "float32")
