"""Controls: what a piece's header says about it, and what a user may ask of the next one.

A control is one subclass of :class:`Control`, registered by being defined (``class
KeyControl(Control, name="key")``): it declares its tokens (:meth:`Control.values`), how it is
read from a piece (:meth:`Control.read`, which labels the training pieces and checks samples),
how it is asked for (:meth:`Control.parse`), how it moves under transposition, how it may guide
the sampler beyond its token (:meth:`Control.bias`) and which tokenizer options a folder gets
for it (:meth:`Control.choose`). Everything else (the tokenizer's vocabulary and header, the
data profile, steering, primers and ``evaluate --controls``) asks the registry,
:data:`CONTROLS`, so a new control is one module and an import (see ``tests/register_control.py``).

A tokenizer writes the controls its configuration turns on (:attr:`Tokenizer.controls`), in
the order of :attr:`Control.order`, as ``CONTROL`` tokens after BOS; training drops each at
random, so any may be left out when sampling.

>>> from musicgen.tokens import Tokenizer, TokenizerConfig
>>> tokenizer = Tokenizer(TokenizerConfig(keys=True, density_edges=(4.0, 8.0)))
>>> [control.name for control in tokenizer.controls]
['key', 'density']
>>> tokenizer.token_name(tokenizer.control_id("key", "D minor"))
'KEY(D minor)'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from musicgen.errors import ConfigError
from musicgen.music.analysis import (
    KEY_COUNT,
    MAJOR_PROFILE,
    MINOR_PROFILE,
    key_name,
    note_density,
    parse_key,
    piece_key,
)

if TYPE_CHECKING:
    from musicgen.music.piece import Piece
    from musicgen.tokens.config import TokenizerConfig

Tokenizer = Any  # a musicgen.tokens.base.Tokenizer (which imports this module)

CONTROLS: dict[str, Control] = {}  # name -> the control, filled as controls are defined
DENSITY_NAMES = ("low", "medium", "high")


class Control:
    """One header control (see the module docstring). Subclasses set ``name`` by subclassing
    with ``name="..."`` and override what differs from these defaults."""

    name: ClassVar[str] = ""
    order: ClassVar[int] = 100  # place in the header (built-in controls first)
    checkable: ClassVar[bool] = True  # evaluate --controls measures it on samples
    help: ClassVar[str] = ""

    def __init_subclass__(cls, name: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if name:
            cls.name = name
            CONTROLS[name] = cls()

    @property
    def flag(self) -> str:
        return f"--{self.name}"

    def enabled(self, config: TokenizerConfig) -> bool:
        """Whether ``config`` turns the control on (a plugin: named in ``config.controls``)."""
        return self.name in config.controls

    def values(self, config: TokenizerConfig) -> np.ndarray:
        """The control's token values."""
        raise NotImplementedError

    def read(self, piece: Piece, config: TokenizerConfig) -> int | None:
        """The piece's value (None: it has none)."""
        raise NotImplementedError

    def parse(self, text: Any, config: TokenizerConfig) -> int:
        """The value a user asks for with ``text``; :class:`ConfigError` if it is not one."""
        values = [int(value) for value in self.values(config)]
        word = str(text).strip()
        if word.isdigit() and int(word) in values:
            return int(word)
        raise ConfigError(f"{self.flag} must be one of {', '.join(map(str, values))}, got {text!r}")

    def describe(self, value: int, config: TokenizerConfig) -> str:
        """The value as a user writes it."""
        return str(value)

    def transpose(self, value: int, shift: int) -> int:
        """The value of a piece transposed by ``shift`` semitones (most controls: unchanged)."""
        return value

    def bias(self, tokenizer: Tokenizer, value: int, strength: float) -> np.ndarray | None:
        """A logit bias over the vocabulary that pulls pitched tracks toward ``value`` (None: none)."""
        return None

    def choose(self, folder: Any) -> tuple[dict[str, Any], str] | None:
        """Tokenizer options that turn the control on for a folder (a ``FolderProfile``), with the
        reason; None leaves it off unless asked."""
        return None

    def annotate(self, piece: Piece, value: int) -> Piece:
        """A decoded piece, marked with what its header says (a key signature for a KEY)."""
        return piece


