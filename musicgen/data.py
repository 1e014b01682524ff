"""Token caches: encode a folder of music once, then reuse the arrays.

:func:`prepare` scans a folder for MIDI and score files, encodes them in worker
processes and writes a cache directory::

    manifest.json            format version, tokenizer config, split fractions, build id,
                             one entry per file (path, size, mtime, SHA-256, split, tokens)
    report.json              what the last build did: files encoded, skipped with reasons
    tokens-<build>.npy       every encoded file's tokens, concatenated (int16 or int32)
    offsets-<build>.npy      int64, file ``i`` is ``tokens[offsets[i]:offsets[i + 1]]``

The arrays are written first under names that carry the build id and the manifest is
written last (atomically), so an interrupted build leaves the previous cache valid.
A later :func:`prepare` reuses the cache while the files and the config are unchanged
(sizes and mtimes first, SHA-256 only where those differ) and re-encodes only the
files that changed. Training windows come from :func:`window_dataset` (in
:mod:`musicgen.windows`, re-exported here), augmented with a
:class:`musicgen.augment.Augmentation`.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from musicgen import fileio
from musicgen.errors import ConfigError, DataError, MidiError
from musicgen.midi_io import MUSIC_SUFFIXES
from musicgen.splits import (
    DEFAULT_FRACTIONS,
    SPLIT_CHOICES,
    SPLIT_NAMES,
    check_fractions,
    split_of,
    stable_fraction,
)
from musicgen.tokenizer import Tokenizer, TokenizerConfig
from musicgen.windows import steps_per_epoch, window_count, window_dataset

__all__ = [
    "FORMAT_VERSION", "MUSIC_SUFFIXES", "TokenCache", "assign_splits", "default_cache_dir", "load_cache",
    "open_data", "prepare", "scan_music_files", "steps_per_epoch", "window_count", "window_dataset",
]

FORMAT_VERSION = 2
MANIFEST_NAME = "manifest.json"
REPORT_NAME = "report.json"


@dataclass
class TokenCache:
    """A prepared data set: the token streams of every encoded file and their split."""

    directory: Path
    manifest: dict[str, Any]
    tokens: np.ndarray
    offsets: np.ndarray
    status: str = "loaded"
    encoded_files: int = 0

    @property
    def tokenizer_config(self) -> TokenizerConfig:
        """The configuration the cache was encoded with (the manifest's one record of it)."""
        return TokenizerConfig.from_dict(self.manifest["tokenizer"])

    @property
    def tokenizer(self) -> Tokenizer:
        """The :class:`musicgen.tokenizer.Tokenizer` the cache was encoded with."""
        return Tokenizer(self.tokenizer_config)

    @property
    def build_id(self) -> str:
        """Changes whenever the cached tokens change (files, config or split)."""
        return self.manifest["build_id"]

    def _indices(self, split: str) -> list[int]:
        if split not in SPLIT_CHOICES:
            raise ConfigError(f"split must be one of {', '.join(SPLIT_CHOICES)}, got {split!r}")
        return [
            index for index, entry in enumerate(self.manifest["files"])
            if split == "all" or entry["split"] == split
        ]

    def streams(self, split: str = "all") -> list[np.ndarray]:
        """One int32 token array per file of ``split`` (views into the cache)."""
        return [self.tokens[self.offsets[i]:self.offsets[i + 1]] for i in self._indices(split)]

    def files(self, split: str = "all") -> list[str]:
        """Relative paths of the encoded files of ``split``, in cache order."""
        return [self.manifest["files"][i]["path"] for i in self._indices(split)]

    def split_of(self, relative_path: str) -> str:
        """The split an encoded file was assigned to."""
        for entry in self.manifest["files"]:
            if entry["path"] == relative_path:
                return entry["split"]
        raise DataError(f"{relative_path!r} is not an encoded file of the cache in {self.directory}")

    def summary(self) -> str:
        """A few lines for people: files, tokens, notes, split sizes and skipped files."""
        manifest = self.manifest
        lines = [
            f"cache {self.directory} (build {self.build_id}) from {manifest['source_dir']}",
            f"  files encoded: {len(manifest['files'])}, skipped: {len(manifest['skipped'])}",
            f"  tokens: {len(self.tokens):,}  notes: {sum(e['notes'] for e in manifest['files']):,}",
        ]
        parts = []
        for split in SPLIT_NAMES:
            indices = self._indices(split)
            tokens = sum(int(self.offsets[i + 1] - self.offsets[i]) for i in indices)
            parts.append(f"{split} {len(indices)} files / {tokens:,} tokens")
        lines.append("  split: " + ", ".join(parts))
        if manifest["skipped"]:
            lines.append("  skipped files:")
            lines.extend(f"    {e['path']}: {e['reason']}" for e in manifest["skipped"])
        return "\n".join(lines)


def default_cache_dir(midi_dir: str | os.PathLike) -> Path:
    """Where :func:`open_data` caches a folder: ``$XDG_CACHE_HOME/musicgen/prepared/<hash>``.

    ``MUSICGEN_CACHE_DIR`` replaces ``$XDG_CACHE_HOME/musicgen`` (default ``~/.cache/musicgen``).
    The hash is of the folder's absolute path, so each folder gets its own cache.
    """
    root = os.environ.get("MUSICGEN_CACHE_DIR")
    if root is None:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "musicgen"
    absolute = Path(midi_dir).expanduser().resolve()
    digest = hashlib.sha1(str(absolute).encode()).hexdigest()[:16]
    return Path(root) / "prepared" / f"{absolute.name}-{digest}"


def scan_music_files(midi_dir: str | os.PathLike) -> dict[str, os.stat_result]:
    """Every music file under ``midi_dir`` (recursively), by POSIX relative path, sorted.

    Hidden files and folders (names starting with ``.``: editors' and atomic writers'
    temporary files, ``.git``) are not music and are left out.
    """
    root = Path(midi_dir)
    if not root.is_dir():
        raise DataError(f"{root} is not a directory")
    found = {}
    for directory, subdirectories, names in os.walk(root):
        subdirectories[:] = sorted(name for name in subdirectories if not name.startswith("."))
        for name in sorted(names):
            if Path(name).suffix.lower() in MUSIC_SUFFIXES and not name.startswith("."):
                path = Path(directory) / name
                found[path.relative_to(root).as_posix()] = path.stat()
    return dict(sorted(found.items()))


def prepare(
    midi_dir: str | os.PathLike,
    cache_dir: str | os.PathLike | None = None,
    tokenizer_config: Any = None,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    workers: int | None = None,
    progress: bool = True,
    force: bool = False,
) -> TokenCache:
    """Encode ``midi_dir`` into ``cache_dir`` (or reuse the cache there) and return it.

    ``tokenizer_config`` is a ``TokenizerConfig`` or ``None`` for the defaults. Files that
    fail to parse are skipped and listed in the manifest and ``report.json``; a folder
    without any usable file raises :class:`DataError`.
    ``workers`` defaults to the CPU count; ``force`` re-encodes every file.
    """
    start = time.perf_counter()
    midi_dir = Path(midi_dir).expanduser()
    cache_dir = default_cache_dir(midi_dir) if cache_dir is None else Path(cache_dir).expanduser()
    fractions = tuple(float(fraction) for fraction in fractions)
    check_fractions(fractions)
    config = tokenizer_config or TokenizerConfig()
    found = scan_music_files(midi_dir)
    if not found:
        raise DataError(f"no music files ({', '.join(sorted(MUSIC_SUFFIXES))}) found under {midi_dir}")
    old = None if force else _try_load(cache_dir)
    reusable = {}
    if old is not None and old.tokenizer_config == config and old.manifest.get("encoder") == _encoder_version():
        reusable = _unchanged_entries(old, midi_dir, found)
    if (
        old is not None
        and old.manifest["source_dir"] == str(midi_dir.resolve())
        and len(reusable) == len(found) == len(old.manifest["files"]) + len(old.manifest["skipped"])
        and old.manifest["fractions"] == list(fractions)
        and all(entry["mtime_ns"] == found[path].st_mtime_ns for path, entry in reusable.items())
    ):
        old.status = "reused"
        return old

    to_encode = [path for path in found if path not in reusable]
    results = encode_files(midi_dir, to_encode, config, workers=workers, progress=progress)
    for path, entry in reusable.items():
        entry = dict(entry, mtime_ns=found[path].st_mtime_ns)
        if "reason" not in entry:
            entry["tokens_array"] = old.tokens[entry["start"]:entry["start"] + entry["tokens"]]
        results[path] = entry
    encoded = {path: result for path, result in sorted(results.items()) if "reason" not in result}
    skipped = [result for path, result in sorted(results.items()) if "reason" in result]
    if not encoded:
        reasons = "; ".join(f"{e['path']}: {e['reason']}" for e in skipped[:5])
        more = f" (and {len(skipped) - 5} more)" if len(skipped) > 5 else ""
        raise DataError(f"no usable music file under {midi_dir}: all {len(skipped)} failed: {reasons}{more}")

    splits = assign_splits(list(encoded), fractions)
    manifest, tokens, offsets = _build_manifest(midi_dir, config, fractions, encoded, skipped, splits)
    cache = _write_cache(cache_dir, manifest, tokens, offsets)
    cache.status = "rebuilt" if not reusable else "updated"
    cache.encoded_files = len(to_encode)
    report = _report(cache, found, len(to_encode), len(reusable), time.perf_counter() - start)
    fileio.atomic_write_json(cache_dir / REPORT_NAME, report)
    return cache


def load_cache(cache_dir: str | os.PathLike) -> TokenCache:
    """Load a cache written by :func:`prepare`; a missing or damaged one is a :class:`DataError`."""
    cache_dir = Path(cache_dir).expanduser()
    manifest_path = cache_dir / MANIFEST_NAME
    if not manifest_path.is_file():
        raise DataError(f"{cache_dir} is not a prepared cache ({MANIFEST_NAME} missing); run 'musicgen prepare' first")
    try:
        manifest = fileio.read_json(manifest_path)
    except (OSError, ValueError) as error:
        raise DataError(f"{manifest_path} is unreadable: {error}") from error
    version = manifest.get("format_version") if isinstance(manifest, dict) else None
    if version != FORMAT_VERSION:
        raise DataError(f"{cache_dir} has cache format {version!r}, expected {FORMAT_VERSION}; prepare it again")
    try:
        tokens = np.load(cache_dir / manifest["tokens_file"], allow_pickle=False)
        offsets = np.load(cache_dir / manifest["offsets_file"], allow_pickle=False)
    except (OSError, ValueError, KeyError) as error:
        raise DataError(f"{cache_dir} is damaged ({error}); prepare it again with --force") from error
    files = manifest.get("files", [])
    if offsets.shape != (len(files) + 1,) or offsets[0] != 0 or offsets[-1] != len(tokens) or tokens.ndim != 1:
        raise DataError(f"{cache_dir} is damaged: token arrays do not match {MANIFEST_NAME}; prepare it again with --force")
    return TokenCache(cache_dir, manifest, tokens.astype(np.int32), offsets.astype(np.int64))


def open_data(path: str | os.PathLike, tokenizer_config: TokenizerConfig | None = None) -> TokenCache:
    """A prepared cache directory (loaded) or a music folder (prepared via its default cache)."""
    path = Path(path).expanduser()
    if (path / MANIFEST_NAME).is_file():
        cache = load_cache(path)
        if tokenizer_config is not None and tokenizer_config != cache.tokenizer_config:
            raise ConfigError(
                f"the cache in {path} was encoded with another tokenizer config; "
                f"prepare the music folder {cache.manifest['source_dir']} again instead"
            )
        return cache
    if not path.exists():
        raise DataError(f"{path} does not exist (expected a music folder or a prepared cache)")
    return prepare(path, tokenizer_config=tokenizer_config)


def assign_splits(paths: Sequence[str], fractions: Sequence[float] = DEFAULT_FRACTIONS) -> dict[str, str]:
    """The split of each relative path: a stable hash, plus a minimum-size rule.

    Each path goes where :func:`musicgen.splits.split_of` puts it. Then, if there are at
    least as many files as splits with a non-zero fraction, every such split that came
    out empty (checked in the order train, validation, test) takes one file from the
    currently largest split (ties: train, validation, test): the file whose hash
    position lies nearest to the empty split. The rule depends only on the paths.
    """
    splits = {path: split_of(path, fractions) for path in paths}
    wanted = [name for name, fraction in zip(SPLIT_NAMES, fractions, strict=True) if fraction > 0]
    if len(paths) < len(wanted):
        return splits
    for target in wanted:
        members = {name: [p for p in paths if splits[p] == name] for name in SPLIT_NAMES}
        if members[target]:
            continue
        donor = max(SPLIT_NAMES, key=lambda name: (len(members[name]), -SPLIT_NAMES.index(name)))
        later = SPLIT_NAMES.index(target) > SPLIT_NAMES.index(donor)
        choose = max if later else min
        moved = choose(sorted(members[donor]), key=stable_fraction)
        splits[moved] = target
    return splits


def _encoder_version() -> str:
    """Caches from another musicgen version are re-encoded: the tokenizer's code may differ."""
    from musicgen import __version__

    return f"musicgen {__version__}"


def _try_load(cache_dir: Path) -> TokenCache | None:
    try:
        return load_cache(cache_dir)
    except DataError:
        return None


def _unchanged_entries(old: TokenCache, midi_dir: Path, found: dict[str, os.stat_result]) -> dict[str, dict]:
    """Old manifest entries (encoded or skipped) whose file has not changed since."""
    entries = {}
    for index, entry in enumerate(old.manifest["files"]):
        entries[entry["path"]] = dict(entry, start=int(old.offsets[index]))
    for entry in old.manifest["skipped"]:
        entries[entry["path"]] = dict(entry)
    # Equal size and mtime are trusted only for the folder the cache was built from.
    same_folder = old.manifest["source_dir"] == str(midi_dir.resolve())
    unchanged = {}
    for path, stat in found.items():
        entry = entries.get(path)
        if entry is None or entry["size"] != stat.st_size:
            continue
        if (same_folder and entry["mtime_ns"] == stat.st_mtime_ns) or fileio.sha256_file(
            midi_dir / path
        ) == entry["sha256"]:
            unchanged[path] = entry
    return unchanged


def _build_manifest(
    midi_dir: Path, config: TokenizerConfig, fractions: tuple, encoded: dict, skipped: list, splits: dict
) -> tuple[dict, np.ndarray, np.ndarray]:
    vocab_size = Tokenizer(config).vocab_size
    dtype = np.int16 if vocab_size <= np.iinfo(np.int16).max else np.int32
    arrays = [np.asarray(result["tokens_array"]) for result in encoded.values()]
    tokens = np.concatenate(arrays).astype(dtype) if arrays else np.zeros(0, dtype)
    offsets = np.zeros(len(arrays) + 1, np.int64)
    np.cumsum([len(array) for array in arrays], out=offsets[1:])
    files = [
        {key: result[key] for key in ("path", "size", "mtime_ns", "sha256", "notes")}
        | {"split": splits[path], "tokens": len(result["tokens_array"])}
        for path, result in encoded.items()
    ]
    skipped = [{key: result[key] for key in ("path", "size", "mtime_ns", "sha256", "reason")} for result in skipped]
    identity = hashlib.sha256()
    for part in (FORMAT_VERSION, sorted(config.to_dict().items()), fractions, [(f["path"], f["sha256"]) for f in files]):
        identity.update(repr(part).encode())
    build_id = identity.hexdigest()[:16]
    manifest = {
        "format_version": FORMAT_VERSION,
        "build_id": build_id,
        "source_dir": str(midi_dir.resolve()),
        "tokenizer": config.to_dict(),
        "encoder": _encoder_version(),
        "vocab_size": vocab_size,
        "fractions": list(fractions),
        "token_dtype": np.dtype(dtype).name,
        "tokens_file": f"tokens-{build_id}.npy",
        "offsets_file": f"offsets-{build_id}.npy",
        "total_tokens": int(offsets[-1]),
        "files": files,
        "skipped": skipped,
    }
    return manifest, tokens, offsets


def _write_cache(cache_dir: Path, manifest: dict, tokens: np.ndarray, offsets: np.ndarray) -> TokenCache:
    """Arrays first (under build-id names), manifest last, then remove stale arrays."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    for name, array in ((manifest["tokens_file"], tokens), (manifest["offsets_file"], offsets)):
        with fileio.atomic_path(cache_dir / name) as temporary:
            np.save(temporary, array, allow_pickle=False)
    fileio.atomic_write_json(cache_dir / MANIFEST_NAME, manifest)
    keep = {manifest["tokens_file"], manifest["offsets_file"]}
    for stale in [*cache_dir.glob("tokens-*.npy"), *cache_dir.glob("offsets-*.npy")]:
        if stale.name not in keep:
            stale.unlink(missing_ok=True)
    return TokenCache(cache_dir, manifest, tokens.astype(np.int32), offsets)


def _report(cache: TokenCache, found: dict, encoded_now: int, reused: int, seconds: float) -> dict:
    manifest = cache.manifest
    return {
        "build_id": manifest["build_id"],
        "source_dir": manifest["source_dir"],
        "files_found": len(found),
        "files_encoded": len(manifest["files"]),
        "files_skipped": len(manifest["skipped"]),
        "files_parsed_this_run": encoded_now,
        "files_reused": reused,
        "tokens": int(len(cache.tokens)),
        "notes": int(sum(entry["notes"] for entry in manifest["files"])),
        "splits": {split: len(cache.files(split)) for split in SPLIT_NAMES},
        "skipped": [{"path": e["path"], "reason": e["reason"]} for e in manifest["skipped"]],
        "seconds": round(seconds, 3),
    }


def encode_files(
    midi_dir: Path, paths: Sequence[str], config: TokenizerConfig, workers: int | None = None, progress: bool = True
) -> dict[str, dict]:
    """Encode ``paths`` (relative to ``midi_dir``) in worker processes; one result dict per path.

    A result holds the file's size, mtime and SHA-256, and either ``tokens_array`` and
    ``notes`` or, for a file that could not be encoded, ``reason``.
    """
    from tqdm import tqdm

    results: dict[str, dict] = {}
    if not paths:
        return results
    workers = max(1, min(workers or available_cpus(), len(paths)))
    bar = tqdm(total=len(paths), desc="encoding", unit="file", file=sys.stderr, disable=not progress)
    with bar:
        if workers == 1:
            _init_worker(config)
            for path in paths:
                results[path] = _encode_file(str(midi_dir), path)
                bar.update()
            return results
        # Forking a process that runs TensorFlow's thread pools can deadlock: start clean then.
        method = "forkserver" if "tensorflow" in sys.modules else "fork"
        if method == "fork":
            import pretty_midi  # noqa: F401 - imported once here, inherited by every worker
        context = multiprocessing.get_context(method)
        pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(config,))
        try:
            futures = {pool.submit(_encode_file, str(midi_dir), path): path for path in paths}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                bar.update()
        finally:  # on Ctrl-C, do not wait for the files still queued
            pool.shutdown(wait=True, cancel_futures=True)
    return results


def available_cpus() -> int:
    """CPUs this process may run on (respects ``taskset`` and container limits)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


_worker_tokenizer: Any = None


def _init_worker(config: TokenizerConfig) -> None:
    global _worker_tokenizer
    _worker_tokenizer = Tokenizer(config)


def _encode_file(midi_dir: str, path: str) -> dict:
    """Encode one file; a file that cannot be read becomes a result with a ``reason``."""
    from musicgen.tokenizer import Kind

    full_path = Path(midi_dir) / path
    stat = full_path.stat()
    result = {"path": path, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": fileio.sha256_file(full_path)}
    try:
        # encode(path) reads standard MIDI files straight from their bytes (several times
        # faster than pretty_midi, and checked to give the same ids); scores go through music21.
        tokens = np.asarray(_worker_tokenizer.encode(full_path), np.int32)
    except MidiError as error:
        result["reason"] = str(error).removeprefix(f"{full_path}: ")
        return result
    except Exception as error:  # noqa: BLE001 - one odd file must not stop a whole data set
        result["reason"] = f"unexpected {type(error).__name__}: {error}"
        return result
    notes = int(np.count_nonzero(np.asarray(_worker_tokenizer.kinds)[tokens] == Kind.NOTE_ON))
    if notes == 0:
        result["reason"] = "no notes to encode (empty, or every note outside the tokenizer's pitch range)"
        return result
    result.update(tokens_array=tokens, notes=notes)
    return result
