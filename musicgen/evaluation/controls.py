"""How well the controls steer: ``musicgen evaluate --controls``.

For each setting of each control the model was trained with, pieces are sampled with
only that control in the header, and the attribute is measured on the decoded music by
the same estimator that labelled the training pieces (:meth:`NoteTokenizer.controls`):

- **key**: every key the model was trained in (all 24 when training transposed the pieces,
  else the keys of the training pieces), sampled as ``musicgen generate --key`` samples
  (the KEY token and ``key_guidance``, :func:`musicgen.generation.steering.key_bias`); a hit when the
  Krumhansl-Schmuckler estimate of the sampled piece names the requested key;
- **density**: every density bin; a hit when the piece's notes per bar fall in the bin;
- **instruments**: the instrument sets of the training data, commonest first; a hit when
  the sampled piece plays exactly the requested instruments, each at least once.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np

from musicgen.errors import ConfigError
from musicgen.generation.steering import (
    CANDIDATES,
    KEY_GUIDANCE,
    Controls,
    check_steering_options,
    choose_candidates,
    density_bin_of,
    guidance_bias,
)
from musicgen.music.analysis import key_name, piece_key
from musicgen.tokens import Kind

if TYPE_CHECKING:
    from musicgen.training.checkpoint import Checkpoint

MAX_INSTRUMENT_SETS = 8


def control_hit_rates(checkpoint: Checkpoint | str | os.PathLike, per_setting: int = 8, bars: int = 8, seed: int = 0,
                      temperature: float = 1.0, key_guidance: float = KEY_GUIDANCE,
                      candidates: int = CANDIDATES, progress: bool = False) -> dict[str, Any]:
    """Hit rates per control (``rate``, ``hits``, ``samples`` and per-setting rows)."""
    from musicgen.generation.sampler import Sampler
    from musicgen.training.checkpoint import resolve_checkpoint

    loaded = resolve_checkpoint(checkpoint)
    tokenizer = loaded.tokenizer
    config = tokenizer.config
    if not tokenizer.has_bars:
        raise ConfigError(f"checkpoint {loaded.directory} uses the {config.encoding} encoding, which has no controls")
    if not isinstance(per_setting, int) or per_setting < 1:
        raise ConfigError(f"--samples-per-setting must be a positive integer, got {per_setting!r}")
    check_steering_options(key_guidance, candidates)
    sampler = Sampler.from_checkpoint(loaded, jit_compile=False)
    allowed = set(loaded.profile.allowed_tokens or range(tokenizer.vocab_size))
    bar_id = tokenizer.id_of(Kind.BAR)
    length = bars * 96 + 64
    report: dict[str, Any] = {"checkpoint": str(loaded.directory), "bars": bars, "per_setting": per_setting,
                              "temperature": temperature, "key_guidance": key_guidance, "candidates": candidates}

    def pieces(header: list[int], index: int, bias: np.ndarray | None = None, asked: Controls | None = None) -> list:
        """Pieces sampled as ``musicgen generate`` samples them: with ``asked`` (a key or a
        density), ``candidates`` draws per piece and the first that has it kept."""
        prefix = np.array([tokenizer.bos_id, *header], np.int32)
        closed = bool(header) and tokenizer.kinds[header[-1]] == Kind.BAR
        draws = per_setting * (candidates if asked is not None else 1)
        rows = sampler.sample(num=draws, length=length, temperature=temperature, seed=seed + index,
                              prefix=prefix, max_bars=bars - 1 if closed else bars, pitch_bias=bias).tokens
        decoded = [tokenizer.decode_piece(row) for row in rows]
        if asked is None or candidates == 1:
            return decoded
        return [decoded[kept] for kept in choose_candidates(decoded, tokenizer, asked, candidates)]

    index = 0
    if config.keys:
        keys = trained_keys(loaded, [int(tokenizer.values[token]) for token in sorted(allowed)
                                     if tokenizer.kinds[token] == Kind.KEY])
        rows = []
        for key in keys:
            _say(progress, f"key {key_name(key)}")
            asked = Controls(key=key_name(key))
            found = [piece_key(piece) for piece in pieces([tokenizer.id_of(Kind.KEY, key)], index,
                                                           guidance_bias(tokenizer, asked, key_guidance), asked)]
            rows.append({"setting": key_name(key), "hits": sum(value == key for value in found),
                         "samples": len(found), "found": Counter(key_name(v) if v is not None else "none"
                                                                 for v in found).most_common(3)})
            index += 1
        report["key"] = _summary(rows)
    if config.density_edges:
        rows = []
        for value in range(len(config.density_edges) + 1):
            _say(progress, f"density bin {value}")
            found = [density_bin_of(piece, config.density_edges)
                     for piece in pieces([tokenizer.id_of(Kind.DENSITY, value)], index, asked=Controls(density=str(value)))]
            rows.append({"setting": str(value), "hits": found.count(value), "samples": len(found)})
            index += 1
        report["density"] = _summary(rows)
    sets = instrument_sets(loaded)
    if sets:
        rows = []
        for programs in sets:
            _say(progress, f"instruments {','.join(map(str, programs))}")
            header = [tokenizer.id_of(Kind.PROGRAM, program) for program in programs] + [bar_id]
            found = [sorted({track.program for track, _ in _played(piece)}) for piece in pieces(header, index)]
            rows.append({"setting": ",".join(map(str, programs)), "hits": sum(f == list(programs) for f in found),
                         "samples": len(found)})
            index += 1
        report["instruments"] = _summary(rows)
    return report


def trained_keys(checkpoint: Checkpoint | str | os.PathLike, allowed: list[int]) -> list[int]:
    """The keys the model saw: ``allowed`` (every KEY value) after transposing augmentation,
    else the keys of the training pieces' headers (``allowed`` for profiles without them)."""
    config = checkpoint.train_config
    transposed = config.augment and any(config.transpose_range or ())
    if transposed or not checkpoint.profile.keys:
        return allowed
    return [key for key in allowed if key in set(checkpoint.profile.keys)]


