"""Steering generation: the header a user asks for, and how the sampler is pulled toward it.

A model trained with controls (:mod:`musicgen.tokens.controls`) reads them from its header, so
asking for them is writing that header and letting the model go on: ``--style reels --key "D
minor" --density high --tempo 96`` become ``STYLE(reels) KEY(D minor) DENSITY(2) TEMPO(t)``,
and ``--instruments piano,bass,drums`` the tracks ``PROGRAM(0) PROGRAM(33) PROGRAM(drums)``. A
control left unset is the model's to choose. A control defined beyond the built-in ones is
asked for with ``--control NAME=VALUE``.

A token alone moves some attributes less than others (see docs/results.md), so:

- a control may guide the sampler beyond its token (:meth:`Control.bias`): ``--key`` adds
  ``key_guidance`` times the log of the key's Krumhansl-Kessler profile to the pitched tracks'
  note logits, a product of the model's distribution and the profile, as the key estimator
  weighs pitch classes; ``--key-guidance 0`` leaves the KEY token alone;
- with a checkable control asked for (key, density, ...), the sampler draws ``candidates``
  pieces for each one asked for and keeps the first whose measured attributes are those asked
  for, by the estimators that labelled the training pieces (:func:`choose_candidates`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from musicgen.errors import ConfigError

if TYPE_CHECKING:
    from musicgen.generation.processors import (
        ChordGuidance,
        GroovePull,
        HarmonyLoop,
        HeldNotes,
        VoiceLeading,
    )
    from musicgen.music.piece import Piece
    from musicgen.tokens import Tokenizer

CHORD_GUIDANCE = 3.0  # the default --chord-guidance, chosen on samples (docs/results.md)
GROOVE = 9.0  # the default --groove, chosen on samples (docs/results.md)
VOICE_LEADING = 8.0  # the default --voice-leading, chosen on samples (docs/results.md)
PHRASE_BARS = 4  # a groove's phrase: its last bar is left free to vary
BASS_ABOVE = 60  # a bass note from here up is out of the bass's register (middle C)
CANDIDATES = 4  # the default --candidates, chosen by `musicgen evaluate --controls` (docs/results.md)
KEY_GUIDANCE = 2.0  # the default --key-guidance, chosen by `musicgen evaluate --controls` (docs/results.md)
BUILT_IN = ("style", "key", "density", "tempo")  # controls with flags of their own


def parse_control_text(text: str | None) -> dict[str, str]:
    """``"register=high,mood=2"`` (``--control``) as a dict."""
    asked: dict[str, str] = {}
    for item in (part.strip() for part in (text or "").split(",") if part.strip()):
        name, sign, value = item.partition("=")
        if not sign or not name.strip() or not value.strip():
            raise ConfigError(f"--control wants NAME=VALUE pairs separated by commas, got {item!r}")
        asked[name.strip()] = value.strip()
    return asked


def asked_controls(options: Any) -> dict[str, Any]:
    """What a :class:`~musicgen.generation.options.GenerationOptions` asks of the header: control
    name -> value as the user wrote it (unset ones left out)."""
    asked = {name: getattr(options, name) for name in BUILT_IN if getattr(options, name, None) is not None}
    for name, value in parse_control_text(getattr(options, "controls", None)).items():
        if name in BUILT_IN:
            raise ConfigError(f"--control {name}=...: use --{name}")
        asked[name] = value
    return asked


def check_steering_options(key_guidance: float = KEY_GUIDANCE, candidates: int = CANDIDATES) -> None:
    """Raise :class:`ConfigError` for a ``--key-guidance`` or ``--candidates`` out of range."""
    if not (isinstance(key_guidance, (int, float)) and np.isfinite(key_guidance) and key_guidance >= 0):
        raise ConfigError(f"--key-guidance must be a non-negative number, got {key_guidance!r}")
    if not isinstance(candidates, int) or candidates < 1:
        raise ConfigError(f"--candidates must be a positive integer, got {candidates!r}")


def guidance_bias(tokenizer: Tokenizer, asked: dict[str, Any], strength: float) -> np.ndarray | None:
    """The sampler's pitch bias for the ``asked`` controls (each control's :meth:`Control.bias`
    at ``strength``, summed), or None when none guides or ``strength`` is 0."""
    check_steering_options(strength)
    if not strength:
        return None
    total = None
    for control in tokenizer.controls:
        if control.name in asked:
            bias = control.bias(tokenizer, control.parse(asked[control.name], tokenizer.config), strength)
            if bias is not None:
                total = bias if total is None else total + bias
    return total


def checked_values(tokenizer: Tokenizer, asked: dict[str, Any]) -> dict[str, int]:
    """The asked controls that a sample can be measured on (:attr:`Control.checkable`): name -> value."""
    return {control.name: control.parse(asked[control.name], tokenizer.config) for control in tokenizer.controls
            if control.checkable and control.name in asked}


def hits(piece: Piece, tokenizer: Tokenizer, wanted: dict[str, int]) -> int:
    """How many of the ``wanted`` control values ``piece`` has, by the controls' own readings."""
    return sum(tokenizer.control(name).read(piece, tokenizer.config) == value for name, value in wanted.items())


