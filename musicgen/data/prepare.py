"""Prepare a folder of music: read every piece once, profile the folder, encode, cache.

:func:`prepare` scans a folder for MIDI and score files and reads them in worker
processes (a collection file gives one piece per tune; a file or tune that cannot be read
is skipped and reported, never fatal). Each piece is profiled
(:func:`musicgen.data.profile.piece_stats`); unless a tokenizer configuration is given, the
folder's profile chooses it (:func:`musicgen.data.profile.choose_config`, with any options the
user gave winning). Then every piece is encoded and split by a stable hash of its path,
and the cache is written (:mod:`musicgen.data.cache`). Running it again reuses the cache while
the files and options are unchanged (sizes and mtimes first, SHA-256 only where those
differ), and reads and encodes only the files that changed, unless the configuration the
folder calls for changed with them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import multiprocessing
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

from musicgen import fileio
from musicgen.data.cache import (
    FORMAT_VERSION,
    REPORT_NAME,
    TokenCache,
    default_cache_dir,
    load_cache,
    write_cache,
)
from musicgen.data.duplicates import duplicate_groups, fingerprint
from musicgen.data.profile import FolderProfile, PieceStats, choose_config, piece_stats
from musicgen.data.splits import DEFAULT_FRACTIONS, SPLIT_NAMES, assign_splits, check_fractions
from musicgen.errors import DataError, MidiError
from musicgen.music.midi_io import MUSIC_SUFFIXES, read_pieces
from musicgen.music.pianoroll import is_roll_file
from musicgen.tokens import Tokenizer, TokenizerConfig

_FILE_KEYS = ("path", "size", "mtime_ns", "sha256")


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
    tokenizer_config: TokenizerConfig | None = None,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    workers: int | None = None,
    progress: bool = True,
    force: bool = False,
    tokenizer_options: dict[str, Any] | None = None,
) -> TokenCache:
    """Encode ``midi_dir`` into ``cache_dir`` (or reuse the cache there) and return it; a
    piano-roll file instead of a folder keeps its own splits (:mod:`musicgen.data.rolls`).

    ``tokenizer_config`` fixes the configuration; without it the folder's profile chooses
    one, with ``tokenizer_options`` (field: value) winning over the choices. A folder
    without any usable piece raises :class:`DataError`. ``workers`` defaults to the CPU
    count; ``force`` reads and encodes every file again.
    """
    start = time.perf_counter()
    midi_dir = Path(midi_dir).expanduser()
    if is_roll_file(midi_dir):  # a piano-roll data set: its own splits (musicgen.data.rolls)
        from musicgen.data.rolls import prepare_rolls

        return prepare_rolls(midi_dir, cache_dir, tokenizer_config, tokenizer_options, progress, force)
    fractions = tuple(float(fraction) for fraction in fractions)
    check_fractions(fractions)
    options = dict(sorted((tokenizer_options or {}).items()))
    request = {"config": tokenizer_config.to_dict() if tokenizer_config else None, "options": options}
    cache_dir = default_cache_dir(midi_dir, request) if cache_dir is None else Path(cache_dir).expanduser()
    found = scan_music_files(midi_dir)
    if not found:
        raise DataError(f"no music files ({', '.join(sorted(MUSIC_SUFFIXES))}) found under {midi_dir}")
    old = None if force else _try_load(cache_dir)
    if old is not None and old.manifest.get("encoder") != _encoder_version():
        old = None
    unchanged = _unchanged_files(old, midi_dir, found) if old is not None else {}
    if (
        old is not None
        and len(unchanged) == len(found) == len(old.manifest["files"]) + sum(
            "#" not in entry["path"] for entry in old.manifest["skipped"])
        and old.manifest["source_dir"] == str(midi_dir.resolve()) and old.manifest["fractions"] == list(fractions)
        and old.manifest.get("request") == request
        and all(entry["mtime_ns"] == found[path].st_mtime_ns for path, entry in unchanged.items())
    ):
        old.status = "reused"
        return old

    changed = [path for path in found if path not in unchanged]
    records = read_files(midi_dir, changed, workers=workers, progress=progress)
    stats = [PieceStats.from_dict(piece["stats"]) for path in unchanged for piece in _old_pieces(old, path)]
    stats += [PieceStats.from_dict(piece["stats"]) for record in records.values() for piece in record.get("pieces", [])
              if "piece" in piece]
    profile = FolderProfile.of(stats)
    if tokenizer_config is not None:
        config, choices, source = tokenizer_config, [], "given"
    else:
        config, choices = choose_config(profile, options, old.tokenizer_config if old is not None else None)
        source = "auto"
    reuse = old is not None and old.tokenizer_config == config
    if not reuse and unchanged:  # another configuration: every file is encoded again
        records.update(read_files(midi_dir, list(unchanged), workers=workers, progress=progress))
        unchanged = {}
    for path, entry in unchanged.items():
        records[path] = {**entry, "mtime_ns": found[path].st_mtime_ns, "reused": True}
    manifest, tokens, offsets = _encode(midi_dir, records, old, config, fractions, progress)
    manifest.update(profile=profile.__dict__, choices=choices, config_source=source, request=request)
    cache = write_cache(cache_dir, manifest, tokens, offsets)
    cache.status = "updated" if old is not None and (unchanged or reuse) else "rebuilt"
    cache.encoded_files = len(records) - len(unchanged)
    fileio.atomic_write_json(cache_dir / REPORT_NAME, _report(cache, found, cache.encoded_files,
                                                              time.perf_counter() - start))
    return cache


def _encode(midi_dir: Path, records: dict[str, dict], old: TokenCache | None, config: TokenizerConfig,
            fractions: tuple, progress: bool) -> tuple[dict, np.ndarray, np.ndarray]:
    """Tokens of every piece (reused or encoded now), the manifest's files, pieces and skips."""
    tokenizer = Tokenizer(config)
    files, pieces, arrays, skipped = [], [], [], []
    for path in sorted(records):
        record = records[path]
        if "reason" in record:
            skipped.append({key: record[key] for key in (*_FILE_KEYS, "reason")})
            continue
        files.append({key: record[key] for key in _FILE_KEYS})
        if record.get("reused"):
            for entry in _old_pieces(old, path):
                index = old.pieces.index(entry)
                array = old.tokens[old.offsets[index]:old.offsets[index + 1]]
                pieces.append({key: entry[key] for key in ("path", "file", "key", "notes", "stats")})
                pieces[-1].update(_content(entry, array, tokenizer))
                arrays.append(array)
            skipped.extend(record.get("skipped_pieces", []))
            continue
        for piece in record["pieces"]:
            name = f"{path}#{piece['key']}" if piece["key"] else path
            if "reason" in piece:
                skipped.append({"path": name, "reason": piece["reason"]})
                continue
            ids = tokenizer.encode_piece(piece["piece"])
            notes = tokenizer.note_count(ids)
            if notes == 0:
                reason = ("no notes" if not piece["stats"]["notes"] else
                          f"every note is outside the pitch range {config.min_pitch}..{config.max_pitch}"
                          + ("" if config.use_drums else " or on the drums, which this configuration drops"))
                skipped.append({"path": name, "reason": reason})
                continue
            pieces.append({"path": name, "file": path, "key": piece["key"], "notes": notes, "stats": piece["stats"],
                           **_content({}, ids, tokenizer)})
            arrays.append(ids)
    if not pieces:
        reasons = "; ".join(f"{entry['path']}: {entry['reason']}" for entry in skipped[:5])
        more = f" (and {len(skipped) - 5} more)" if len(skipped) > 5 else ""
        raise DataError(f"no usable music under {midi_dir}: all {len(skipped)} files or pieces failed: {reasons}{more}")
    keys = [piece["path"] for piece in pieces]
    splits = assign_splits(keys, fractions, duplicate_groups(keys, [(p["content"], p["parts"]) for p in pieces]))
    for piece, array in zip(pieces, arrays, strict=True):
        piece.update(split=splits[piece["path"]], tokens=len(array))
    dtype = np.int16 if tokenizer.vocab_size <= np.iinfo(np.int16).max else np.int32
    tokens = np.concatenate(arrays).astype(dtype)
    offsets = np.zeros(len(arrays) + 1, np.int64)
    np.cumsum([len(array) for array in arrays], out=offsets[1:])
    identity = hashlib.sha256()
    for part in (FORMAT_VERSION, sorted(config.to_dict().items()), fractions,
                 [(f["path"], f["sha256"]) for f in files], [piece["path"] for piece in pieces]):
        identity.update(repr(part).encode())
    build_id = identity.hexdigest()[:16]
    for file in files:
        file["skipped_pieces"] = [entry for entry in skipped if entry["path"].startswith(file["path"] + "#")]
    manifest = {
        "format_version": FORMAT_VERSION, "build_id": build_id, "source_dir": str(midi_dir.resolve()),
        "tokenizer": config.to_dict(), "encoder": _encoder_version(), "vocab_size": tokenizer.vocab_size,
        "fractions": list(fractions), "token_dtype": np.dtype(dtype).name,
        "tokens_file": f"tokens-{build_id}.npy", "offsets_file": f"offsets-{build_id}.npy",
        "total_tokens": int(offsets[-1]), "files": files, "pieces": pieces,
        "skipped": skipped,
    }
    return manifest, tokens, offsets


