"""How well the controls steer: ``musicgen evaluate --controls``.

Pieces are sampled exactly as ``musicgen generate`` samples them (one
:class:`~musicgen.generation.session.Session`, the same guidance and candidates), with only the
setting under test asked for, and measured on the decoded music:

- **each checkable control** of the model (:mod:`musicgen.tokens.controls`: key, density, and
  any control a plugin adds), at every value the model was trained with (every value when
  training transposed the pieces and the control moves with them, like a key); a hit when the
  control's own reading of the piece (the estimator that labelled the training pieces) gives
  the value asked for;
- **instruments**: the sets users ask for (:data:`USER_SETS`: piano + bass + drums, strings,
  a melody with piano), then those of the training data, commonest first; a hit when every
  requested instrument plays at least one note in every two bars of the decoded piece (a
  track that only sits in the header is not there);
- **chords** (models whose bars state their chords): the progressions of :data:`PROGRESSIONS`, each
  asked for with ``--chords``; a hit is a planned chord that the notes alone sound where it starts
  (:func:`~musicgen.evaluation.music_figures.chord_hits`), so the figure is what is heard, not the
  CHORD tokens the plan forced.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np

from musicgen.errors import ConfigError
from musicgen.evaluation.music_figures import chord_hits, plays_throughout
from musicgen.generation.options import GenerationOptions
from musicgen.generation.steering import BUILT_IN, CANDIDATES, KEY_GUIDANCE, check_steering_options
from musicgen.music.chords import parse_progression
from musicgen.music.instruments import parse_instruments

if TYPE_CHECKING:
    from musicgen.generation.session import Session
    from musicgen.tokens.controls import Control
    from musicgen.training.checkpoint import Checkpoint

MAX_INSTRUMENT_SETS = 8
# What users ask for, whatever the training data had: a band, a string section, a melody with piano.
USER_SETS = ("piano,bass,drums", "strings", "flute,piano")
# Progressions asked of a model that states its chords: pop's four chords, and a minor one with changes mid-bar.
PROGRESSIONS = ("C G Am F", "Am:2 Dm:2 E:4")


def control_hit_rates(checkpoint: Checkpoint | str | os.PathLike, per_setting: int = 8, bars: int = 8, seed: int = 0,
                      temperature: float = 1.0, key_guidance: float = KEY_GUIDANCE,
                      candidates: int = CANDIDATES, progress: bool = False) -> dict[str, Any]:
    """Hit rates per control (``rate``, ``hits``, ``samples`` and per-setting rows)."""
    from musicgen.generation.session import Session

    session = Session(checkpoint)
    tokenizer = session.tokenizer
    if not tokenizer.takes_controls:
        raise ConfigError(f"checkpoint {session.checkpoint.directory} uses the {tokenizer.encoding} encoding, which "
                          "has no controls")
    if not isinstance(per_setting, int) or per_setting < 1:
        raise ConfigError(f"--samples-per-setting must be a positive integer, got {per_setting!r}")
    check_steering_options(key_guidance, candidates)
    base = GenerationOptions(num=per_setting, bars=bars, temperature=temperature, key_guidance=key_guidance,
                             candidates=candidates)
    report: dict[str, Any] = {"checkpoint": str(session.checkpoint.directory), "bars": bars, "per_setting": per_setting,
                              "temperature": temperature, "key_guidance": key_guidance, "candidates": candidates}
    index = 0
    for control in tokenizer.controls:
        if not control.checkable:
            continue
        rows = []
        for value in trained_values(session.checkpoint, control):
            setting = control.describe(value, tokenizer.config)
            _say(progress, f"{control.name} {setting}")
            pieces = session.generate(base, seed=seed + index, **_asking(control.name, setting)).pieces
            found = [control.read(piece, tokenizer.config) for piece in pieces]
            rows.append({"setting": setting, "hits": sum(item == value for item in found), "samples": len(found),
                         "found": Counter(control.describe(item, tokenizer.config) if item is not None else "none"
                                          for item in found).most_common(3)})
            index += 1
        report[control.name] = _summary(rows)
    sets = instrument_sets(session.checkpoint)
    if sets:
        report["instruments"] = _instrument_rates(session, base, sets, seed + index, progress)
    if tokenizer.config.chords:
        report["chords"] = _chord_rates(session, base, seed + index + len(sets), progress)
    return report


def _chord_rates(session: Session, base: GenerationOptions, seed: int, progress: bool) -> dict[str, Any]:
    """Hit rates of :data:`PROGRESSIONS`, counted in planned chords (not pieces)."""
    rows = []
    for offset, progression in enumerate(PROGRESSIONS):
        _say(progress, f"chords {progression}")
        pieces = session.generate(base, chords=progression, seed=seed + offset).pieces
        counts = np.array([chord_hits(piece, parse_progression(progression)) for piece in pieces]).sum(axis=0)
        rows.append({"setting": progression, "hits": int(counts[0]), "samples": int(counts[1]), "pieces": len(pieces)})
    return _summary(rows)


def _asking(name: str, setting: str) -> dict[str, str]:
    """The :class:`GenerationOptions` fields that ask for control ``name`` at ``setting``."""
    return {name: setting} if name in BUILT_IN else {"controls": f"{name}={setting}"}


def _instrument_rates(session: Session, base: GenerationOptions, sets: list[str], seed: int,
                      progress: bool) -> dict[str, Any]:
    """Hit rates of instrument sets, sampled as ``musicgen generate --instruments`` samples them
    (stand-ins for instruments the data lacked, every track owed a note in any two bars): a
    piece hits when each asked instrument plays at least one note in every two bars."""
    rows = []
    for offset, asked in enumerate(sets):
        _say(progress, f"instruments {asked}")
        try:
            result = session.generate(base, instruments=asked, seed=seed + offset)
        except ConfigError as error:  # refused, with its reason: no hits
            rows.append({"setting": asked, "hits": 0, "samples": base.num, "refused": str(error)})
            continue
        tracks = len(parse_instruments(asked))
        present = [[plays_throughout(piece, track, int(base.bars)) for track in range(tracks)]
                   for piece in result.pieces]
        rows.append({"setting": asked, "hits": sum(all(row) for row in present), "samples": len(result.pieces),
                     "instruments_present": float(np.mean(present)), "stand_ins": list(result.remarks)})
    return _summary(rows)


def trained_values(checkpoint: Checkpoint, control: Control) -> list[int]:
    """The values of ``control`` the model saw: every value when training transposed the pieces
    and the control moves with them (a key), else the values of the training pieces' headers
    (every value for profiles that do not say)."""
    every = [int(value) for value in control.values(checkpoint.tokenizer.config)]
    config = checkpoint.train_config
    transposed = config.augment and any(config.transpose_range or ()) and any(
        control.transpose(value, 1) != value for value in every)
    seen = checkpoint.profile.control_values(control.name)
    if transposed or not seen:
        return every
    return [value for value in every if value in set(seen)]


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
    for name, part in report.items():
        if isinstance(part, dict) and "rate" in part:
            lines.append(f"  {name:<12} {part['rate']:.0%} ({part['hits']} of {part['samples']}, "
                         f"{len(part['settings'])} settings)")
    return "\n".join(lines)


def _say(progress: bool, message: str) -> None:
    if progress:
        print(f"sampling with {message}", file=sys.stderr, flush=True)