def choose_candidates(pieces: list, tokenizer: Tokenizer, asked: dict[str, Any], candidates: int) -> list[int]:
    """Of ``pieces`` (``candidates`` in a row per piece asked for), the index of the one kept
    for each: the first with every checkable control ``asked`` for, else the first that has the
    most of them."""
    wanted = checked_values(tokenizer, asked)
    kept = []
    for start in range(0, len(pieces), candidates):
        group = [hits(piece, tokenizer, wanted) for piece in pieces[start:start + candidates]]
        kept.append(start + int(np.argmax(group)))  # argmax takes the first of the best
    return kept


def chord_guidance(tokenizer: Tokenizer, strength: float) -> ChordGuidance | None:
    """The :class:`ChordGuidance` of ``tokenizer``'s chords at ``strength`` (None: 0, or a
    vocabulary without chords): chord tones get ``strength`` more than the other pitch classes
    (centred over the twelve), and on a bass instrument the root ``strength`` more again, the fifth
    half that, and a note from middle C up twice ``strength`` less; a part's "this bar again" token
    twice ``strength`` less where that bar's chords are not this bar's."""
    from musicgen.generation.processors import ChordGuidance
    from musicgen.music.chords import chord_root, chord_tones

    if not strength or not tokenizer.config.chords:
        return None
    pitch = tokenizer.roles.pitch
    pitches = tokenizer.values[pitch]
    values = sorted(int(value) for value in tokenizer.values[tokenizer.roles.chord])
    chord = np.zeros((len(values) + 1, tokenizer.vocab_size), np.float32)
    root = np.zeros_like(chord)
    for value in values:
        if value < 0:
            continue
        weights = chord_tones()[value].astype(np.float64)
        chord[value + 1, pitch] = strength * (weights - weights.mean())[pitches % 12]
        bass = np.zeros(12)
        bass[chord_root(value)], bass[(chord_root(value) + 7) % 12] = 1.0, 0.5
        root[value + 1, pitch] = strength * (bass - bass.mean())[pitches % 12]
    root[:, pitch] -= 2 * strength * (pitches >= BASS_ABOVE)
    repeat = tokenizer.roles.repeat
    return ChordGuidance(chord, root, _bass_programs(), -2 * strength * repeat, _bars_back(tokenizer))


def held_notes(tokenizer: Tokenizer, strength: float, starts: np.ndarray | None = None,
               first: int = 0) -> HeldNotes | None:
    """The :class:`HeldNotes` of ``tokenizer`` at ``strength`` (None: 0, or a vocabulary without
    chords): ``starts``, the chord each bar begins with (a chord plan's, cycled from the grammar's
    bar ``first``; None: not known ahead, so only a bar's own changes count). In an encoding with
    chords a note's completing token is its length in steps."""
    from musicgen.generation.processors import HeldNotes
    from musicgen.music.chords import chord_tones

    if not strength or not tokenizer.config.chords:
        return None
    tones = np.concatenate([np.ones((1, 12), bool), chord_tones()])  # row 0: no chord
    length = np.where(tokenizer.roles.note, tokenizer.values, -1)
    return HeldNotes(length, tones, np.array([-1]) if starts is None else starts, first, strength)