def _content(entry: dict, ids: np.ndarray, tokenizer: Tokenizer) -> dict:
    """A piece's ``content`` and ``parts`` fingerprints (kept from an old entry that has them)."""
    if "content" in entry and "parts" in entry:
        return {"content": entry["content"], "parts": entry["parts"]}
    content, parts = fingerprint(ids, tokenizer)
    return {"content": content, "parts": parts}


def _old_pieces(old: TokenCache | None, path: str) -> list[dict]:
    return [entry for entry in old.pieces if entry["file"] == path] if old is not None else []


def _encoder_version() -> str:
    """Caches from another musicgen version are re-encoded: the tokenizer's code may differ."""
    from musicgen import __version__

    return f"musicgen {__version__}"


def _try_load(cache_dir: Path) -> TokenCache | None:
    try:
        return load_cache(cache_dir)
    except DataError:
        return None


def _unchanged_files(old: TokenCache, midi_dir: Path, found: dict[str, os.stat_result]) -> dict[str, dict]:
    """Old manifest entries (read or skipped) whose file has not changed since."""
    entries = {entry["path"]: dict(entry) for entry in old.manifest["files"]}
    entries.update({entry["path"]: dict(entry) for entry in old.manifest["skipped"] if "#" not in entry["path"]})
    # Equal size and mtime are trusted only for the folder the cache was built from.
    same_folder = old.manifest["source_dir"] == str(midi_dir.resolve())
    unchanged = {}
    for path, stat in found.items():
        entry = entries.get(path)
        if entry is None or entry["size"] != stat.st_size:
            continue
        if (same_folder and entry["mtime_ns"] == stat.st_mtime_ns) or fileio.sha256_file(midi_dir / path) == entry["sha256"]:
            unchanged[path] = entry
    return unchanged


