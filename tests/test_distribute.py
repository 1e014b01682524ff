"""tf.distribute: MirroredStrategy over logical CPUs and two loopback workers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from midi_factory import write_scale_pieces

from musicgen.errors import ConfigError
from musicgen.training import checkpoint, distribute

FLAGS = [
    "--units", "16", "--layers", "1", "--embedding-dim", "8", "--dropout", "0", "--seq-len", "32",
    "--batch-size", "8", "--epochs", "1", "--learning-rate", "0.01", "--quiet",
]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from musicgen.data.sources import prepare

    root = tmp_path_factory.mktemp("distribute")
    return prepare(write_scale_pieces(root / "midi"), root / "cache", workers=1, progress=False).directory


def _environment(**extra: str) -> dict[str, str]:
    environment = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3", **extra}
    environment.pop("TF_CONFIG", None)
    environment.update(extra)
    return environment


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_mirrored_over_two_cpu_replicas(cache_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "mirrored"
    command = [
        sys.executable, "-m", "musicgen", "train", str(cache_dir), "--out", str(out), *FLAGS,
        "--distribute", "mirrored", "--cpu-replicas", "2",
    ]
    result = subprocess.run(command, env=_environment(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    loaded = checkpoint.load_checkpoint(out)
    assert loaded.state["updates"] == loaded.state["updates_per_epoch"] > 0  # --epochs 1
    assert loaded.train_config.distribute == "mirrored" and loaded.train_config.cpu_replicas == 2


def test_multiworker_on_loopback_only_the_chief_writes(cache_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "multiworker"
    workers = [f"127.0.0.1:{_free_port()}", f"127.0.0.1:{_free_port()}"]
    processes = []
    try:
        for index in range(2):
            tf_config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
            command = [
                sys.executable, "-m", "musicgen", "train", str(cache_dir), "--out", str(out), *FLAGS,
                "--distribute", "multiworker",
            ]
            processes.append(subprocess.Popen(
                command, env=_environment(TF_CONFIG=tf_config, TMPDIR=str(tmp_path)),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            ))
        outputs = [process.communicate(timeout=300) for process in processes]
    finally:
        for process in processes:
            process.kill()
            process.wait(timeout=30)
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr
    loaded = checkpoint.load_checkpoint(out)
    assert loaded.state["updates"] == loaded.state["updates_per_epoch"] > 0  # --epochs 1
    # The non-chief worker wrote into a temporary directory under TMPDIR and removed it.
    assert sorted(path.name for path in tmp_path.iterdir()) == ["multiworker"]


def test_strategy_option_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="--distribute must be one of"):
        distribute.make_strategy("everywhere")
    with pytest.raises(ConfigError, match="--cpu-replicas only applies to --distribute mirrored"):
        distribute.make_strategy("none", cpu_replicas=2)
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="needs the TF_CONFIG environment variable"):
        distribute.make_strategy("multiworker")
    monkeypatch.setenv("TF_CONFIG", "{oops")
    with pytest.raises(ConfigError, match="TF_CONFIG is not valid JSON"):
        distribute.read_tf_config()


class _Resolver:
    def __init__(self, task_type: str | None, task_id: int, cluster: dict):
        self.task_type, self.task_id, self._cluster = task_type, task_id, cluster

    def cluster_spec(self):
        cluster = self._cluster

        class Spec:
            def as_dict(self) -> dict:
                return cluster

        return Spec()


class _Strategy:
    def __init__(self, resolver: _Resolver | None):
        self.cluster_resolver = resolver


@pytest.mark.parametrize(
    ("resolver", "chief"),
    [
        (None, True),
        (_Resolver("worker", 0, {"worker": ["a", "b"]}), True),
        (_Resolver("worker", 1, {"worker": ["a", "b"]}), False),
        (_Resolver("chief", 0, {"chief": ["a"], "worker": ["b"]}), True),
        (_Resolver("worker", 0, {"chief": ["a"], "worker": ["b"]}), False),
    ],
)
def test_only_the_chief_writes(resolver: _Resolver | None, chief: bool, tmp_path: Path) -> None:
    strategy = _Strategy(resolver)
    assert distribute.is_chief(strategy) is chief
    directory = distribute.output_directory(tmp_path / "out", strategy)
    assert (directory == tmp_path / "out") is chief
    if not chief:
        assert directory.is_dir() and not any(directory.iterdir())
        directory.rmdir()
