"""The page's controls, read off the option dataclasses the command line reads (no Gradio here).

An option is declared once, with :func:`musicgen.options.option`: its default, its help and its
flag. The command line turns each field into a flag (:func:`musicgen.options.add_options`); the
studio turns the same field into a widget description, a :class:`Control`, and turns what the
page sends back into the same dataclass (:func:`options_from`) and into the command that makes
the same piece (:func:`command_line`). A field added to :class:`GenerationOptions` (chords, form)
therefore appears on the page, with its help, and in the equivalent command, with no edit here.
"""

from __future__ import annotations

import dataclasses
import shlex
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from musicgen.errors import ConfigError
from musicgen.generation.options import (
    AccompanyOptions,
    GenerationOptions,
    InfillOptions,
    SamplingOptions,
)
from musicgen.options import describe_default

# Fields the page decides itself: where files go, that it draws and renders every piece, the
# file a continuation starts from (the upload), and the soundfont (``musicgen studio --soundfont``).
PAGE_OWNED = frozenset({"out_dir", "plot", "wav", "soundfont", "primer"})
SAMPLING = tuple(field.name for field in dataclasses.fields(SamplingOptions) if field.name not in PAGE_OWNED)
# The controls a musician reaches for, shown first in this order (a name not declared is skipped,
# so ``chords`` and ``form`` appear here once GenerationOptions declares them); the other fields
# of GenerationOptions follow under "More options".
FIRST = ("style", "instruments", "key", "density", "chords", "form", "tempo", "bars", "num")
CONTINUE = ("primer_bars",)  # what only a continuation of a file takes
# Values the page starts with where the command line's default does not suit a page: a piece of
# eight bars (the command line's default is a token count).
PAGE_DEFAULTS: Mapping[str, Any] = {"bars": 8.0}
COMMANDS = {GenerationOptions: "generate", InfillOptions: "infill", AccompanyOptions: "accompany"}


@dataclass(frozen=True)
class Control:
    """One option as a widget: the field's name, flag, help and default, and the widget kind
    (``check``, ``integer``, ``number``, ``choice`` or ``text``)."""

    name: str
    flag: str
    help: str
    kind: str
    default: Any
    choices: tuple[Any, ...] = ()
    required: bool = False
    default_text: str = ""  # the default in words, as ``--help`` prints it
    optional: bool = False  # None is a value: left empty, the option does what it does unset

    @property
    def label(self) -> str:
        """``--top-p`` reads ``top p``: the flag a command-line user knows, without its dashes."""
        return self.flag.lstrip("-").replace("-", " ")

    @property
    def info(self) -> str:
        """The help text with the default in words, as ``--help`` prints it (and the command line's
        default where the page starts elsewhere)."""
        if self.required:
            return self.help
        if self.name in PAGE_DEFAULTS:
            return f"{self.help} (the command line's default: {self.default_text})"
        return f"{self.help} (default: {self.default_text})"


def _plain_type(annotation: Any) -> Any:
    """``int | None`` -> ``int``; other annotations unchanged."""
    arguments = [argument for argument in typing.get_args(annotation) if argument is not type(None)]
    return arguments[0] if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(
        arguments) == 1 else annotation


def _kind(annotation: Any, choices: tuple[Any, ...]) -> str:
    base = _plain_type(annotation)
    if choices:
        return "choice"
    if base is bool:
        return "check"
    if base is int:
        return "integer"
    if base is float:
        return "number"
    return "text"


