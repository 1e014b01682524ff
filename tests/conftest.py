"""Shared test set-up: quiet, deterministic TensorFlow on the CPU."""

from __future__ import annotations

import os

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
from musicgen.runtime import quiet_tensorflow  # noqa: E402

quiet_tensorflow()
