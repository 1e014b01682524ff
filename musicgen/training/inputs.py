"""The data of a training run: the training windows and the training and validation streams.

A music folder is opened (prepared through the token cache) before TensorFlow starts.
When the validation split is empty or too short for a window (a tiny folder), the tail
of each training piece is held out instead, and the checkpoint's ``split.json`` says so.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from musicgen.data.splits import SPLIT_NAMES, hold_out_tails
from musicgen.errors import ConfigError, DataError
from musicgen.training.config import TrainConfig

if TYPE_CHECKING:
    from musicgen.data.cache import TokenCache
    from musicgen.tokens import Tokenizer, TokenizerConfig


def training_windows(config: TrainConfig, tokenizer: Tokenizer, streams: list) -> Any:
    """The :class:`~musicgen.data.windows.WindowPlan` of the training streams (augmented as configured)."""
    from musicgen.data import windows

    augment = None
    if config.augment:
        from musicgen.data.augment import Augmentation

        augment = Augmentation(tokenizer, semitones=tuple(config.transpose_range), stretch=tuple(config.stretch_range))
    editor = None
    if tokenizer.editable:
        from musicgen.data.window_edits import WindowEditor

        editor = WindowEditor(tokenizer, config.control_dropout, config.shuffle_tracks, config.infill)
    plan = windows.WindowPlan(streams, config.seq_len, config.batch_size, shuffle=True, seed=config.seed,
                              augment=augment, tokenizer=tokenizer, editor=editor)
    if plan.batches == 0:
        raise DataError(
            f"the training split has {plan.plan.num_windows} windows of {config.seq_len} tokens, "
            f"fewer than one batch of {config.batch_size}; lower --batch-size or --seq-len"
        )
    return plan


def open_training_data(data: Any, tokenizer_config: TokenizerConfig | None, tokenizer_options: dict | None, progress: bool) -> Any:
    if not (hasattr(data, "streams") and hasattr(data, "tokenizer")):
        from musicgen.data.sources import open_data

        data = open_data(data, tokenizer_config=tokenizer_config, tokenizer_options=tokenizer_options,
                         progress=progress)
    if tokenizer_options and any(getattr(data.tokenizer_config, key) != value for key, value in tokenizer_options.items()):
        raise ConfigError(
            f"the prepared cache {data.directory} was encoded with other tokenizer options than "
            f"{tokenizer_options}; train on the music folder {data.manifest.get('source_dir')} instead"
        )
    if progress:
        print(data.summary(), file=sys.stderr, flush=True)
    return data


def check_enough(cache: TokenCache) -> None:
    """Refuse a data set of one piece: there is nothing to check a model on but the piece itself."""
    if len(cache.pieces) < 2:
        raise DataError(
            f"{cache.manifest.get('source_dir') or cache.directory} holds {len(cache.pieces)} usable piece; a model "
            "needs at least two (it learns from some and is checked on others); add music"
        )


def split_streams(cache: TokenCache, seq_len: int, tokenizer: Tokenizer) -> tuple[list, list, dict]:
    """Training and validation streams plus ``split.json``'s content.

    When the validation split has no piece longer than a window (a tiny data set), the
    last tenth (at least one window) of each long training piece is held out instead; in
    an encoding whose windows start at bars (and may be short), its last tenth of bars under its header.
    """
    if tokenizer.anchored_windows:
        return _split_bar_streams(cache)
    train_streams = list(cache.streams("train"))
    val_streams = list(cache.streams("validation"))
    all_streams = list(cache.streams("all"))
    if not all_streams:
        raise DataError(f"{cache.directory} holds no encoded pieces")
    longest = max(len(stream) for stream in all_streams)
    if longest <= seq_len:
        raise DataError(
            f"--seq-len {seq_len} is longer than every piece (the longest has {longest - 1} "
            f"predictable tokens); lower --seq-len"
        )
    split = _split_record(cache)
    if not any(len(stream) > seq_len for stream in train_streams):
        raise DataError(f"no training piece is longer than --seq-len {seq_len}; lower --seq-len or add music")
    if not any(len(stream) > seq_len for stream in val_streams):
        heads, tails = hold_out_tails(train_streams, minimum=seq_len + 1)
        if not tails:
            raise DataError(
                f"no validation data: the validation split has no piece longer than --seq-len {seq_len} "
                "and no training piece is long enough to hold out its tail; add music or lower --seq-len"
            )
        train_streams, val_streams = heads, tails
        split["validation_source"] = "last tenth of each long training piece (validation split too small)"
    return train_streams, val_streams, split


def _split_bar_streams(cache: TokenCache) -> tuple[list, list, dict]:
    from musicgen.data.bar_windows import hold_out_bars

    train_streams, val_streams = list(cache.streams("train")), list(cache.streams("validation"))
    split = _split_record(cache)
    if not train_streams:
        raise DataError(f"{cache.directory} has no training piece; add music")
    if not val_streams:
        train_streams, val_streams = hold_out_bars(train_streams, cache.tokenizer)
        split["validation_source"] = "last tenth of the bars of each training piece (the validation split is empty)"
    if not val_streams:
        raise DataError("no validation data: the validation split is empty and no training piece has two bars; add music")
    return train_streams, val_streams, split


def _split_record(cache: TokenCache) -> dict:
    manifest = cache.manifest
    split = {name: cache.files(name) for name in SPLIT_NAMES}
    split.update(source_dir=str(manifest.get("source_dir", "")), cache=str(cache.directory),
                 build_id=manifest.get("build_id"), validation_source="validation split")
    # What the training pieces play, so that evaluation on any data can leave them out.
    split["train_content"] = sorted({piece["content"] for piece in cache.pieces
                                     if piece.get("split") == "train" and "content" in piece})
    return split
