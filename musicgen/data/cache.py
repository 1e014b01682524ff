"""The token cache on disk: a manifest, the tokens of every piece, and how to load them.

A cache directory holds::

    manifest.json            format version, build id, source folder, the tokenizer config
                             (its one record), how it was chosen, the folder's profile, one
                             entry per source file (path, size, mtime, SHA-256) and one per
                             piece (path, split, tokens, notes, figures), skipped files and
                             pieces with their reasons
    report.json              what the last build did
    tokens-<build>.npy       every piece's tokens, concatenated (int16 or int32)
    offsets-<build>.npy      int64, piece ``i`` is ``tokens[offsets[i]:offsets[i + 1]]``

A piece's path is its file's path relative to the folder, with ``#key`` for a piece of a
collection (``tunes.abc#12``). The arrays are written first, under names that carry the
build id, and the manifest last (atomically), so an interrupted build leaves the previous
cache valid. :mod:`musicgen.data.prepare` builds caches; :func:`musicgen.data.sources.open_data` opens
a folder or a cache.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from musicgen import fileio
from musicgen.data.splits import SPLIT_CHOICES, SPLIT_NAMES
from musicgen.errors import ConfigError, DataError
from musicgen.tokens import Tokenizer, TokenizerConfig

FORMAT_VERSION = 2
MANIFEST_NAME = "manifest.json"
REPORT_NAME = "report.json"


@dataclass
class TokenCache:
    """A prepared data set: the token streams of every encoded piece and their split."""

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
        """The :class:`musicgen.tokens.Tokenizer` the cache was encoded with."""
        return Tokenizer(self.tokenizer_config)

    @property
    def build_id(self) -> str:
        """Changes whenever the cached tokens change (files, config or split)."""
        return self.manifest["build_id"]

    @property
    def pieces(self) -> list[dict[str, Any]]:
        """The manifest's entry of every encoded piece, in cache order."""
        return self.manifest["pieces"]

    def _indices(self, split: str) -> list[int]:
        if split not in SPLIT_CHOICES:
            raise ConfigError(f"split must be one of {', '.join(SPLIT_CHOICES)}, got {split!r}")
        return [index for index, entry in enumerate(self.pieces) if split == "all" or entry["split"] == split]

    def streams(self, split: str = "all") -> list[np.ndarray]:
        """One int32 token array per piece of ``split`` (views into the cache)."""
        return [self.tokens[self.offsets[i]:self.offsets[i + 1]] for i in self._indices(split)]

    def files(self, split: str = "all") -> list[str]:
        """The paths of the pieces of ``split`` (``file.abc#12`` for a tune of a collection), in cache order."""
        return [self.pieces[i]["path"] for i in self._indices(split)]

    def stats(self, split: str = "all") -> list[dict[str, Any]]:
        """The figures of each piece of ``split`` (see :class:`musicgen.data.profile.PieceStats`)."""
        return [self.pieces[i]["stats"] for i in self._indices(split)]

    def split_of(self, path: str) -> str:
        """The split a piece was assigned to."""
        for entry in self.pieces:
            if entry["path"] == path:
                return entry["split"]
        raise DataError(f"{path!r} is not an encoded piece of the cache in {self.directory}")

    def summary(self) -> str:
        """Lines for people: the folder's profile, the chosen configuration, split sizes, skipped files."""
        manifest = self.manifest
        lines = [
            f"cache {self.directory} (build {self.build_id}) from {manifest['source_dir']}",
            f"  files: {len(manifest['files'])} read, {len(manifest['skipped'])} skipped; "
            f"pieces encoded: {len(self.pieces)}",
            f"  tokens: {len(self.tokens):,}  notes: {sum(entry['notes'] for entry in self.pieces):,}",
        ]
        from musicgen.data.profile import FolderProfile

        if manifest.get("profile"):
            lines.append("profile:")
            lines.extend(FolderProfile(**manifest["profile"]).lines())
        if manifest.get("choices"):
            lines.append(f"tokenizer ({manifest.get('config_source', 'given')}):")
            lines.extend(f"  {reason}" for reason in manifest["choices"])
        parts = []
        for split in SPLIT_NAMES:
            indices = self._indices(split)
            tokens = sum(int(self.offsets[i + 1] - self.offsets[i]) for i in indices)
            parts.append(f"{split} {len(indices)} pieces / {tokens:,} tokens")
        lines.append("  split: " + ", ".join(parts))
        if manifest["skipped"]:
            lines.append("  skipped:")
            lines.extend(f"    {entry['path']}: {entry['reason']}" for entry in manifest["skipped"])
        return "\n".join(lines)


def default_cache_dir(midi_dir: str | os.PathLike, request: dict | None = None) -> Path:
    """Where :func:`musicgen.data.sources.open_data` caches a folder: ``$XDG_CACHE_HOME/musicgen/prepared/<hash>``.

    ``MUSICGEN_CACHE_DIR`` replaces ``$XDG_CACHE_HOME/musicgen`` (default ``~/.cache/musicgen``).
    The hash is of the folder's absolute path and of how it is to be encoded (``request``:
    a fixed configuration, or options for the automatic choice), so that a folder opened
    for two models of different encodings keeps both caches.
    """
    root = os.environ.get("MUSICGEN_CACHE_DIR")
    if root is None:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "musicgen"
    absolute = Path(midi_dir).expanduser().resolve()
    key = str(absolute) if not request or request == {"config": None, "options": {}} else f"{absolute} {request!r}"
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    return Path(root) / "prepared" / f"{absolute.name}-{digest}"


def is_cache(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a cache directory (it has a manifest)."""
    return (Path(path) / MANIFEST_NAME).is_file()


def load_cache(cache_dir: str | os.PathLike) -> TokenCache:
    """Load a cache written by :func:`musicgen.data.prepare.prepare`; a missing or damaged one is a :class:`DataError`."""
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
    pieces = manifest.get("pieces", [])
    if offsets.shape != (len(pieces) + 1,) or offsets[0] != 0 or offsets[-1] != len(tokens) or tokens.ndim != 1:
        raise DataError(f"{cache_dir} is damaged: token arrays do not match {MANIFEST_NAME}; prepare it again with --force")
    return TokenCache(cache_dir, manifest, tokens.astype(np.int32), offsets.astype(np.int64))


def write_cache(cache_dir: Path, manifest: dict, tokens: np.ndarray, offsets: np.ndarray) -> TokenCache:
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
