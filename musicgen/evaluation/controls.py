"""How well the controls steer: ``musicgen evaluate --controls``.

For each setting of each control the model was trained with, pieces are sampled with
only that control in the header, and the attribute is measured on the decoded music by
the same estimator that labelled the training pieces (:meth:`NoteTokenizer.controls`):

- **key**: every key the model was trained in (all 24 when training transposed the pieces,
  else the keys of the training pieces), sampled as ``musicgen generate --key`` samples
  (the KEY token and ``key_guidance``, :func:`musicgen.generation.steering.key_bias`); a hit when the
  Krumhansl-Schmuckler estimate of the sampled piece names the requested key;
- **density**: every density bin; a hit when the piece's notes per bar fall in the bin;
- **instruments**: the sets users ask for (:data:`USER_SETS`: piano + bass + drums, strings,
  a melody with piano), then those of the training data, commonest first, each sampled as
  ``musicgen generate --instruments`` samples it; a hit when every requested instrument plays
  at least one note in every two bars of the decoded piece (a track that only sits in the
  header is not there).
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np

from musicgen.errors import ConfigError
from musicgen.evaluation.music_figures import plays_throughout
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
from musicgen.music.instruments import parse_instruments
from musicgen.tokens import Kind

if TYPE_CHECKING:
    from musicgen.training.checkpoint import Checkpoint

MAX_INSTRUMENT_SETS = 8
# What users ask for, whatever the training data had: a band, a string section, a melody with piano.
USER_SETS = ("piano,bass,drums", "strings", "flute,piano")


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
        report["instruments"] = _instrument_rates(loaded, sets, per_setting, bars, seed + index, temperature, progress)
    return report


def _instrument_rates(loaded: Checkpoint, sets: list[str], per_setting: int, bars: int, seed: int,
                      temperature: float, progress: bool) -> dict[str, Any]:
    """Hit rates of instrument sets, sampled as ``musicgen generate --instruments`` samples them
    (stand-ins for instruments the data lacked, every track owed a note in any two bars): a
    piece hits when each asked instrument plays at least one note in every two bars."""
    from musicgen.generation.ensemble import plan_ensemble
    from musicgen.generation.sampler import Sampler

    tokenizer = loaded.tokenizer
    constraints = loaded.profile.constraints(tokenizer)
    rows = []
    for offset, asked in enumerate(sets):
        _say(progress, f"instruments {asked}")
        try:
            ensemble = plan_ensemble(tokenizer, asked, loaded.profile, constraints)
        except ConfigError as error:  # refused, with its reason: no hits
            rows.append({"setting": asked, "hits": 0, "samples": per_setting, "refused": str(error)})
            continue
        sampler = Sampler.from_checkpoint(loaded, jit_compile=False, ensemble=ensemble)
        prefix = np.array([tokenizer.bos_id, *ensemble.tokens(tokenizer), tokenizer.id_of(Kind.BAR)], np.int32)
        result = sampler.sample(num=per_setting, length=bars * 200 + 64, temperature=temperature, seed=seed + offset,
                                prefix=prefix, max_bars=bars - 1, every_track=True)
        pieces = [ensemble.written_piece(tokenizer.decode_piece(row)) for row in result.tokens]
        present = [[plays_throughout(piece, track, bars) for track in range(len(ensemble.written))] for piece in pieces]
        rows.append({"setting": asked, "hits": sum(all(row) for row in present), "samples": len(pieces),
                     "instruments_present": float(np.mean(present)), "stand_ins": list(ensemble.notes)})
    return _summary(rows)


def trained_keys(checkpoint: Checkpoint | str | os.PathLike, allowed: list[int]) -> list[int]:
    """The keys the model saw: ``allowed`` (every KEY value) after transposing augmentation,
    else the keys of the training pieces' headers (``allowed`` for profiles without them)."""
    config = checkpoint.train_config
    transposed = config.augment and any(config.transpose_range or ())
    if transposed or not checkpoint.profile.keys:
        return allowed
    return [key for key in allowed if key in set(checkpoint.profile.keys)]


def instrument_sets(checkpoint: Checkpoint) -> list[str]:
    """What users ask for (:data:`USER_SETS`), then the training data's instrument sets,
    commonest first, as ``--instruments`` values."""
    data = [",".join(str(program) for program in programs)
            for programs in checkpoint.profile.instrument_sets[:MAX_INSTRUMENT_SETS]]
    seen = {tuple(sorted(parse_instruments(text))) for text in USER_SETS}
    return [*USER_SETS, *(text for text in data if tuple(sorted(parse_instruments(text))) not in seen)]


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
