"""Every tokenizer option, the token kinds, and the registry of encodings.

:class:`TokenizerConfig` holds every tokenizer option of every encoding, with its default,
in one place; it is saved beside every model and cache as one JSON record
(:meth:`TokenizerConfig.to_dict`). :class:`Kind` classifies token ids
(:attr:`musicgen.tokens.base.Tokenizer.kinds`). :data:`ENCODINGS` maps each registered
encoding's name to its class: an encoding registers itself by subclassing
:class:`musicgen.tokens.base.Tokenizer` with ``encoding="name"``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from musicgen import options
from musicgen.errors import ConfigError
from musicgen.music.midi_io import MAX_TEMPO


class Kind(enum.IntEnum):
    """The class of a token id (see :attr:`Tokenizer.kinds`)."""

    PAD = 0
    BOS = 1
    EOS = 2
    NOTE_ON = 3
    NOTE_OFF = 4
    TIME_SHIFT = 5
    VELOCITY = 6
    PROGRAM = 7
    PEDAL_ON = 8
    PEDAL_OFF = 9
    BAR = 10
    TIME_SIGNATURE = 11
    TRACK = 12
    POSITION = 13
    PITCH = 14
    DURATION = 15
    CONTROL = 16  # a header control's value (which control: Tokenizer.control_of)
    FILL = 20
    FILL_START = 21
    FILL_END = 22
    FRAME_END = 23
    CHORD = 24  # a chord symbol of a bar's harmony: root and quality, or no chord
    REPEAT = 25  # a track's part of a bar: the same as its part N bars back


ENCODINGS: dict[str, Any] = {}  # name -> Tokenizer subclass, filled as encodings are defined
TIMINGS = ("beats", "seconds")
PEDALS = ("extend", "events", "ignore")


@dataclass(frozen=True)
class TokenizerConfig:
    """Every tokenizer option, in one place; saved beside a model and a cache as JSON."""

    encoding: str = options.option(
        "notes", "token encoding: 'notes' (each note with its track, pitch, velocity and duration, placed by "
        "bar and position) or 'events' (note-on/off and time shifts)", choices=lambda: tuple(ENCODINGS), absent="events",
        auto=True,
    )
    timing: str = options.option(
        "beats", "time grid: 'beats' (steps of a quarter note, for scores and quantised MIDI) or 'seconds' "
        "(absolute steps, for recorded performances)", choices=TIMINGS, absent="beats", auto=True,
    )
    steps_per_quarter: int = options.option(12, "time steps per quarter note (beats timing)", metavar="N")
    steps_per_second: int = options.option(100, "time steps per second (seconds timing)", metavar="N", absent=100)
    pedal: str = options.option(
        "extend", "sustain pedal: 'extend' the notes it holds, keep it as pedal 'events', or 'ignore' it",
        choices=PEDALS, absent="ignore", auto=True,
    )
    max_tracks: int = options.option(16, "most tracks a piece keeps (notes encoding)", metavar="N", absent=16)
    bar_seconds: float = options.option(2.0, "length of a bar in seconds timing (notes encoding)", absent=2.0)
    keys: bool = options.option(False, "a KEY token per piece, its Krumhansl-Schmuckler key (notes encoding)",
                                absent=False)
    density_edges: tuple[float, ...] = options.option(
        (), "notes per bar that divide the DENSITY bins (notes encoding)", metavar="LOW,HIGH", absent=(),
        default_text="none: no DENSITY token",
    )
    tempo_edges: tuple[float, ...] = options.option(
        (), "quarter notes per minute that divide the TEMPO bins (notes encoding)", metavar="SLOW,FAST", absent=(),
        default_text="none: no TEMPO token",
    )
    styles: tuple[str, ...] = options.option(
        (), "style names, one STYLE token each: a piece's style is its top folder (notes encoding)",
        metavar="NAME,NAME", absent=(), default_text="none: no STYLE token",
    )
    controls: tuple[str, ...] = options.option(
        (), "further header controls, by name (controls defined beyond style, key, density and tempo)",
        metavar="NAME,NAME", absent=(), default_text="none",
    )
    chords: bool = options.option(
        False, "each bar opens with its chords: the chord at its downbeat and each change, by position (notes "
        "encoding)", absent=False,
    )
    repeats: tuple[int, ...] = options.option(
        (), "REPEAT(n) tokens: a track's part of a bar that is the same as its part n bars back (notes encoding)",
        metavar="N,N", absent=(), default_text="none",
    )
    max_shift_steps: int = options.option(48, "longest single time shift, in steps (events encoding)", metavar="N")
    velocity_bins: int = options.option(
        32, "velocity bins (1: every note the same, for scores)", metavar="N", auto=True
    )
    min_pitch: int = options.option(21, "lowest pitch kept (MIDI number)", metavar="PITCH")
    max_pitch: int = options.option(108, "highest pitch kept (MIDI number)", metavar="PITCH")
    use_programs: bool = options.option(
        True, "keep each track's General MIDI program (--no-programs merges pitched tracks into program 0)",
        flag="--programs",
    )
    use_drums: bool = options.option(True, "keep drum tracks (--no-drums drops them)", flag="--drums")
    default_tempo: float = options.option(120.0, "tempo written when a piece gives none (quarter notes per minute)")

    def __post_init__(self) -> None:
        for name in ("density_edges", "tempo_edges", "styles", "controls", "repeats"):  # lists from JSON become tuples: hashable
            object.__setattr__(self, name, tuple(getattr(self, name)))
        checks = [
            (self.encoding in ENCODINGS, f"encoding must be one of {', '.join(ENCODINGS)}"),
            (self.timing in TIMINGS, f"timing must be one of {', '.join(TIMINGS)}"),
            (self.pedal in PEDALS, f"pedal must be one of {', '.join(PEDALS)}"),
            (1 <= self.steps_per_quarter <= 960, "steps_per_quarter must be in 1..960"),
            (1 <= self.steps_per_second <= 1000, "steps_per_second must be in 1..1000"),
            (1 <= self.max_tracks <= 64, "max_tracks must be in 1..64"),
            (0.25 <= self.bar_seconds <= 16 and self.bar_seconds * self.steps_per_second <= 2000,
             "bar_seconds must be in 0.25..16 with at most 2000 steps per bar"),
            (list(self.density_edges) == sorted(set(self.density_edges)), "density_edges must increase"),
            (list(self.tempo_edges) == sorted(set(self.tempo_edges)), "tempo_edges must increase"),
            (len(set(self.styles)) == len(self.styles), "styles must be distinct"),
            (list(self.repeats) == sorted(set(self.repeats)) and all(0 < n <= 16 for n in self.repeats),
             "repeats must be distinct bar counts in 1..16, increasing"),
            (1 <= self.max_shift_steps <= 100_000, "max_shift_steps must be in 1..100000"),
            (1 <= self.velocity_bins <= 128, "velocity_bins must be in 1..128"),
            (0 <= self.min_pitch <= self.max_pitch <= 127, "need 0 <= min_pitch <= max_pitch <= 127"),
            (0 < float(self.default_tempo) < MAX_TEMPO, f"default_tempo must be in (0, {MAX_TEMPO:g}) qpm"),
        ]
        for ok, message in checks:
            if not ok:
                if self.encoding not in ENCODINGS and isinstance(self.encoding, str):
                    raise ConfigError(
                        f"unknown token encoding {self.encoding!r}: this musicgen knows {', '.join(ENCODINGS)} "
                        "(the checkpoint or cache was made by a newer or different musicgen)"
                    )
                raise ConfigError(f"bad tokenizer config: {message} ({self})")

    def to_dict(self) -> dict[str, Any]:
        """The one serialisation: a plain JSON-able dict of every option."""
        return options.to_dict(self)

    @property
    def steps_per_unit(self) -> int:
        """Grid steps per beat (beats timing) or per second (seconds timing)."""
        return self.steps_per_quarter if self.timing == "beats" else self.steps_per_second

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TokenizerConfig:
        """Inverse of :meth:`to_dict`; also reads records of older musicgen versions."""
        # "tokenizer": "musicgen-events-v1" tagged the tokenizer.json files of version 0.1.
        return options.from_dict(cls, values, "tokenizer config", legacy=("tokenizer",))
