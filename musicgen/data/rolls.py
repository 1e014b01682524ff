"""A piano-roll file as a data set: its own splits, the frames encoding, one token cache.

``musicgen prepare FILE`` (and ``train``/``evaluate`` on one) reaches here through
:func:`musicgen.data.prepare.prepare` when FILE is a piano-roll file
(:func:`musicgen.music.pianoroll.is_roll_file`). Unlike a folder, the file says which piece
is in which split (its ``train``, ``valid`` and ``test`` keys), so no piece moves: not by
hashing, not to keep twins together. Every piece is kept whole, a silent one too, so that
a benchmark's figure counts every frame. Unless a configuration is given, the file calls for
the ``frames`` encoding at its own frame length (:func:`choose_roll_config`); then each
piece's frames are encoded exactly as the file has them (silent frames at the end
included). Another encoding reads the same pieces as music (:func:`musicgen.music.pianoroll.roll_piece`).
The cache has the layout of a folder's (:mod:`musicgen.data.cache`) and is reused while the
file and the options are unchanged.
"""

from __future__ import annotations

import hashlib
import time
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
from musicgen.data.duplicates import fingerprint
from musicgen.data.profile import FolderProfile, piece_stats
from musicgen.data.splits import SPLIT_NAMES
from musicgen.errors import DataError
from musicgen.music.pianoroll import RollFile, read_rolls, roll_piece
from musicgen.tokens import Tokenizer, TokenizerConfig

SPLIT_SOURCE = "file"  # the manifest's ``split_source`` for a cache whose splits the file gave


def choose_roll_config(rolls: RollFile, given: dict[str, Any] | None = None) -> tuple[TokenizerConfig, list[str]]:
    """The configuration a piano-roll file calls for, and why; ``given`` options win."""
    given = dict(given or {})
    chosen = {"encoding": "frames", "steps_per_quarter": rolls.frames_per_quarter, "timing": "beats",
              "velocity_bins": 1, "pedal": "ignore", "use_programs": False, "use_drums": False}
    why = {
        "encoding": "a piano roll: each frame's keys in ascending order, then its end, one token sequence per "
                    "sequence of frames",
        "steps_per_quarter": rolls.frame_reason,
        "timing": "frames on the beat grid",
        "velocity_bins": "a piano roll has no dynamics",
        "pedal": "a piano roll has no pedal",
        "use_programs": "a piano roll has one instrument",
        "use_drums": "a piano roll has no drums",
    }
    reasons = [f"{name} {given[name]} (as given)" if name in given else f"{name} {value} ({why[name]})"
               for name, value in chosen.items()]
    return TokenizerConfig(**{**chosen, **given}), reasons