def controls_of(cls: type, names: Iterable[str] | None = None, exclude: Iterable[str] = ()) -> list[Control]:
    """One :class:`Control` per option field of ``cls``: those in ``names`` (in that order, names
    ``cls`` lacks skipped), else every field; never those in ``exclude`` or :data:`PAGE_OWNED`."""
    fields = {field.name: field for field in dataclasses.fields(cls) if "help" in field.metadata}
    hints = typing.get_type_hints(cls)
    skipped = PAGE_OWNED | set(exclude)
    chosen = [name for name in (names if names is not None else fields) if name in fields and name not in skipped]
    controls = []
    for name in chosen:
        field, meta = fields[name], fields[name].metadata
        choices = meta["choices"]() if callable(meta["choices"]) else meta["choices"]
        controls.append(Control(name, meta["flag"] or f"--{name.replace('_', '-')}", meta["help"],
                                _kind(hints[name], tuple(choices or ())), PAGE_DEFAULTS.get(name, field.default),
                                tuple(choices or ()), bool(meta.get("required")), describe_default(field),
                                _plain_type(hints[name]) is not hints[name]))
    return controls


def generation_controls() -> tuple[list[Control], list[Control]]:
    """The controls of a new piece: the first ones (:data:`FIRST`) and the rest of
    :class:`GenerationOptions` (sampling and continuation options are elsewhere on the page)."""
    first = controls_of(GenerationOptions, FIRST, exclude=SAMPLING)
    placed = {control.name for control in first}
    rest = controls_of(GenerationOptions, exclude=(*SAMPLING, *CONTINUE, *placed))
    return first, rest


def _value(control: Control, value: Any, annotation: Any) -> Any:
    """A widget's value as the field's type: empty means None (the option's default behaviour)."""
    if isinstance(value, str):
        value = value.strip()
    if value is None or value == "":
        return None
    base = _plain_type(annotation)
    try:
        if base is int and not isinstance(value, bool):
            number = float(value)
            if number != int(number):
                raise ValueError(value)
            return int(number)
        if base is float:
            return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{control.flag} must be {'an integer' if base is int else 'a number'}, "
                          f"got {value!r}") from None
    return bool(value) if base is bool else value


def options_from(cls: type, values: Mapping[str, Any], **fixed: Any) -> Any:
    """``cls`` (an options dataclass) from the page's widget values (field name -> value) and
    the page's own ``fixed`` fields, checked as the command line checks it."""
    hints = typing.get_type_hints(cls)
    names = {field.name for field in dataclasses.fields(cls)}
    given: dict[str, Any] = {}
    defaults = {field.name: field.default for field in dataclasses.fields(cls)}
    for control in controls_of(cls, [name for name in values if name in names]):
        value = _value(control, values[control.name], hints[control.name])
        given[control.name] = defaults[control.name] if value is None else value  # empty: the option's default
    if given.get("form") and given.get("bars") == PAGE_DEFAULTS.get("bars"):
        given["bars"] = None  # a form sets the bars; the page's own default gives way to it
    options = cls(**{**given, **fixed})
    options.validate()
    return options


def command_line(options: Any, checkpoint: str | None = None, file: str | None = None, seed: int | None = None) -> str:
    """The ``musicgen`` command that makes the same piece: the command of ``options``' class, the
    ``file`` it edits, the checkpoint (left out for the base model), every option that differs
    from its default, and ``seed`` (the seed that was used) in place of a random one."""
    cls = type(options)
    command = COMMANDS.get(cls, "generate")
    words = ["musicgen", command]
    if file is not None and cls is not GenerationOptions:
        words.append(file)
    if checkpoint is not None:
        words += ["--checkpoint", str(checkpoint)]
    if seed is not None:
        options = dataclasses.replace(options, seed=seed)
    for field in dataclasses.fields(cls):
        if "help" not in field.metadata or field.name in PAGE_OWNED - {"primer"}:
            continue
        value = getattr(options, field.name)
        if value == field.default and not field.metadata.get("required"):
            continue
        flag = field.metadata["flag"] or f"--{field.name.replace('_', '-')}"
        if isinstance(value, bool):
            words.append(flag if value else f"--no-{flag[2:]}")
        elif value is not None:
            words += [flag, shown(value)]
    return shlex.join(words)


def shown(value: Any) -> str:
    """A value as its flag takes it: ``8`` for 8.0, ``0.95``, ``piano,bass`` for a tuple."""
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)