class StyleControl(Control, name="style"):
    """The piece's top folder among ``styles``."""

    order, checkable = 0, False

    def enabled(self, config: TokenizerConfig) -> bool:
        return bool(config.styles)

    def values(self, config: TokenizerConfig) -> np.ndarray:
        return np.arange(len(config.styles))

    def read(self, piece: Piece, config: TokenizerConfig) -> int | None:
        return config.styles.index(piece.style) if piece.style in config.styles else None

    def parse(self, text: Any, config: TokenizerConfig) -> int:
        if str(text) not in config.styles:
            raise ConfigError(f"unknown style {text!r}; the model knows: {', '.join(config.styles)}")
        return config.styles.index(str(text))

    def describe(self, value: int, config: TokenizerConfig) -> str:
        return config.styles[value]

    def choose(self, folder: Any) -> tuple[dict[str, Any], str] | None:
        styles = tuple(sorted(name for name, _ in folder.styles)) if len(folder.styles) >= 2 else ()
        return {"styles": styles}, (f"{len(styles)} top folders as STYLE controls" if styles else "one folder: no STYLE")


class KeyControl(Control, name="key"):
    """The Krumhansl-Schmuckler key, ``tonic + 12 * minor``; asking for one also guides the pitches."""

    order = 1

    def enabled(self, config: TokenizerConfig) -> bool:
        return bool(config.keys)

    def values(self, config: TokenizerConfig) -> np.ndarray:
        return np.arange(KEY_COUNT)

    def read(self, piece: Piece, config: TokenizerConfig) -> int | None:
        return piece_key(piece)

    def parse(self, text: Any, config: TokenizerConfig) -> int:
        return int(text) if isinstance(text, (int, np.integer)) else parse_key(str(text))

    def describe(self, value: int, config: TokenizerConfig) -> str:
        return key_name(value)

    def transpose(self, value: int, shift: int) -> int:
        return (value % 12 + shift) % 12 + 12 * (value // 12)

    def bias(self, tokenizer: Tokenizer, value: int, strength: float) -> np.ndarray | None:
        """``strength`` times the centred log of the key's Krumhansl-Kessler profile on each pitch
        token (the key estimator's weights), 0 elsewhere."""
        tonic, minor = value % 12, value // 12
        log_profile = np.log(MINOR_PROFILE if minor else MAJOR_PROFILE)
        log_profile -= log_profile.mean()
        bias = np.zeros(tokenizer.vocab_size, np.float32)
        pitch = tokenizer.roles.pitch
        bias[pitch] = strength * log_profile[(tokenizer.values[pitch] - tonic) % 12]
        return bias

    def choose(self, folder: Any) -> tuple[dict[str, Any], str] | None:
        return {"keys": True}, "a KEY control from each piece's Krumhansl-Schmuckler key"

    def annotate(self, piece: Piece, value: int) -> Piece:
        import dataclasses

        return piece if piece.key_signatures else dataclasses.replace(piece, key_signatures=((0.0, int(value)),))


class DensityControl(Control, name="density"):
    """The bin of the piece's notes per bar between ``density_edges``."""

    order = 2

    def enabled(self, config: TokenizerConfig) -> bool:
        return bool(config.density_edges)

    def values(self, config: TokenizerConfig) -> np.ndarray:
        return np.arange(len(config.density_edges) + 1)

    def read(self, piece: Piece, config: TokenizerConfig) -> int | None:
        if not len(piece.notes):
            return None
        return int(np.searchsorted(config.density_edges, note_density(piece), "right"))

    def parse(self, text: Any, config: TokenizerConfig) -> int:
        bins = len(config.density_edges) + 1
        word = str(text).strip().lower()
        if bins == len(DENSITY_NAMES) and word in DENSITY_NAMES:
            return DENSITY_NAMES.index(word)
        if word.isdigit() and int(word) < bins:
            return int(word)
        names = ", ".join(DENSITY_NAMES) if bins == len(DENSITY_NAMES) else f"0..{bins - 1}"
        raise ConfigError(f"--density must be one of {names}, got {text!r}")

    def describe(self, value: int, config: TokenizerConfig) -> str:
        return DENSITY_NAMES[value] if len(config.density_edges) + 1 == len(DENSITY_NAMES) else str(value)

    def choose(self, folder: Any) -> tuple[dict[str, Any], str] | None:
        edges = tuple(sorted({round(value, 1) for value in folder.densities}))
        edges = edges if len(edges) == 2 else ()
        return {"density_edges": edges}, ("DENSITY thirds of the pieces' notes per bar" if edges else
                                          "too few pieces for DENSITY thirds")


class TempoControl(Control, name="tempo"):
    """The bin of the piece's initial tempo between ``tempo_edges`` (the file's tempo is asked
    for anyway: a model without TEMPO tokens plays at it)."""

    order, checkable = 3, False

    def enabled(self, config: TokenizerConfig) -> bool:
        return bool(config.tempo_edges)

    def values(self, config: TokenizerConfig) -> np.ndarray:
        return np.arange(len(config.tempo_edges) + 1)

    def read(self, piece: Piece, config: TokenizerConfig) -> int | None:
        return int(np.searchsorted(config.tempo_edges, piece.tempo, "right"))

    def parse(self, text: Any, config: TokenizerConfig) -> int:
        return int(np.searchsorted(config.tempo_edges, float(text), "right"))

    def choose(self, folder: Any) -> tuple[dict[str, Any], str] | None:
        edges = tuple(sorted({round(value, 1) for value in folder.tempos}))
        edges = edges if len(edges) == 2 else ()
        return {"tempo_edges": edges}, ("TEMPO thirds of the pieces' tempi" if edges else "one tempo: no TEMPO control")


class HeaderControls:
    """What a :class:`~musicgen.tokens.base.Tokenizer` does with its header controls (it holds
    ``controls``, the active ones in header order, and ``control_of``, each id's control index)."""

    controls: tuple[Control, ...]
    control_of: np.ndarray
    _control_offsets: dict[str, int]

    @classmethod
    def choices(cls, folder: Any, performed: bool) -> list[tuple[str, Any, str]]:
        """Options this encoding takes for a folder (a ``FolderProfile``; ``performed``: its onsets
        are off the beat grid): ``(option, value, reason)``, each header control's choice included."""
        if not cls.takes_controls:
            return []
        chosen = []
        for control in sorted(CONTROLS.values(), key=lambda control: control.order):
            choice = control.choose(folder)
            if choice is not None:
                changes, reason = choice
                chosen.extend((name, value, reason) for name, value in changes.items())
        return chosen

    def control(self, name: str) -> Control:
        """The active control ``name``; :class:`ConfigError` if this tokenizer does not write it."""
        for control in self.controls:
            if control.name == name:
                return control
        raise ConfigError(f"no {name} control in this vocabulary")

    def control_id(self, name: str, value: Any) -> int:
        """The token of control ``name`` at ``value`` (a number, or text a user would write)."""
        control = self.control(name)
        number = control.parse(value, self.config) if not isinstance(value, (int, np.integer)) else int(value)
        values = list(control.values(self.config))
        if number not in values:
            raise ConfigError(f"{control.flag} {value!r} is not one of this model's values")
        return self._control_offsets[name] + values.index(number)

    def control_tokens(self, asked: dict[str, Any], source: str = "the checkpoint") -> list[int]:
        """The header tokens of the controls ``asked`` (name -> value or text; None: unset), in
        header order. A control the model was not trained with is a :class:`ConfigError` naming
        ``source``, except ``tempo``, which then only sets the file's tempo."""
        asked = {name: value for name, value in asked.items() if value is not None}
        names = {control.name for control in self.controls}
        missing = [name for name in asked if name not in names and name != "tempo"]
        if missing and not self.takes_controls:
            flags = ", ".join(f"--{name}" for name in missing)
            raise ConfigError(f"{source} uses the {self.encoding} encoding, which has no controls ({flags}); "
                              "train a model in the notes encoding to steer it")
        for name in missing:
            reason = ("its folder had one style" if name == "style" else f"it has no {name.upper()} tokens")
            raise ConfigError(f"{source} was trained without {name.upper()} controls ({reason}); leave out --{name}")
        return [self.control_id(control.name, asked[control.name]) for control in self.controls
                if control.name in asked]

    def read_controls(self, piece: Piece) -> list[int]:
        """The control tokens of ``piece``'s header, in order: each control's reading of it."""
        tokens = []
        for control in self.controls:
            value = control.read(piece, self.config)
            if value is not None:
                tokens.append(self.control_id(control.name, value))
        return tokens

    def header_controls(self, ids: Any) -> dict[str, int]:
        """The controls a sequence's header states: name -> value."""
        ids = np.asarray(ids).reshape(-1)
        ids = ids[(ids >= 0) & (ids < self.vocab_size)]
        found = {}
        for token in ids[self.control_of[ids] >= 0].tolist():
            found.setdefault(self.controls[int(self.control_of[token])].name, int(self.values[token]))
        return found


def active_controls(config: TokenizerConfig) -> tuple[Control, ...]:
    """The controls ``config`` turns on, in header order; a name it asks for that no control has
    is a :class:`ConfigError`."""
    unknown = [name for name in config.controls if name not in CONTROLS]
    if unknown:
        raise ConfigError(f"unknown control {unknown[0]!r}: this musicgen knows {', '.join(CONTROLS)}")
    return tuple(sorted((control for control in CONTROLS.values() if control.enabled(config)),
                        key=lambda control: control.order))