def prepare_rolls(path: str | Path, cache_dir: str | Path | None = None, tokenizer_config: TokenizerConfig | None = None,
                  tokenizer_options: dict[str, Any] | None = None, progress: bool = True,
                  force: bool = False) -> TokenCache:
    """Encode the piano-roll file ``path`` into ``cache_dir`` (or reuse the cache there) and return it.

    ``tokenizer_config`` fixes the configuration; without it :func:`choose_roll_config`
    chooses one, ``tokenizer_options`` winning. ``progress`` is accepted for the same call as
    a folder's: reading a roll file takes a few seconds and prints nothing.
    """
    start = time.perf_counter()
    path = Path(path).expanduser().resolve()
    options = dict(sorted((tokenizer_options or {}).items()))
    request = {"config": tokenizer_config.to_dict() if tokenizer_config else None, "options": options}
    cache_dir = default_cache_dir(path, request) if cache_dir is None else Path(cache_dir).expanduser()
    stat = path.stat()
    old = None if force else _current(cache_dir, path, stat, request)
    if old is not None:
        old.status = "reused"
        return old
    rolls = read_rolls(path)
    if tokenizer_config is not None:
        config, choices, source = tokenizer_config, [], "given"
    else:
        (config, choices), source = choose_roll_config(rolls, options), "auto"
    file = {"path": path.name, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": fileio.sha256_file(path)}
    pieces, arrays, stats = _encode(rolls, config)
    dtype = np.int16 if Tokenizer(config).vocab_size <= np.iinfo(np.int16).max else np.int32
    offsets = np.zeros(len(arrays) + 1, np.int64)
    np.cumsum([len(array) for array in arrays], out=offsets[1:])
    identity = hashlib.sha256(repr((FORMAT_VERSION, sorted(config.to_dict().items()), file["sha256"])).encode())
    build_id = identity.hexdigest()[:16]
    manifest = {
        "format_version": FORMAT_VERSION, "build_id": build_id, "source_dir": str(path),
        "tokenizer": config.to_dict(), "encoder": _encoder_version(), "vocab_size": Tokenizer(config).vocab_size,
        "fractions": None, "split_source": SPLIT_SOURCE, "token_dtype": np.dtype(dtype).name,
        "tokens_file": f"tokens-{build_id}.npy", "offsets_file": f"offsets-{build_id}.npy",
        "total_tokens": int(offsets[-1]), "files": [file], "pieces": pieces, "skipped": [],
        "profile": FolderProfile.of(stats).__dict__, "choices": choices, "config_source": source, "request": request,
    }
    cache = write_cache(cache_dir, manifest, np.concatenate(arrays).astype(dtype), offsets)
    cache.status, cache.encoded_files = "rebuilt", 1
    report = {"build_id": build_id, "source_dir": str(path), "files_found": 1, "files_encoded": 1, "files_skipped": 0,
              "pieces": len(pieces), "files_parsed_this_run": 1, "tokens": int(offsets[-1]),
              "notes": sum(piece["notes"] for piece in pieces), "frames": sum(piece["frames"] for piece in pieces),
              "splits": {split: len(cache.files(split)) for split in SPLIT_NAMES}, "skipped": [],
              "tokenizer": config.to_dict(), "choices": choices, "seconds": round(time.perf_counter() - start, 3)}
    fileio.atomic_write_json(cache_dir / REPORT_NAME, report)
    return cache


def _encode(rolls: RollFile, config: TokenizerConfig) -> tuple[list[dict], list[np.ndarray], list]:
    """Each piece's manifest entry, its tokens and its figures, in file order."""
    tokenizer = Tokenizer(config)
    # The frames encoding on the file's own grid takes the frames as they are; anything else hears the music.
    exact = hasattr(tokenizer, "encode_frames") and config.timing == "beats" \
        and config.steps_per_quarter == rolls.frames_per_quarter
    name = rolls.path.name
    pieces, arrays, stats = [], [], []
    for roll in rolls.rolls:
        piece = roll_piece(roll.frames, rolls.frames_per_quarter)
        figures = piece_stats(piece)
        ids = tokenizer.encode_frames(roll.frames) if exact else tokenizer.encode_piece(piece)
        content, parts = fingerprint(ids, tokenizer)
        pieces.append({"path": f"{name}#{roll.key}", "file": name, "key": roll.key, "notes": len(piece.notes),
                       "frames": len(roll.frames), "stats": figures.to_dict(), "content": content, "parts": parts,
                       "split": roll.split, "tokens": len(ids)})
        arrays.append(np.asarray(ids, np.int32))
        stats.append(figures)
    if not pieces:
        raise DataError(f"{rolls.path} holds no piece")
    return pieces, arrays, stats


def _encoder_version() -> str:
    """As a folder's cache (:mod:`musicgen.data.prepare`): another musicgen version encodes again."""
    from musicgen import __version__

    return f"musicgen {__version__}"


def _current(cache_dir: Path, path: Path, stat: Any, request: dict) -> TokenCache | None:
    """The cache in ``cache_dir`` if it was built from this file, unchanged, with these options."""
    try:
        old = load_cache(cache_dir)
    except DataError:
        return None
    manifest = old.manifest
    files = manifest.get("files") or [{}]
    if (manifest.get("split_source") != SPLIT_SOURCE or manifest.get("source_dir") != str(path)
            or manifest.get("request") != request or manifest.get("encoder") != _encoder_version()
            or files[0].get("size") != stat.st_size):
        return None
    if files[0].get("mtime_ns") != stat.st_mtime_ns and files[0].get("sha256") != fileio.sha256_file(path):
        return None
    return old
