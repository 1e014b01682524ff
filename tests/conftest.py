"""Shared test set-up: quiet, deterministic TensorFlow on the CPU."""

from __future__ import annotations

import os

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
from musicgen.runtime import quiet_tensorflow  # noqa: E402

quiet_tensorflow()


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tune_model(tmp_path_factory: pytest.TempPathFactory):
    """A tiny model trained once per test session on flute-and-bass tunes (see ``tunes.py``)."""
    from tunes import train_tune_model

    return train_tune_model(tmp_path_factory.mktemp("tune_model"))