def _report(cache: TokenCache, found: dict, read_now: int, seconds: float) -> dict:
    manifest = cache.manifest
    return {
        "build_id": manifest["build_id"],
        "source_dir": manifest["source_dir"],
        "files_found": len(found),
        "files_encoded": len(manifest["files"]),
        "files_skipped": sum("#" not in entry["path"] for entry in manifest["skipped"]),
        "pieces": len(manifest["pieces"]),
        "files_parsed_this_run": read_now,
        "tokens": int(len(cache.tokens)),
        "notes": int(sum(entry["notes"] for entry in manifest["pieces"])),
        "splits": {split: len(cache.files(split)) for split in SPLIT_NAMES},
        "skipped": [{"path": e["path"], "reason": e["reason"]} for e in manifest["skipped"]],
        "tokenizer": manifest["tokenizer"],
        "choices": manifest.get("choices", []),
        "seconds": round(seconds, 3),
    }


def read_files(midi_dir: Path, paths: Sequence[str], workers: int | None = None,
               progress: bool = True) -> dict[str, dict]:
    """Read ``paths`` (relative to ``midi_dir``) in worker processes: one record per file.

    A record holds the file's size, mtime and SHA-256, and either ``pieces`` (each with its
    ``key`` and either ``piece`` and ``stats`` or ``reason``) or, for a file that could not
    be read at all, ``reason``.
    """
    from tqdm import tqdm

    records: dict[str, dict] = {}
    if not paths:
        return records
    workers = max(1, min(workers or available_cpus(), len(paths)))
    bar = tqdm(total=len(paths), desc="reading", unit="file", file=sys.stderr, disable=not progress)
    with bar:
        if workers == 1:
            for path in paths:
                records[path] = _read_file(str(midi_dir), path)
                bar.update()
            return records
        # Forking a process that runs TensorFlow's thread pools can deadlock: start clean then.
        method = "forkserver" if "tensorflow" in sys.modules else "fork"
        if method == "fork":
            import pretty_midi  # noqa: F401 - imported once here, inherited by every worker
        context = multiprocessing.get_context(method)
        pool = ProcessPoolExecutor(workers, mp_context=context)
        try:
            futures = {pool.submit(_read_file, str(midi_dir), path): path for path in paths}
            for future in as_completed(futures):
                records[futures[future]] = future.result()
                bar.update()
        finally:  # on Ctrl-C, do not wait for the files still queued
            pool.shutdown(wait=True, cancel_futures=True)
    return records


def available_cpus() -> int:
    """CPUs this process may run on (respects ``taskset`` and container limits)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _read_file(midi_dir: str, path: str) -> dict:
    """Read and profile one file; what cannot be read becomes a ``reason``."""
    full_path = Path(midi_dir) / path
    stat = full_path.stat()
    record: dict[str, Any] = {"path": path, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                              "sha256": fileio.sha256_file(full_path)}
    try:
        entries = read_pieces(full_path)
    except MidiError as error:
        record["reason"] = str(error).removeprefix(f"{full_path}: ")
        return record
    except Exception as error:  # noqa: BLE001 - one odd file must not stop a whole data set
        record["reason"] = f"unexpected {type(error).__name__}: {error}"
        return record
    pieces = []
    style = Path(path).parts[0] if len(Path(path).parts) > 1 else ""
    for entry in entries:
        if entry.piece is None:
            pieces.append({"key": entry.key, "reason": entry.error})
        else:
            piece = dataclasses.replace(entry.piece, style=style)
            pieces.append({"key": entry.key, "piece": piece, "stats": piece_stats(piece).to_dict()})
    record["pieces"] = pieces
    return record
