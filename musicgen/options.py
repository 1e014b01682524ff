"""Options declared once: a dataclass field carries its default, its help and its flag.

musicgen's configurations (:class:`musicgen.tokens.TokenizerConfig`,
:class:`musicgen.training.loop.TrainConfig`, :class:`musicgen.generation.compose.GenerationOptions`)
declare every option with :func:`option`; the command line builds its arguments from
those fields with :func:`add_options`, so a default or a help text is written in one
place. :func:`from_dict` reads a saved record: unknown keys are an error, and a key a
record made by an older musicgen lacks takes the field's ``absent`` value (the behaviour
that version had), or else its default. Adding a field is then one line.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Iterable
from typing import Any

from musicgen.errors import ConfigError

_NO_VALUE = object()
AUTO = "auto"


def option(
    default: Any,
    help: str,
    *,
    flag: str | None = None,
    choices: Iterable[Any] | None = None,
    metavar: str | None = None,
    absent: Any = _NO_VALUE,
    default_text: str | None = None,
    auto: bool = False,
    required: bool = False,
) -> Any:
    """A dataclass field with its command-line help.

    ``flag`` overrides the option name (default ``--field-name``); ``choices`` may be a
    function returning them (asked when the parser is built, e.g. the registered
    encodings); ``absent`` is the value
    a saved record that predates the field means; ``default_text`` replaces the printed
    default (for defaults such as ``None`` that mean something in words); ``auto`` lets
    the command line say ``auto`` (the value is then chosen for the data; see
    :func:`add_options`); ``required`` makes the flag required on the command line (the
    default is then what the library does without it: usually a one-line error).
    """
    if choices is not None and not callable(choices):
        choices = tuple(choices)
    metadata = {"help": help, "flag": flag, "choices": choices or None,
                "metavar": metavar, "absent": absent, "default_text": default_text, "auto": auto,
                "required": required}
    if isinstance(default, (list, dict, set)):
        raise TypeError("use an immutable default (a tuple) for an option")
    return dataclasses.field(default=default, metadata=metadata)


def _base_type(annotation: Any) -> Any:
    """``int | None`` -> ``int``; other annotations unchanged."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        arguments = [argument for argument in typing.get_args(annotation) if argument is not type(None)]
        if len(arguments) == 1:
            return arguments[0]
    return annotation


def _parser_for(annotation: Any, name: str) -> Any:
    base = _base_type(annotation)
    if typing.get_origin(base) is tuple:
        item = typing.get_args(base)[0] if typing.get_args(base) else str

        def parse(text: str) -> tuple:
            try:
                return tuple(item(part) for part in text.split(",") if part.strip())
            except ValueError as error:
                raise argparse.ArgumentTypeError(f"--{name.replace('_', '-')}: {error}") from error

        return parse
    return base if base in (int, float, str) else str


def _or_auto(parse: Any) -> Any:
    def parse_or_auto(text: str) -> Any:
        return AUTO if text == AUTO else parse(text)

    parse_or_auto.__name__ = getattr(parse, "__name__", "value")
    return parse_or_auto


def describe_default(field: dataclasses.Field) -> str:
    """How a field's default reads in ``--help``."""
    text = field.metadata.get("default_text")
    if text is not None:
        return text
    value = field.default
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return ",".join(str(part) for part in value) or "none"
    return "none" if value is None else str(value)


def add_options(
    parser: Any, cls: type, names: Iterable[str] | None = None, *, with_defaults: bool = True,
    auto: bool = False,
) -> None:
    """Add one argument per option field of ``cls`` (all of them, or ``names``) to ``parser``.

    With ``with_defaults`` the parsed value is the field's default when the flag is not
    given; without, it is ``None`` (so a caller can tell given options apart, e.g. to
    merge them into a saved configuration). The help always shows the field's default.
    With ``auto``, the fields declared ``auto`` also accept ``auto`` (their default),
    which :func:`given` leaves out: the caller chooses those values for the data.
    """
    fields = {field.name: field for field in dataclasses.fields(cls) if "help" in field.metadata}
    hints = typing.get_type_hints(cls)
    for name in names if names is not None else list(fields):
        if name not in fields:
            raise KeyError(f"{cls.__name__} has no option {name!r}")
        field = fields[name]
        meta = field.metadata
        flag = meta["flag"] or f"--{name.replace('_', '-')}"
        keywords: dict[str, Any] = {"dest": name, "default": field.default if with_defaults else None}
        help_text = f"{meta['help']} ({'required' if meta.get('required') else 'default: ' + describe_default(field)})"
        choices = meta["choices"]() if callable(meta["choices"]) else meta["choices"]
        if auto and meta.get("auto"):
            help_text = f"{meta['help']} (default: auto, chosen from the folder's profile)"
            choices = (AUTO, *choices) if choices else None
            keywords["default"] = AUTO
        if meta.get("required"):
            keywords["required"] = True
        if _base_type(hints[name]) is bool:
            keywords["action"] = argparse.BooleanOptionalAction
        else:
            parse = _parser_for(hints[name], name)
            if keywords["default"] == AUTO and not choices:
                parse = _or_auto(parse)
            keywords["type"] = parse
            if choices:
                keywords["choices"] = choices
            if meta["metavar"]:
                keywords["metavar"] = meta["metavar"]
        parser.add_argument(flag, help=help_text.replace("%", "%%"), **keywords)


def given(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The options of ``cls`` that ``args`` holds a value for (not ``None``, not ``auto``)."""
    names = {field.name for field in dataclasses.fields(cls)}
    return {name: value for name, value in vars(args).items() if name in names and value not in (None, AUTO)}


def from_dict(cls: type, values: dict[str, Any], what: str, legacy: Iterable[str] = ()) -> Any:
    """Build ``cls`` from a saved record: unknown keys are a :class:`ConfigError`.

    A missing key takes the field's ``absent`` value when it has one (a record from before
    the field existed), else its default. Keys in ``legacy`` are accepted and dropped.
    """
    if not isinstance(values, dict):
        raise ConfigError(f"{what} must be a JSON object, got {type(values).__name__}")
    fields = {field.name: field for field in dataclasses.fields(cls)}
    values = {key: value for key, value in values.items() if key not in set(legacy)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"unknown {what} keys: {', '.join(unknown)}")
    hints = typing.get_type_hints(cls)
    complete = {}
    for name, field in fields.items():
        if name in values:
            value = values[name]
            if typing.get_origin(_base_type(hints[name])) is tuple and isinstance(value, list):
                value = tuple(value)
            complete[name] = value
        elif field.metadata.get("absent", _NO_VALUE) is not _NO_VALUE:
            complete[name] = field.metadata["absent"]
    return cls(**complete)


def to_dict(config: Any) -> dict[str, Any]:
    """A configuration dataclass as a plain JSON-able dict (tuples become lists)."""
    return {
        name: list(value) if isinstance(value, tuple) else value
        for name, value in dataclasses.asdict(config).items()
    }
