"""A checkpoint directory belongs to one run at a time.

:class:`DirectoryLock` holds an exclusive ``flock`` on ``DIR/.lock`` for the length of a
run, with the holder's process id and command written inside. The operating system
drops the lock when its process ends, however it ends, so a lock left behind by a killed
run never blocks the next one; a second live run is refused with the holder's name.
"""

from __future__ import annotations

import datetime
import os
import sys
from pathlib import Path
from types import TracebackType

from musicgen.errors import CheckpointError

LOCK_FILE = ".lock"


class DirectoryLock:
    """An exclusive, process-lifetime lock on a directory (created if missing)."""

    def __init__(self, directory: str | os.PathLike, purpose: str = "training"):
        self.directory = Path(directory)
        self.path = self.directory / LOCK_FILE
        self.purpose = purpose
        self._descriptor: int | None = None

    def acquire(self) -> DirectoryLock:
        """Take the lock, or raise ``CheckpointError`` naming the process that holds it."""
        import fcntl

        self.directory.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(descriptor, 4096).decode("utf-8", "replace").strip() or "another process"
            os.close(descriptor)
            raise CheckpointError(
                f"{self.directory} is in use by another musicgen run ({holder}); wait for it to finish, "
                "stop it, or choose another --out"
            ) from None
        started = datetime.datetime.now().isoformat(timespec="seconds")
        command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "python"
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"process {os.getpid()}, {self.purpose} since {started}: {command}\n".encode())
        self._descriptor = descriptor
        return self

    def release(self) -> None:
        """Give the lock up (the file stays: removing it would race a waiting run)."""
        if self._descriptor is not None:
            import fcntl

            os.ftruncate(self._descriptor, 0)
            fcntl.flock(self._descriptor, fcntl.LOCK_UN)
            os.close(self._descriptor)
            self._descriptor = None

    def __enter__(self) -> DirectoryLock:
        return self.acquire()

    def __exit__(self, kind: type | None, value: BaseException | None, traceback: TracebackType | None) -> None:
        self.release()