def groove_pull(tokenizer: Tokenizer, strength: float) -> GroovePull | None:
    """The :class:`GroovePull` of ``tokenizer`` at ``strength`` (None: 0, or a vocabulary without
    "this part again" tokens): a drum part's and a bass part's repeat tokens get ``strength`` more
    and another pitched part's half that (a rhythm section holds a groove; a melody or a chorale
    voice moves on), but in the last bar of every :data:`PHRASE_BARS`, and a pitched part's only
    where the bar it would play again stated this bar's chords, so under a planned progression the
    parts return where its chords do."""
    from musicgen.generation.processors import GroovePull

    repeat = tokenizer.roles.repeat
    if not strength or not repeat.any():
        return None
    return GroovePull(repeat, _bass_programs(), strength, PHRASE_BARS, _bars_back(tokenizer))


def _bars_back(tokenizer: Tokenizer) -> np.ndarray:
    """Per token: a "this part again" token's column of the grammar's bar history (0 elsewhere)."""
    return np.where(tokenizer.roles.repeat, np.maximum(tokenizer.values - 1, 0), 0)


def _bass_programs() -> np.ndarray:
    """Per General MIDI program: whether it plays the bass role (:data:`musicgen.generation.ensemble.ROLES`)."""
    from musicgen.generation.ensemble import BASS_PROGRAMS
    from musicgen.music.instruments import PROGRAM_COUNT

    bass = np.zeros(PROGRAM_COUNT, bool)
    bass[sorted(BASS_PROGRAMS)] = True
    return bass


def harmony_loop(tokenizer: Tokenizer, strength: float) -> HarmonyLoop | None:
    """The :class:`HarmonyLoop` at ``strength`` over :data:`PHRASE_BARS` (None: 0, or a vocabulary
    without chords and repeat tokens): parts hold their bars where the harmony returns, so the
    harmony returns with them."""
    from musicgen.generation.processors import HarmonyLoop

    if not strength or not tokenizer.config.chords or not tokenizer.roles.repeat.any():
        return None
    return HarmonyLoop(np.where(tokenizer.roles.chord, tokenizer.values, -2), tokenizer.roles.position, strength,
                       PHRASE_BARS)


def voice_leading(tokenizer: Tokenizer, strength: float) -> VoiceLeading | None:
    """The :class:`VoiceLeading` of ``tokenizer`` at ``strength`` (None: 0, or a vocabulary
    without bars and tracks, whose grammar cannot say where the voices stand)."""
    from musicgen.generation.processors import VoiceLeading

    if not strength or not tokenizer.roles.track.any():
        return None
    return VoiceLeading(np.where(tokenizer.roles.pitch, tokenizer.values, -1), _bass_programs(), strength)


def guidance(tokenizer: Tokenizer, options: Any, planned: bool = False, starts: np.ndarray | None = None,
             first: int = 0) -> tuple:
    """The guidance processors ``options`` ask for (:func:`chord_guidance` and, at its strength,
    :func:`held_notes`; :func:`groove_pull` and, at the groove's strength, :func:`harmony_loop`;
    :func:`voice_leading`), those the vocabulary can take; ``planned``: the chords are a given
    progression (the plan, not the loop, decides the harmony); ``starts``: the chord each bar begins
    with, where known ahead (cycled from the grammar's bar ``first``)."""
    items = (chord_guidance(tokenizer, options.chord_guidance), held_notes(tokenizer, options.chord_guidance, starts, first),
             groove_pull(tokenizer, options.groove),
             None if planned else harmony_loop(tokenizer, options.groove), voice_leading(tokenizer, options.voice_leading))
    return tuple(item for item in items if item is not None)
