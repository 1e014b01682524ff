"""A form: sections that return (``--form "A8 B8 A8"``), each section written once and repeated.

A new letter's bars are sampled after everything before them; a letter that returns is its
first appearance's bars again, note for note, with the share ``--variation`` of its last bars
written anew (a musician's varied ending), so bars 17-24 of ``A8 B8 A8`` repeat bars 1-8 exactly
at ``--variation 0``. Every section is sampled through the session's one compiled loop (the
prefix is its input), the chord plan keeps counting bars across sections, and the file marks
each section's first bar with its name (a marker a DAW shows on its timeline).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from musicgen.errors import ConfigError

if TYPE_CHECKING:
    from musicgen.generation.compose import Draft, Progress
    from musicgen.generation.options import GenerationOptions
    from musicgen.generation.results import Result
    from musicgen.generation.sampler import ModelSession

NAMED_FORMS = {
    "verse-chorus": "V8 C8 V8 C8 B8 C8",
    "aaba": "A8 A8 B8 A8",
    "binary": "A8 B8",
    "ternary": "A8 B8 A8",
    "rondo": "A8 B8 A8 C8 A8",
}
SECTION_NAMES = {"V": "Verse", "C": "Chorus", "B": "Bridge"}  # the names of verse-chorus's letters
_SECTION = re.compile(r"([A-Za-z][A-Za-z0-9']*?)(\d+)")


@dataclass(frozen=True)
class Section:
    """One section of a form: its letter (sections with one letter are the same music) and bars."""

    letter: str
    bars: int
    name: str


def parse_form(text: str) -> list[Section]:
    """``"A8 B8 A8"``, or a named form (:data:`NAMED_FORMS`), as sections."""
    named = text.strip().lower() in NAMED_FORMS
    words = NAMED_FORMS.get(text.strip().lower(), text).split()
    sections = []
    for word in words:
        match = _SECTION.fullmatch(word)
        if match is None or not 1 <= int(match.group(2)) <= 64:
            raise ConfigError(f"--form: cannot read {word!r}: write each section as a letter and its bars "
                              f"(1..64), e.g. 'A8 B8 A8', or one of {', '.join(NAMED_FORMS)}")
        letter = match.group(1).upper()
        # A bare letter is written "Section A": a marker "A" would read as a chord of A major.
        sections.append(Section(letter, int(match.group(2)), SECTION_NAMES.get(letter, letter) if named
                                else f"Section {letter}"))
    if not sections:
        raise ConfigError("--form names no section")
    for section in sections:
        first = next(other for other in sections if other.letter == section.letter)
        if first.bars != section.bars:
            raise ConfigError(f"--form: section {section.letter} returns with {section.bars} bars but first had "
                              f"{first.bars}; a returning section keeps its length")
    return sections


def compose_form(session: ModelSession, options: GenerationOptions, progress: Progress | None = None) -> Result:
    """The pieces of ``options.form`` (see the module docstring)."""
    from musicgen.generation.compose import draft

    options.validate()
    sections = parse_form(options.form)
    tokenizer = session.tokenizer
    if not tokenizer.editable:
        raise ConfigError(f"--form needs a model whose pieces are bars and tracks; this one uses the "
                          f"{tokenizer.encoding} encoding")
    work = draft(session, dataclasses.replace(options, form=None, bars=sections[0].bars))
    total = sum(section.bars for section in sections)
    if progress is not None:
        progress(f"sampling {options.num} piece{'s' if options.num != 1 else ''} in the form "
                 f"{' '.join(f'{s.letter}{s.bars}' for s in sections)} ({total} bars, seed {work.seed})...")
    rows, masses = [], []
    for index in range(options.num):
        row, mass = _one_piece(work, sections, work.seed + 7919 * index)
        rows.append(row)
        masses.append(mass)
    pieces = work.pieces(_padded(rows, tokenizer.pad_id))
    pieces = [_marked(piece, row, sections, tokenizer, work.tempo) for piece, row in zip(pieces, rows, strict=True)]
    return work.result(pieces, (float(np.mean(masses)), float(np.max(masses))))


def _one_piece(work: Draft, sections: list[Section], seed: int) -> tuple[np.ndarray, float]:
    """One piece's tokens, section after section, and the largest masked mass of its samplings."""
    tokenizer, layout = work.tokenizer, work.tokenizer.layout()
    tokens = np.asarray(work.limits["prefix"], np.int32)
    first_bar: dict[str, int] = {}
    done, mass = 0, 0.0  # bars written so far
    for number, section in enumerate(sections):
        fresh = section.bars
        if section.letter in first_bar:
            kept = section.bars - int(round(work.options.variation * section.bars))
            tokens = np.concatenate([_without_end(tokens, tokenizer),
                                     _copied(layout, tokenizer, tokens, first_bar[section.letter], kept)])
            fresh, done = section.bars - kept, done + kept
        else:
            first_bar[section.letter] = done
        if fresh:
            tokens, sampled_mass = _sampled(work, tokens, done, fresh, seed + number)
            mass, done = max(mass, sampled_mass), done + fresh
    return _ended(tokens, tokenizer), mass


