"""Steering generation: the header tokens that ask for instruments, a key, a density, a tempo, a style.

A notes-encoding model trained with controls (:mod:`musicgen.encodings.notes`) reads them
from the header, so asking for them is writing that header and letting the model go on:
``--style reels --key "D minor" --density high --tempo 96`` become ``STYLE(reels) KEY(D
minor) DENSITY(2) TEMPO(t)``, and ``--instruments piano,bass,drums`` the tracks
``PROGRAM(0) PROGRAM(33) PROGRAM(drums)``. A control left unset is the model's to choose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from musicgen.analysis import parse_key
from musicgen.encodings.base import Kind
from musicgen.errors import ConfigError
from musicgen.instruments import parse_instruments, program_name

DENSITY_NAMES = ("low", "medium", "high")


@dataclass(frozen=True)
class Controls:
    """What a user asks of a piece; ``None`` leaves an attribute to the model."""

    instruments: str | None = None
    key: str | None = None
    density: str | None = None
    tempo: float | None = None
    style: str | None = None

    @property
    def any(self) -> bool:
        return any(value is not None for value in (self.instruments, self.key, self.density, self.style))


def control_tokens(tokenizer: Any, controls: Controls, checkpoint: str = "the checkpoint") -> list[int]:
    """The STYLE, KEY, DENSITY and TEMPO tokens ``controls`` ask for, in header order.

    Asking a checkpoint for a control it was not trained with is a :class:`ConfigError`
    naming the checkpoint. ``tempo`` becomes a TEMPO token only where the model has them
    (elsewhere it only sets the tempo the file plays at).
    """
    config = tokenizer.config
    asked = [name for name, value in (("--style", controls.style), ("--key", controls.key),
                                      ("--density", controls.density)) if value is not None]
    if config.encoding != "notes":
        if asked or controls.instruments is not None:
            raise ConfigError(f"{checkpoint} uses the events encoding, which has no controls "
                              f"({', '.join(asked + (['--instruments'] if controls.instruments else []))}); "
                              "train a model in the notes encoding to steer it")
        return []
    tokens = []
    if controls.style is not None:
        if not config.styles:
            raise ConfigError(f"{checkpoint} was trained without STYLE controls (its folder had one style); "
                              "leave out --style")
        if controls.style not in config.styles:
            raise ConfigError(f"unknown style {controls.style!r}; {checkpoint} knows: {', '.join(config.styles)}")
        tokens.append(tokenizer.id_of(Kind.STYLE, config.styles.index(controls.style)))
    if controls.key is not None:
        if not config.keys:
            raise ConfigError(f"{checkpoint} was trained without KEY controls; leave out --key")
        tokens.append(tokenizer.id_of(Kind.KEY, parse_key(controls.key)))
    if controls.density is not None:
        if not config.density_edges:
            raise ConfigError(f"{checkpoint} was trained without DENSITY controls; leave out --density")
        tokens.append(tokenizer.id_of(Kind.DENSITY, density_bin(controls.density, len(config.density_edges) + 1)))
    if controls.tempo is not None and config.tempo_edges:
        tokens.append(tokenizer.id_of(Kind.TEMPO, int(np.searchsorted(config.tempo_edges, controls.tempo, "right"))))
    return tokens


def density_bin(text: str, bins: int) -> int:
    """``"low"``/``"medium"``/``"high"`` (three bins) or a bin number."""
    word = str(text).strip().lower()
    if bins == len(DENSITY_NAMES) and word in DENSITY_NAMES:
        return DENSITY_NAMES.index(word)
    if word.isdigit() and int(word) < bins:
        return int(word)
    names = ", ".join(DENSITY_NAMES) if bins == len(DENSITY_NAMES) else f"0..{bins - 1}"
    raise ConfigError(f"--density must be one of {names}, got {text!r}")


def instrument_tokens(tokenizer: Any, instruments: str, profile: Any = None) -> tuple[list[int], list[str]]:
    """The header's PROGRAM tokens for ``"piano,bass,drums"`` (program order, as the data's
    headers are), and warnings for instruments the training data never had."""
    programs = sorted(parse_instruments(instruments))
    if len(programs) > tokenizer.config.max_tracks:
        raise ConfigError(f"--instruments asks for {len(programs)} tracks; the model writes at most "
                          f"{tokenizer.config.max_tracks}")
    warnings = []
    known = set(_profile_programs(tokenizer, profile))
    for program in programs:
        if known and program not in known:
            warnings.append(f"the training data had no {program_name(program)}; the model has never played it")
    return [tokenizer.id_of(Kind.PROGRAM, program) for program in programs], warnings


def _profile_programs(tokenizer: Any, profile: Any) -> list[int]:
    if profile is None or not profile.allowed_tokens:
        return []
    return [int(tokenizer.values[token]) for token in profile.allowed_tokens
            if token < tokenizer.vocab_size and tokenizer.kinds[token] == Kind.PROGRAM]
