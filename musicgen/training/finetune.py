"""Fine-tuning: start training from a trained checkpoint (``musicgen train FOLDER --from DIR``).

The folder is encoded with the base checkpoint's tokenizer, and the model keeps the
base's cell, width, depth and embedding, so every weight carries over; the optimizer
starts afresh at a lower learning rate (:mod:`musicgen.training.recipe`). A folder that the base's
tokenizer cannot represent (drums it drops, pitches outside its range, more tracks than
it has, programs it maps away) is refused before any training, because the model would
learn from a mangled copy of the music.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from musicgen.errors import ConfigError, DataError, MidiError

if TYPE_CHECKING:
    from musicgen.data.cache import TokenCache
    from musicgen.tokens import TokenizerConfig
    from musicgen.training.checkpoint import Checkpoint
    from musicgen.training.config import TrainConfig

# A folder may lose this share of its notes to the base's tokenizer (stray notes out of range).
NOTES_LOST_TOLERANCE = 0.01
AUTO = "auto"  # ``--from auto``: the shipped base model for a small folder (:func:`choose_base`)
SCRATCH = "none"
# Options that fix the model's shape or tokens, which the base model would override.
SHAPE_FIELDS = ("units", "num_layers", "embedding_dim")
# What the folder's profile chooses that the base's tokens must share to keep the music as it
# is: a performance's seconds grid and pedal would be lost on a beat grid.
FIDELITY_FIELDS = ("encoding", "timing", "pedal")
# A performance keeps its timing on a beat grid that moves 95% of its onsets by no more than this
# (the 10 ms of a seconds grid); the folder's files read for it, spread over the folder.
TIMING_TOLERANCE_MS = 10.0
TIMING_SAMPLE_FILES = 40
# Below this many training tokens (on the folder's own tokenizer) ``--from auto`` fine-tunes the base:
# a band's or a pianist's folder is a few hundred thousand, the base's data over ten million.
FINE_TUNE_TOKENS = 2_000_000


def requested_base(config: TrainConfig) -> str | None:
    """``config.base`` as a checkpoint directory, ``AUTO``, or ``None`` (from scratch)."""
    return None if config.base in (None, "", SCRATCH) else str(config.base)


def choose_base(config: TrainConfig, cache: TokenCache, data: Any, given_tokenizer: bool,
                open_data: Any) -> tuple[Any, Any, str, bool]:
    """For ``--from auto``: ``(base, cache, reason, fits)``, the shipped base model and the
    folder encoded with its tokenizer when the folder is small and the base can represent it,
    else ``(None, cache, reason, fits)`` to train from scratch on the folder as it was opened;
    ``fits`` is false when the base cannot keep the folder's music (so no hint should offer it)."""
    from musicgen.paths import BASE_CHECKPOINT

    tokens = sum(len(stream) for stream in cache.streams("train"))
    scratch = f"{tokens:,} training tokens: from scratch"
    if tokens >= FINE_TUNE_TOKENS:
        return None, cache, scratch, True
    if given_tokenizer or config.cell != "lstm" or config.one_hot or any(
            getattr(config, name) is not None for name in SHAPE_FIELDS):
        return None, cache, scratch + " (tokenizer or model-shape options were given)", True
    if not (BASE_CHECKPOINT / "model.keras").is_file():
        return None, cache, scratch + f" (no base model in {BASE_CHECKPOINT})", False
    base = load_base(str(BASE_CHECKPOINT))
    differs, kept = fidelity_differences(cache.tokenizer_config, base.tokenizer.config, cache)
    if differs:
        return None, cache, f"{scratch}; the folder's profile chose {', '.join(differs)}, which the base cannot keep", False
    try:
        encoded = open_data(data, base.tokenizer.config)
        if encoded.tokenizer_config != base.tokenizer.config:
            raise ConfigError("the data was prepared with another tokenizer")
        check_representable(encoded, base)
    except (ConfigError, DataError) as error:
        return None, cache, f"{scratch}; the base model cannot take this folder: {error}", False
    return base, encoded, (f"a small folder ({tokens:,} training tokens): fine-tuning the shipped base model "
                           f"{BASE_CHECKPOINT}{kept} (--from none trains from scratch)"), True