def _sampled(work: Draft, tokens: np.ndarray, done: int, bars: int, seed: int) -> tuple[np.ndarray, float]:
    """``tokens`` followed by ``bars`` new bars (``done`` bars already written)."""
    tokenizer, options = work.tokenizer, work.options
    limits = dict(work.limits)
    if done:  # a bar opened here counts as the first new one
        limits["prefix"] = np.concatenate([_without_end(tokens, tokenizer), [tokenizer.layout().bar_id]]).astype(np.int32)
        limits["max_bars"] = bars - 1
    else:
        limits["max_bars"] = tokenizer.time_limits(tokens, bars, None, work.signature, work.tempo)[1]
    limits["length"] = len(limits["prefix"]) + options.token_length
    plans = tuple(plan.shifted(done) for plan in work.plans)
    result = work.sampler.sample(num=1, temperature=options.temperature, top_k=options.top_k, top_p=options.top_p,
                                 seed=seed, plans=plans, **limits)
    row = result.tokens[0]
    return row[: _length(row, tokenizer)], result.masked_mass_max


def _copied(layout: object, tokenizer: object, tokens: np.ndarray, first: int, count: int) -> np.ndarray:
    """The tokens of ``count`` bars from bar ``first`` of ``tokens`` (counted from the first bar),
    parts that repeat a bar before them written out, so they read the same anywhere."""
    _, _, bars = layout.parse(_without_end(tokens, tokenizer))
    bars = layout.written_out(bars, first)
    return np.asarray(layout.bars_alone(bars[first:first + count]), np.int32)


def _length(row: np.ndarray, tokenizer: object) -> int:
    """The tokens of a sampled row up to its EOS (PAD after it left out)."""
    ends = np.flatnonzero(row == tokenizer.eos_id)
    return int(ends[0]) + 1 if len(ends) else len(row)


def _without_end(tokens: np.ndarray, tokenizer: object) -> np.ndarray:
    return tokens[:-1] if len(tokens) and tokens[-1] == tokenizer.eos_id else tokens


def _ended(tokens: np.ndarray, tokenizer: object) -> np.ndarray:
    return np.concatenate([_without_end(tokens, tokenizer), [tokenizer.eos_id]]).astype(np.int32)


def _padded(rows: list[np.ndarray], pad: int) -> np.ndarray:
    out = np.full((len(rows), max(len(row) for row in rows)), pad, np.int32)
    for index, row in enumerate(rows):
        out[index, :len(row)] = row
    return out


def _marked(piece: object, row: np.ndarray, sections: list[Section], tokenizer: object, tempo: float) -> object:
    """``piece`` with a marker at each section's first bar, naming it."""
    lines = tokenizer.bar_lines(row, tempo)
    markers, bar = [], 0
    for section in sections:
        if bar < len(lines):
            markers.append((float(lines[bar]), section.name))
        bar += section.bars
    return dataclasses.replace(piece, markers=tuple(markers))
