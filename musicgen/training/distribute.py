"""Training beyond one device with TensorFlow's own ``tf.distribute`` strategies.

``none`` is TensorFlow's default strategy (one device). ``mirrored`` is
``MirroredStrategy`` over all GPUs, or over ``cpu_replicas`` logical CPU devices (how
the tests exercise it without a GPU). ``multiworker`` is
``MultiWorkerMirroredStrategy`` configured by the ``TF_CONFIG`` environment variable;
the training data set is sharded per worker (by data, see :mod:`musicgen.data.windows`) and
only the chief writes the checkpoint directory. In every case the batch size given to
training is the *global* batch size, split evenly across replicas.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from musicgen.errors import ConfigError

STRATEGIES = ("none", "mirrored", "multiworker")


def make_strategy(kind: str = "none", cpu_replicas: int = 0) -> Any:
    """The ``tf.distribute.Strategy`` for ``kind``; create it before any other TensorFlow work."""
    if kind not in STRATEGIES:
        raise ConfigError(f"--distribute must be one of {', '.join(STRATEGIES)}, got {kind!r}")
    if cpu_replicas < 0:
        raise ConfigError(f"--cpu-replicas must be 0 or more, got {cpu_replicas}")
    if cpu_replicas and kind != "mirrored":
        raise ConfigError("--cpu-replicas only applies to --distribute mirrored")
    import tensorflow as tf

    if kind == "none":
        return tf.distribute.get_strategy()
    if kind == "mirrored":
        if cpu_replicas:
            return _cpu_mirrored(tf, cpu_replicas)
        if not tf.config.list_physical_devices("GPU"):
            raise ConfigError(
                "--distribute mirrored found no GPU; use --cpu-replicas N to mirror over N CPU devices"
            )
        return tf.distribute.MirroredStrategy()
    cluster = read_tf_config()
    workers = cluster.get("cluster", {}).get("worker", [])
    if not workers:
        raise ConfigError("TF_CONFIG has no 'cluster': {'worker': [...]} list for --distribute multiworker")
    return tf.distribute.MultiWorkerMirroredStrategy()


def read_tf_config() -> dict[str, Any]:
    """The parsed ``TF_CONFIG`` environment variable (``ConfigError`` when missing or invalid)."""
    text = os.environ.get("TF_CONFIG")
    if not text:
        raise ConfigError(
            "--distribute multiworker needs the TF_CONFIG environment variable, e.g. "
            "TF_CONFIG='{\"cluster\": {\"worker\": [\"host1:12345\", \"host2:12345\"]}, "
            "\"task\": {\"type\": \"worker\", \"index\": 0}}'"
        )
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"TF_CONFIG is not valid JSON: {error}") from error
    if not isinstance(value, dict) or not isinstance(value.get("task"), dict):
        raise ConfigError("TF_CONFIG must be a JSON object with 'cluster' and 'task' entries")
    return value


def is_chief(strategy: Any) -> bool:
    """Whether this process writes the checkpoint (always, unless a non-chief worker)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type == "worker" and task_id == 0 and not has_chief


def is_multi_worker(strategy: Any) -> bool:
    """Whether ``strategy`` spans several worker processes."""
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and len(
        strategy.cluster_resolver.cluster_spec().as_dict().get("worker", [])
    ) + len(strategy.cluster_resolver.cluster_spec().as_dict().get("chief", [])) > 1


def output_directory(out_dir: str | os.PathLike, strategy: Any) -> Path:
    """``out_dir`` for the chief; a fresh temporary directory for every other worker."""
    if is_chief(strategy):
        return Path(out_dir)
    return Path(tempfile.mkdtemp(prefix="musicgen-worker-"))


def replicas(strategy: Any) -> int:
    """Replicas in sync (devices times workers)."""
    return int(strategy.num_replicas_in_sync)


def describe(strategy: Any) -> str:
    """One line naming the strategy and its replicas, for the progress output."""
    name = type(strategy).__name__
    if name.startswith("_Default"):
        return "one device"
    return f"{name} with {replicas(strategy)} replicas"


def _cpu_mirrored(tf: Any, cpu_replicas: int) -> Any:
    from musicgen.runtime import configure_cpu_devices

    try:
        configure_cpu_devices(cpu_replicas)
    except RuntimeError as error:
        logical = tf.config.list_logical_devices("CPU")
        if len(logical) < cpu_replicas:
            raise ConfigError(
                f"cannot split the CPU into {cpu_replicas} devices after TensorFlow has started "
                f"(it has {len(logical)}); start a fresh process"
            ) from error
    devices = [f"/cpu:{index}" for index in range(cpu_replicas)]
    return tf.distribute.MirroredStrategy(
        devices, cross_device_ops=tf.distribute.ReductionToOneDevice(reduce_to_device="/cpu:0")
    )
