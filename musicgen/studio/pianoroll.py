"""The page's piano roll: the command line's drawing, with bar numbers, chords and sections on it.

:func:`musicgen.music.render.draw_piano_roll` draws the notes of a written file (one colour per
track, named in the legend), a line at every bar and the edited bars shaded. A musician finds
their way by bar numbers, chord symbols and section names, so :func:`write_roll` adds them: bar
numbers along the top, each chord change along the bottom (from the piece's ``chords``), and each
section marker (the piece's ``markers``) as a dashed line with its name. It draws on a
:class:`matplotlib.figure.Figure` of its own, not through ``pyplot``'s global state, so two
requests can draw at once.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from musicgen import fileio
from musicgen.music import midi_io, render
from musicgen.music.chords import chord_name

if TYPE_CHECKING:
    from musicgen.music.piece import Piece

MAX_BAR_LABELS = 32  # beyond this many bars, every n-th bar is numbered
MAX_CHORD_LABELS = 64  # beyond this many chord changes, chords are left off (they would overlap)


def file_seconds(piece: Piece, beats: Any) -> list[float]:
    """The piece's ``beats`` as seconds of the file it was written to: a reader's lead-in
    (:attr:`Piece.lead_in`) is silence the file does not have."""
    offset = float(piece.seconds(piece.lead_in))
    return [float(second) - offset for second in piece.seconds(list(beats))] if len(beats) else []


def _number_bars(axes: Any, downbeats: list[float]) -> None:
    """Bar numbers (from 1, as ``--bars`` counts) along the top of ``axes``."""
    step = max(1, -(-len(downbeats) // MAX_BAR_LABELS))
    top = axes.twiny()
    top.set_xlim(axes.get_xlim())
    shown = list(range(0, len(downbeats), step))
    top.set_xticks([downbeats[index] for index in shown], labels=[str(index + 1) for index in shown])
    top.tick_params(axis="x", labelsize=7, length=2, pad=1)
    top.set_xlabel("bar", fontsize=8, labelpad=2)


def _mark_chords(axes: Any, piece: Piece) -> None:
    """Each chord change's name at the bottom of ``axes`` (N.C. where the chords stop)."""
    if not piece.chords or len(piece.chords) > MAX_CHORD_LABELS:
        return
    low, high = axes.get_ylim()
    axes.set_ylim(low - 0.1 * (high - low), high)  # a lane below the lowest note
    times = file_seconds(piece, [beat for beat, _ in piece.chords])
    for second, (_, chord) in zip(times, piece.chords, strict=True):
        axes.text(second, 0.01, f" {chord_name(chord)}", transform=axes.get_xaxis_transform(), fontsize=8,
                  ha="left", va="bottom", color="navy", clip_on=True)


def _mark_sections(axes: Any, piece: Piece) -> None:
    """Each section marker as a dashed line with its name at the top of ``axes``."""
    if not piece.markers:
        return
    low, high = axes.get_ylim()
    axes.set_ylim(low, high + 0.1 * (high - low))  # a lane above the highest note
    times = file_seconds(piece, [beat for beat, _ in piece.markers])
    for second, (_, text) in zip(times, piece.markers, strict=True):
        axes.axvline(second, color="0.35", linestyle="--", linewidth=0.9, zorder=2)
        axes.text(second, 0.99, f" {text}", transform=axes.get_xaxis_transform(), fontsize=8, fontweight="bold",
                  ha="left", va="top", color="0.15", clip_on=True)


def roll_figure(midi_path: str | os.PathLike, piece: Piece | None, region: tuple[int, int] | None = None) -> Any:
    """The piano roll of the MIDI file ``midi_path`` as a matplotlib ``Figure``: notes by track,
    bar lines and numbers, ``region`` (first and last bar, from 1) shaded, and ``piece``'s chords
    and section markers when it has them (``piece`` is the piece the file was written from)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    pm = midi_io.load_midi(midi_path)
    figure = Figure(figsize=(12, 4.4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    render.draw_piano_roll(axes, pm, region)
    axes.set_xlabel("time (s)")
    downbeats = [float(time) for time in pm.get_downbeats()]
    if downbeats:
        _number_bars(axes, downbeats)
    if piece is not None:
        _mark_chords(axes, piece)
        _mark_sections(axes, piece)
    figure.tight_layout()
    return figure


def write_roll(midi_path: str | os.PathLike, piece: Piece | None, path: str | os.PathLike,
               region: tuple[int, int] | None = None) -> Path:
    """Draw :func:`roll_figure` as a PNG at ``path``."""
    figure = roll_figure(midi_path, piece, region)
    path = Path(path)
    with fileio.atomic_path(path) as temporary:
        figure.savefig(temporary, format="png")
    return path
