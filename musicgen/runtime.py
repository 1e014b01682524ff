"""TensorFlow start-up: quiet logs, seeds and device set-up.

TensorFlow prints start-up chatter (oneDNN notices, CUDA probing, absl warnings) to
stderr. :func:`quiet_tensorflow` must run before the first ``import tensorflow``;
the command line calls it unless ``--verbose`` is given.
"""

from __future__ import annotations

import logging
import os
import random
import warnings

import numpy as np


def quiet_tensorflow(verbose: bool = False) -> None:
    """Silence TensorFlow's C++ and Python logging unless ``verbose``."""
    if verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="keras")
    warnings.filterwarnings("ignore", module="tensorflow")


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
