"""Text utilities shared by the text demos: reading data files, normalisation, splits.

The demo data sets are plain UTF-8 text with a few traps (see each ``SOURCE.md``):
C1 control characters left over from a cp1252 mis-decoding, U+0085 (NEXT LINE),
which ``str.splitlines`` treats as a line break, stray spaces before a TAB, and
double quotes that csv readers take for quoting. The readers here split on
``'\\n'`` and TAB only and never interpret quotes.

Pure Python: no TensorFlow import.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TypeVar

from musicgen.data.splits import DEFAULT_FRACTIONS, SPLIT_NAMES, check_fractions, split_of
from musicgen.errors import DataError

Item = TypeVar("Item")

_WHITESPACE = re.compile(r"\s+")


def read_text(path: str | os.PathLike) -> str:
    """The whole file as text, decoded as strict UTF-8 (a leading BOM is dropped).

    Raises ``DataError`` naming the file for a missing file or bytes that are not UTF-8.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, expected a text file") from None
    except OSError as error:
        raise DataError(f"{path}: cannot read: {error.strerror or error}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise DataError(f"{path}: line {line}: not valid UTF-8 ({error.reason})") from None
    return text.removeprefix("\ufeff")


def read_lines(path: str | os.PathLike) -> list[str]:
    """The file's lines, split on ``'\\n'`` only (not on U+0085 or other Unicode breaks).

    A final newline does not make an extra empty line; a ``'\\r'`` before ``'\\n'`` is
    removed so CRLF files read the same as LF files.
    """
    text = read_text(path)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def read_tab_separated(
    path: str | os.PathLike, columns: int, from_right: bool = False, skip_blank: bool = True
) -> list[tuple[str, ...]]:
    """Rows of a TAB-separated file with exactly ``columns`` fields, quotes taken literally.

    With ``from_right`` the line is split on its last ``columns - 1`` TABs, so the first
    field may itself hold a TAB (useful when only the trailing fields are structured,
    like a label). Blank lines are skipped unless ``skip_blank`` is false. A line with
    the wrong number of fields raises ``DataError`` with the file and line number.
    """
    if columns < 1:
        raise ValueError(f"columns must be at least 1, got {columns}")
    rows = []
    for number, line in enumerate(read_lines(path), start=1):
        if skip_blank and not line.strip():
            continue
        fields = line.rsplit("\t", columns - 1) if from_right else line.split("\t")
        if len(fields) != columns:
            raise DataError(
                f"{path}: line {number}: expected {columns} TAB-separated fields, found {len(fields)}"
            )
        rows.append(tuple(fields))
    return rows


def repair_c1_controls(text: str) -> str:
    """Replace C1 control characters (U+0080..U+009F) by the cp1252 characters they stand for.

    Text that was decoded as Latin-1 although it was cp1252 carries these controls in
    place of punctuation: U+0085 for an ellipsis, U+0096/U+0097 for dashes. Controls
    with no cp1252 meaning become a space.
    """
    if not any("\x80" <= character <= "\x9f" for character in text):
        return text
    return "".join(_repair_character(character) for character in text)


def _repair_character(character: str) -> str:
    if not "\x80" <= character <= "\x9f":
        return character
    try:
        return bytes([ord(character)]).decode("cp1252")
    except UnicodeDecodeError:
        return " "


def normalize_text(text: str) -> str:
    """Repair C1 controls, apply Unicode NFC, collapse runs of whitespace, strip the ends.

    Case and punctuation are kept: what to drop is a model's decision, not the reader's.
    """
    text = unicodedata.normalize("NFC", repair_c1_controls(text))
    return _WHITESPACE.sub(" ", text).strip()


def split_key(text: str) -> str:
    """The key a sentence is split by: normalised and case-folded.

    Sentences that differ only in case or spacing get the same key, so they always land in
    the same split and a near-duplicate cannot leak from training into test.
    """
    return normalize_text(text).casefold()


def split_items(
    items: Iterable[Item],
    key: Callable[[Item], str],
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    salt: str = "",
) -> dict[str, list[Item]]:
    """Partition ``items`` into ``train``, ``validation`` and ``test`` by a stable hash of ``key(item)``.

    Order within each split follows the input order. The assignment depends only on the
    key, the fractions and the salt (see :mod:`musicgen.data.splits`), never on the other items.
    """
    check_fractions(fractions)
    result: dict[str, list[Item]] = {name: [] for name in SPLIT_NAMES}
    for item in items:
        result[split_of(key(item), fractions, salt)].append(item)
    return result
