"""Atomic file writes and content hashes.

Everything musicgen writes (caches, checkpoints, reports) goes through these helpers:
the data are written to a temporary file in the destination directory and then
renamed over the target, so a crash or ``kill -9`` at any moment leaves either the
old file or the new one, never a torn one.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from musicgen.errors import DiskFullError


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp creates files readable by their owner only; give them the usual mode.
_FILE_MODE = 0o666 & ~_current_umask()


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success rename it onto ``target``.

    ``suffix`` defaults to the target's own suffix, so libraries that check file
    extensions (``model.save`` wants ``.keras``) accept the temporary name.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    suffix = target.suffix if suffix is None else suffix
    handle, name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".tmp{suffix}", dir=target.parent)
    os.close(handle)
    temporary = Path(name)
    os.chmod(temporary, _FILE_MODE)
    try:
        yield temporary
        _fsync_path(temporary)
        os.replace(temporary, target)
        _fsync_path(target.parent)
    except Exception as error:
        if is_disk_full(error):
            raise disk_full_error(target, temporary) from error
        raise
    finally:
        if temporary.exists():
            temporary.unlink()


def atomic_write_bytes(target: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as temporary:
        temporary.write_bytes(data)


def atomic_write_text(target: str | os.PathLike, text: str) -> None:
    """Write UTF-8 ``text`` to ``target`` atomically."""
    atomic_write_bytes(target, text.encode("utf-8"))


def atomic_write_json(target: str | os.PathLike, value: Any) -> None:
    """Write ``value`` as indented, key-sorted JSON to ``target`` atomically."""
    atomic_write_text(target, json.dumps(value, indent=2, sort_keys=True) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file."""
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def is_disk_full(error: BaseException) -> bool:
    """Whether ``error``, or an error it was raised from, is "no space left on device" (or a quota)."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "No space left on device" in str(error):
            return True
        error = error.__cause__ or error.__context__
    return False


def disk_full_error(target: Path, partial: Path | None = None) -> DiskFullError:
    """The one-line report of a write to ``target`` that filled the disk."""
    written = partial.stat().st_size if partial is not None and partial.exists() else 0
    previous = target.stat().st_size if target.exists() else 0
    free = shutil.disk_usage(target.parent).free if target.parent.exists() else 0
    needed = max(written, previous)
    kept = f"the previous {target.name} is intact" if target.exists() else "no file was replaced"
    return DiskFullError(
        f"no space left on the device for {target}: it needs at least {_megabytes(needed)}"
        f"{' (the previous one was that size)' if previous >= written and previous else ''}, "
        f"{_megabytes(free)} are free; {kept}"
    )


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.0f} kB"


def _fsync_path(path: Path) -> None:
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