def instrument_sets(checkpoint: Checkpoint | str | os.PathLike) -> list[tuple[int, ...]]:
    """The training data's instrument sets (programs in header order), commonest first."""
    return [tuple(int(program) for program in programs)
            for programs in checkpoint.profile.instrument_sets[:MAX_INSTRUMENT_SETS]]


def _played(piece: Any) -> list:
    """``(track, notes)`` of the tracks that play at least one note."""
    counts = np.bincount(piece.notes[:, 4].astype(np.int64), minlength=len(piece.tracks)) if len(piece.notes) else \
        np.zeros(len(piece.tracks), int)
    return [(track, int(count)) for track, count in zip(piece.tracks, counts, strict=False) if count]


def _summary(rows: list[dict]) -> dict[str, Any]:
    hits, samples = sum(row["hits"] for row in rows), sum(row["samples"] for row in rows)
    return {"rate": hits / samples if samples else float("nan"), "hits": hits, "samples": samples, "settings": rows}


def format_report(report: dict[str, Any]) -> str:
    """The hit rates as printed."""
    lines = [f"control hit rates of {report['checkpoint']} ({report['per_setting']} samples of "
             f"{report['bars']} bars per setting, temperature {report['temperature']:g}, key guidance "
             f"{report['key_guidance']:g}, {report['candidates']} candidates):"]
    for name in ("key", "density", "instruments"):
        if name in report:
            part = report[name]
            lines.append(f"  {name:<12} {part['rate']:.0%} ({part['hits']} of {part['samples']}, "
                         f"{len(part['settings'])} settings)")
    return "\n".join(lines)


def _say(progress: bool, message: str) -> None:
    if progress:
        print(f"sampling with {message}", file=sys.stderr, flush=True)