def fidelity_differences(own: Any, theirs: Any, cache: TokenCache | None = None) -> tuple[list[str], str]:
    """What the folder's tokenizer config ``own`` chose that the base's ``theirs`` would lose,
    as ``"timing 'seconds' (the base has 'beats')"``, and why what differs is kept anyway.

    The pedal counts only where the folder uses one. A performed folder's seconds timing is kept
    by a beat grid that moves 95% of the onsets of ``cache``'s files by at most
    :data:`TIMING_TOLERANCE_MS` (:func:`grid_error`).
    """
    names = [name for name in FIDELITY_FIELDS if not (name == "pedal" and own.pedal == "ignore")]
    differs = [name for name in names if getattr(own, name) != getattr(theirs, name)]
    kept = ""
    if "timing" in differs and cache is not None and own.timing == "seconds" and theirs.timing == "beats":
        error = grid_error(cache, theirs.steps_per_quarter)
        if error is not None and error <= TIMING_TOLERANCE_MS:
            differs.remove("timing")
            kept = (f" (its 1/{theirs.steps_per_quarter}-beat grid moves 95% of the folder's onsets by at most "
                    f"{error:.1f} ms)")
    return [f"{name} {getattr(own, name)!r} (the base has {getattr(theirs, name)!r})" for name in differs], kept


def grid_error(cache: TokenCache, steps_per_quarter: int) -> float | None:
    """The 95th percentile, in milliseconds, of how far a grid of ``steps_per_quarter`` moves the
    onsets of up to :data:`TIMING_SAMPLE_FILES` MIDI files of the cache's folder (None: none read)."""
    from musicgen.music import midi_io
    from musicgen.music.analysis import grid_error_ms

    root = Path(cache.manifest["source_dir"])
    files = [path for path in cache.files() if Path(path).suffix.lower() in midi_io.MIDI_SUFFIXES]
    errors = []
    for path in files[::max(1, -(-len(files) // TIMING_SAMPLE_FILES))]:
        try:
            errors.append(grid_error_ms(midi_io.read_piece(root / path), steps_per_quarter))
        except (MidiError, OSError):
            continue  # moved or changed since it was prepared: the others decide
    errors = [error for error in errors if len(error)]
    return float(np.percentile(np.concatenate(errors), 95)) if errors else None


def load_base(directory: str) -> Any:
    """The base :class:`~musicgen.training.checkpoint.Checkpoint` (``CheckpointError`` if it is not one)."""
    from musicgen.training.checkpoint import load_checkpoint

    return load_checkpoint(directory)


def base_tokenizer_config(base: Checkpoint, tokenizer_config: TokenizerConfig | None, tokenizer_options: dict | None) -> Any:
    """The base's tokenizer configuration; a request for another encoding is a ``ConfigError``."""
    config = base.tokenizer.config
    requested = dict(tokenizer_options or {})
    if tokenizer_config is not None:
        requested.update({name: value for name, value in tokenizer_config.to_dict().items()
                          if value != getattr(config, name, value)})
    clashes = {name: value for name, value in requested.items() if getattr(config, name, None) != value}
    if clashes:
        listed = ", ".join(f"{name.replace('_', '-')} {value!r} (the base has {getattr(config, name, None)!r})"
                           for name, value in clashes.items())
        raise ConfigError(f"--from {base.directory} fixes the tokenizer; it conflicts with {listed}; "
                          "drop those options or train from scratch")
    return config


def check_representable(cache: TokenCache, base: Checkpoint) -> None:
    """Refuse a folder whose notes the base's tokenizer loses (``DataError``)."""
    config = base.tokenizer.config
    pieces = cache.pieces
    source = sum(int(piece["stats"].get("notes", 0)) for piece in pieces)
    kept = sum(int(piece["notes"]) for piece in pieces)
    reasons = []
    if not config.use_drums and any(piece["stats"].get("drum_notes", 0) for piece in pieces):
        reasons.append("it has drums, which the base model does not play")
    # Tracks beyond max_tracks join a kept track of their instrument (the lost-notes share counts
    # any that cannot): only more instruments than tracks is a piece the base cannot hold.
    most = max((len(set(piece["stats"].get("programs", []))) for piece in pieces), default=0)
    if most > config.max_tracks:
        reasons.append(f"a piece has {most} instruments, the base model at most {config.max_tracks} tracks")
    if not config.use_programs and any(len(set(piece["stats"].get("programs", []))) > 1 for piece in pieces):
        reasons.append("it has several instruments, which the base model plays as one")
    lost = 1 - kept / source if source else 0.0
    if lost > NOTES_LOST_TOLERANCE:
        reasons.append(f"{lost:.1%} of its notes are lost in the base's tokens (pitch range "
                       f"{config.min_pitch}..{config.max_pitch})")
    if reasons:
        raise DataError(f"the base model {base.directory} cannot represent this folder: {'; '.join(reasons)}; "
                        "train from scratch instead (without --from)")
