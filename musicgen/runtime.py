"""TensorFlow start-up: quiet logs, seeds and device set-up.

TensorFlow prints start-up chatter (oneDNN notices, CUDA probing, absl warnings) to
stderr. :func:`quiet_tensorflow` must run before the first ``import tensorflow``;
the command line calls it unless ``--verbose`` is given.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import logging
import os
import random
import sys
import warnings
from collections.abc import Iterator

import numpy as np


def quiet_tensorflow(verbose: bool = False) -> None:
    """Silence TensorFlow's C++ and Python logging unless ``verbose``.

    ``import musicgen`` runs it, so the Python API is as quiet as the command line;
    ``verbose`` (``--verbose``, or ``MUSICGEN_VERBOSE=1`` for the API) undoes that before
    TensorFlow starts.
    """
    if verbose:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
        sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, _SilentTensorFlowImport)]
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
    if "tensorflow" not in sys.modules and not any(
        isinstance(finder, _SilentTensorFlowImport) for finder in sys.meta_path
    ):
        sys.meta_path.insert(0, _SilentTensorFlowImport())
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="keras")
    warnings.filterwarnings("ignore", module="tensorflow")


@contextlib.contextmanager
def silenced_stderr() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null, catching C++ logs that bypass Python."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class _SilentTensorFlowImport(importlib.abc.MetaPathFinder):
    """Import TensorFlow with stderr silenced.

    TensorFlow 2.21's C++ start-up messages (absl, oneDNN, CUDA probing) are printed
    while its libraries load and ignore ``TF_CPP_MIN_LOG_LEVEL`` set from Python
    after the process started; silencing the descriptor during the import is the
    only reliable way to keep them out of the command line's output.
    """

    def find_spec(self, name, path, target=None):  # noqa: ANN001, ANN201
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module):  # noqa: ANN001, ANN202
            with silenced_stderr():
                execute(module)

        spec.loader.exec_module = exec_module
        return spec


def set_seed(seed: int) -> None:
    """Seed Python, NumPy, TensorFlow and Keras for reproducible runs."""
    import keras

    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)


def configure_cpu_devices(replicas: int) -> None:
    """Split the CPU into ``replicas`` logical devices (for MirroredStrategy tests).

    Must run before TensorFlow initialises its devices.
    """
    import tensorflow as tf

    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(replicas)]
    )
