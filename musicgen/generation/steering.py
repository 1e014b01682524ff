"""Steering generation: the header tokens that ask for instruments, a key, a density, a tempo, a style.

A notes-encoding model trained with controls (:mod:`musicgen.tokens.notes`) reads them
from the header, so asking for them is writing that header and letting the model go on:
``--style reels --key "D minor" --density high --tempo 96`` become ``STYLE(reels) KEY(D
minor) DENSITY(2) TEMPO(t)``, and ``--instruments piano,bass,drums`` the tracks
``PROGRAM(0) PROGRAM(33) PROGRAM(drums)``. A control left unset is the model's to choose.

A KEY token alone moves the key less than the other controls move theirs (see
docs/results.md), so ``--key`` also guides the sampler: :func:`key_bias` adds
``key_guidance`` times the log of the key's Krumhansl-Kessler profile to the logits of the
pitched tracks' notes, a product of the model's distribution and the profile, as the key
estimator weighs pitch classes. ``--key-guidance 0`` leaves the KEY token alone.

The DENSITY token moves the density less reliably (the bins are narrow), so with ``--key``
or ``--density`` the sampler draws ``candidates`` pieces for each one asked for and keeps
the first whose key and density are those asked for, measured by the estimators that
labelled the training pieces (:func:`choose_candidates`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from musicgen.errors import ConfigError
from musicgen.music.analysis import MAJOR_PROFILE, MINOR_PROFILE, note_density, parse_key, piece_key
from musicgen.tokens import Kind

if TYPE_CHECKING:
    from musicgen.tokens import Tokenizer

DENSITY_NAMES = ("low", "medium", "high")
CANDIDATES = 4  # the default --candidates, chosen by `musicgen evaluate --controls` (docs/results.md)
KEY_GUIDANCE = 2.0  # the default --key-guidance, chosen by `musicgen evaluate --controls` (docs/results.md)


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


def control_tokens(tokenizer: Tokenizer, controls: Controls, checkpoint: str = "the checkpoint") -> list[int]:
    """The STYLE, KEY, DENSITY and TEMPO tokens ``controls`` ask for, in header order.

    Asking a checkpoint for a control it was not trained with is a :class:`ConfigError`
    naming the checkpoint. ``tempo`` becomes a TEMPO token only where the model has them
    (elsewhere it only sets the tempo the file plays at).
    """
    config = tokenizer.config
    asked = [name for name, value in (("--style", controls.style), ("--key", controls.key),
                                      ("--density", controls.density)) if value is not None]
    if not tokenizer.has_bars:
        if asked or controls.instruments is not None:
            raise ConfigError(f"{checkpoint} uses the {config.encoding} encoding, which has no controls "
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


def check_steering_options(key_guidance: float = KEY_GUIDANCE, candidates: int = CANDIDATES) -> None:
    """Raise :class:`ConfigError` for a ``--key-guidance`` or ``--candidates`` out of range."""
    if not (isinstance(key_guidance, (int, float)) and np.isfinite(key_guidance) and key_guidance >= 0):
        raise ConfigError(f"--key-guidance must be a non-negative number, got {key_guidance!r}")
    if not isinstance(candidates, int) or candidates < 1:
        raise ConfigError(f"--candidates must be a positive integer, got {candidates!r}")


def guidance_bias(tokenizer: Tokenizer, controls: Controls, strength: float) -> np.ndarray | None:
    """The sampler's pitch bias for ``controls``: :func:`key_bias` of the key asked for, or
    None when no key is asked for or ``strength`` is 0."""
    return key_bias(tokenizer, controls.key, strength) if controls.key is not None and strength else None


def key_bias(tokenizer: Tokenizer, key: str | int, strength: float = KEY_GUIDANCE) -> np.ndarray:
    """A logit bias over ``tokenizer``'s tokens that pulls pitches toward ``key``.

    Each PITCH token gets ``strength * log(profile[(pitch - tonic) % 12])`` of the key's
    Krumhansl-Kessler profile, centred to mean zero over the twelve pitch classes (so the
    pitches as a whole are not favoured over the other tokens); every other token gets 0.
    The sampler adds it on pitched tracks only (:meth:`musicgen.generation.sampler.Sampler.sample`).
    """
    check_steering_options(strength)
    index = parse_key(key) if isinstance(key, str) else int(key)
    tonic, minor = index % 12, index // 12
    log_profile = np.log(MINOR_PROFILE if minor else MAJOR_PROFILE)
    log_profile -= log_profile.mean()
    bias = np.zeros(tokenizer.vocab_size, np.float32)
    pitch = np.asarray(tokenizer.kinds) == Kind.PITCH
    pitches = np.asarray(tokenizer.values)[pitch]
    bias[pitch] = strength * log_profile[(pitches - tonic) % 12]
    return bias


def density_bin_of(piece: Any, density_edges: Any) -> int:
    """The DENSITY bin of ``piece``'s notes per bar (-1 for a piece without notes)."""
    if not len(piece.notes):
        return -1
    return int(np.searchsorted(density_edges, note_density(piece), "right"))


def choose_candidates(pieces: list, tokenizer: Tokenizer, controls: Controls, candidates: int) -> list[int]:
    """Of ``pieces`` (``candidates`` in a row per piece asked for), the index of the one kept
    for each: the first with the key and density bin ``controls`` ask for, else the first
    that has the most of them."""
    config = tokenizer.config
    key = parse_key(controls.key) if controls.key is not None else None
    density = (density_bin(controls.density, len(config.density_edges) + 1)
               if controls.density is not None and config.density_edges else None)

    def score(piece: Any) -> int:
        return ((key is not None and piece_key(piece) == key)
                + (density is not None and density_bin_of(piece, config.density_edges) == density))

    kept = []
    for start in range(0, len(pieces), candidates):
        group = [score(piece) for piece in pieces[start:start + candidates]]
        kept.append(start + int(np.argmax(group)))  # argmax takes the first of the best
    return kept
