"""The data a model learns from: a folder of music, prepared once into a token cache.

:func:`open_data` takes a music folder (prepared through its default cache, see
:mod:`musicgen.data.prepare`) or a prepared cache directory (:mod:`musicgen.data.cache`) and gives a
:class:`~musicgen.data.cache.TokenCache`; training windows come from
:class:`~musicgen.data.windows.WindowPlan`. The names a notebook needs are re-exported here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from musicgen.data.cache import TokenCache, default_cache_dir, is_cache, load_cache
from musicgen.data.prepare import prepare, scan_music_files
from musicgen.data.splits import assign_splits
from musicgen.data.windows import WindowPlan, steps_per_epoch, window_count, window_dataset
from musicgen.errors import ConfigError, DataError
from musicgen.tokens import TokenizerConfig

__all__ = [
    "TokenCache", "WindowPlan", "assign_splits", "default_cache_dir", "load_cache", "open_data", "prepare",
    "scan_music_files", "steps_per_epoch", "window_count", "window_dataset",
]


def open_data(path: str | os.PathLike, tokenizer_config: TokenizerConfig | None = None,
              tokenizer_options: dict[str, Any] | None = None, progress: bool = True) -> TokenCache:
    """A prepared cache directory (loaded) or a music folder (prepared via its default cache).

    ``tokenizer_config`` fixes the configuration; ``tokenizer_options`` override what a
    folder's profile chooses (see :func:`musicgen.data.prepare.prepare`). A cache encoded with
    another configuration than ``tokenizer_config`` is a :class:`ConfigError`.
    """
    path = Path(path).expanduser()
    if is_cache(path):
        cache = load_cache(path)
        if tokenizer_config is not None and tokenizer_config != cache.tokenizer_config:
            raise ConfigError(
                f"the cache in {path} was encoded with another tokenizer config; "
                f"prepare the music folder {cache.manifest['source_dir']} again instead"
            )
        return cache
    if not path.exists():
        raise DataError(f"{path} does not exist (expected a music folder or a prepared cache)")
    return prepare(path, tokenizer_config=tokenizer_config, tokenizer_options=tokenizer_options, progress=progress)
