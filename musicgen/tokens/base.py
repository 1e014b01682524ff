"""What every encoding shares: the configuration, the token kinds and the vocabulary table.

:class:`TokenizerConfig` holds every tokenizer option of every encoding, with its default,
in one place; it is saved beside every model and cache as one JSON record
(:meth:`TokenizerConfig.to_dict`). :class:`Tokenizer` is the base class of the encodings
(one module each in :mod:`musicgen.tokens`): ``Tokenizer(config)`` returns the
encoding's subclass, built once per process and configuration. An encoding declares its
vocabulary as a list of sections ``(Kind, values)``; the base turns it into the id tables
(:attr:`Tokenizer.kinds`, :attr:`Tokenizer.values`) that encoding, decoding, the grammar
and the sampler all read, so one table drives both directions.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from musicgen import options
from musicgen.errors import ConfigError
from musicgen.music.instruments import DEFAULT_PROGRAM
from musicgen.music.midi_io import MAX_TEMPO
from musicgen.music.piece import Piece, Track


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
    STYLE = 16
    KEY = 17
    DENSITY = 18
    TEMPO = 19
    FILL = 20
    FILL_START = 21
    FILL_END = 22


CONTROL_KINDS = (Kind.STYLE, Kind.KEY, Kind.DENSITY, Kind.TEMPO)  # in header order

ENCODINGS = ("notes", "events")
TIMINGS = ("beats", "seconds")
PEDALS = ("extend", "events", "ignore")


@dataclass(frozen=True)
class TokenizerConfig:
    """Every tokenizer option, in one place; saved beside a model and a cache as JSON."""

    encoding: str = options.option(
        "notes", "token encoding: 'notes' (each note with its track, pitch, velocity and duration, placed by "
        "bar and position) or 'events' (note-on/off and time shifts)", choices=ENCODINGS, absent="events",
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
        for name in ("density_edges", "tempo_edges", "styles"):  # lists from JSON become tuples: hashable
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


class Tokenizer:
    """Base class of the encodings: ``Tokenizer(config)`` gives the config's encoding.

    Tokenizers are immutable, so one is built per configuration and process and then
    shared. Subclasses name their encoding (``class EventTokenizer(Tokenizer,
    encoding="events")``) and implement :meth:`sections`, :meth:`encode_notes`,
    :meth:`decode_notes` and :meth:`decode`.
    """

    pad_id = 0
    bos_id = 1
    eos_id = 2
    encoding: ClassVar[str] = ""
    _registry: ClassVar[dict[str, type[Tokenizer]]] = {}
    _instances: ClassVar[dict[TokenizerConfig, Tokenizer]] = {}

    def __init_subclass__(cls, encoding: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if encoding:
            cls.encoding = encoding
            Tokenizer._registry[encoding] = cls

    def __new__(cls, config: TokenizerConfig | None = None) -> Tokenizer:
        config = TokenizerConfig() if config is None else config
        if not isinstance(config, TokenizerConfig):
            raise ConfigError(f"a tokenizer needs a TokenizerConfig, got {type(config).__name__}")
        cached = Tokenizer._instances.get(config)
        if cached is not None:
            return cached
        if config.encoding not in Tokenizer._registry:
            raise ConfigError(f"the {config.encoding!r} encoding is not loaded; import musicgen.tokens")
        instance = super().__new__(Tokenizer._registry[config.encoding])
        instance._setup(config)
        Tokenizer._instances[config] = instance
        return instance

    def __init__(self, config: TokenizerConfig | None = None) -> None:
        """Nothing to do: :meth:`__new__` built (or reused) the tokenizer."""

    def _setup(self, config: TokenizerConfig) -> None:
        self.config = config
        sections = self.sections()
        self.kinds = np.concatenate([np.full(len(values), int(kind), np.int32) for kind, values in sections])
        self.values = np.concatenate([np.asarray(values, np.int32).reshape(-1) for _, values in sections])
        self.vocab_size = len(self.kinds)
        self._offsets = {}
        start = 0
        for kind, values in sections:
            self._offsets.setdefault(kind, start)
            start += len(values)
        # Velocity bin <-> MIDI velocity: a bin decodes to the middle of its range.
        bins = config.velocity_bins
        self._velocity_to_bin = (np.arange(128) * bins // 128).astype(np.int32)
        self._bin_to_velocity = np.array(
            [max(1, int(np.flatnonzero(self._velocity_to_bin == b).mean())) for b in range(bins)], dtype=np.int32
        )
        self._id_of = {(int(k), int(v)): i for i, (k, v) in enumerate(zip(self.kinds, self.values, strict=True))}

    # ------------------------------------------------------------ per encoding
    def sections(self) -> list[tuple[Kind, Any]]:
        """The vocabulary, in id order: ``(kind, values)`` per section."""
        raise NotImplementedError

    def encode_piece(self, piece: Piece) -> np.ndarray:
        """Encode a :class:`~musicgen.music.piece.Piece` to a 1-D int32 id array, BOS to EOS."""
        raise NotImplementedError

    def decode_piece(self, ids: Any, tempo: float | None = None, time_signature: tuple[int, int] | None = None,
                     program: int | None = None, track_names: dict[int, str] | None = None) -> Piece:
        """Decode ids (any integers: decoding is total) to a :class:`~musicgen.music.piece.Piece` in beats.

        ``tempo`` (default ``default_tempo``) turns seconds into beats in seconds timing;
        ``time_signature`` and ``program`` stand in where the tokens give none;
        ``track_names`` names tracks by index.
        """
        raise NotImplementedError

    def decode_notes(self, ids: Any, program: int | None = None) -> list[tuple[int, int, int, int, int]]:
        """Decode ids to notes ``(start_step, end_step, pitch, velocity, program)`` on the grid."""
        raise NotImplementedError

    # -------------------------------------------------------- shared pipeline
    def encode(self, source: Any) -> np.ndarray:
        """Encode a music file (MIDI, MusicXML, ABC, kern), a ``PrettyMIDI`` or a :class:`Piece`.

        A file holding a collection gives its first piece; :func:`musicgen.music.midi_io.read_pieces`
        gives them all.
        """
        from musicgen.errors import MidiError
        from musicgen.music import midi_io
        from musicgen.music.piece import piece_from_pretty_midi

        if isinstance(source, Piece):
            return self.encode_piece(source)
        if isinstance(source, (str, os.PathLike)):
            return self.encode_piece(midi_io.read_piece(source))
        try:
            piece = piece_from_pretty_midi(source)
        except Exception as error:  # a damaged object must still give a MidiError
            raise MidiError(f"<PrettyMIDI>: cannot read notes: {error}") from error
        return self.encode_piece(piece)

    def encode_notes(self, notes: np.ndarray) -> np.ndarray:
        """Encode note rows ``(start_beats, end_beats, pitch, velocity, program)``: one track per program."""
        notes = np.asarray(notes, np.float64).reshape(-1, 5)
        programs = sorted({int(code) for code in notes[:, 4]})
        index = {program: position for position, program in enumerate(programs)}
        rows = notes.copy()
        rows[:, 4] = [index[int(code)] for code in notes[:, 4]]
        return self.encode_piece(Piece(rows, tuple(Track(program) for program in programs)))

    def decode(self, ids: Any, tempo: float | None = None, time_signature: tuple[int, int] | None = None,
               program: int | None = None, track_names: dict[int, str] | None = None) -> Any:
        """Decode ids to a ``pretty_midi.PrettyMIDI`` at ``tempo`` qpm (default: the config's)."""
        from musicgen.music import midi_io

        tempo = self.config.default_tempo if tempo is None else tempo
        piece = self.decode_piece(ids, tempo, time_signature, program, track_names)
        return midi_io.piece_to_midi(piece, tempo, resolution=self.midi_resolution(tempo))

    def midi_resolution(self, tempo: float) -> int:
        """Ticks per quarter note for writing at ``tempo``: every grid step a whole number of ticks
        (about 480 or more), so a written file reads back on the same grid."""
        if self.config.timing == "beats":
            steps_per_beat = self.config.steps_per_quarter
        else:
            steps_per_beat = 60.0 * self.config.steps_per_second / float(tempo)
            if not float(steps_per_beat).is_integer():
                return 960  # no whole number of ticks per step at this tempo: a fine grid instead
        steps_per_beat = int(steps_per_beat)
        return steps_per_beat * max(1, -(-480 // steps_per_beat))

    def prepare(self, piece: Piece) -> Piece:
        """What the encoding keeps of a piece: the pedal applied (or kept, or dropped) as
        configured, notes in the pitch range, drums if wanted, programs if wanted."""
        c = self.config
        if c.pedal == "extend":
            piece = piece.with_sustain()
        elif c.pedal == "ignore":
            piece = dataclasses.replace(piece, pedals=np.zeros((0, 3)))
        tracks = piece.tracks
        if not c.use_programs:
            tracks = tuple(dataclasses.replace(t, program=t.program if t.is_drum else DEFAULT_PROGRAM) for t in tracks)
        notes = piece.notes
        pitch = notes[:, 2]
        keep = (pitch >= c.min_pitch) & (pitch <= c.max_pitch) & np.isfinite(notes[:, :2]).all(1)
        if not c.use_drums and tracks:
            drums = np.array([t.is_drum for t in tracks])
            keep &= ~drums[notes[:, 4].astype(np.int64)]
        return dataclasses.replace(piece, notes=notes[keep], tracks=tracks)

    def to_steps(self, piece: Piece, beats: Any) -> np.ndarray:
        """Times in beats on this encoding's grid (rounded to the nearest step, half-way up)."""
        times = np.asarray(beats, np.float64)
        if self.config.timing == "seconds":
            times = piece.seconds(times)
        return np.floor(np.maximum(times, 0.0) * self.config.steps_per_unit + 0.5).astype(np.int64)

    def step_beats(self, tempo: float) -> float:
        """Beats per grid step when written at ``tempo``."""
        if self.config.timing == "seconds":
            return tempo / 60.0 / self.config.steps_per_second
        return 1.0 / self.config.steps_per_quarter

    # ----------------------------------------------------------------- lookups
    def id_of(self, kind: Kind, value: int = 0) -> int:
        """The id of token ``kind(value)``; a :class:`ConfigError` if the vocabulary lacks it."""
        token = self._id_of.get((int(kind), int(value)))
        if token is None:
            raise ConfigError(f"{Kind(kind).name}({value}) has no token in this vocabulary")
        return token

    def offset(self, kind: Kind) -> int:
        """The first id of ``kind``'s section."""
        return self._offsets[kind]

    def velocity_bin(self, velocity: int) -> int:
        """The bin of a MIDI velocity 0..127."""
        return int(self._velocity_to_bin[int(np.clip(velocity, 0, 127))])

    def bin_velocity(self, velocity_bin: int) -> int:
        """The MIDI velocity a bin decodes to."""
        return int(self._bin_to_velocity[velocity_bin])

    def token_name(self, token_id: int) -> str:
        """Readable name, e.g. ``NOTE_ON(60)``, ``TIME_SHIFT(3)``, ``PROGRAM(drums)``."""
        from musicgen.music.instruments import DRUM_PROGRAM

        token_id = int(token_id)
        if not 0 <= token_id < self.vocab_size:
            return f"INVALID({token_id})"
        kind = Kind(int(self.kinds[token_id]))
        if kind in (Kind.PAD, Kind.BOS, Kind.EOS, Kind.BAR, Kind.PEDAL_ON, Kind.PEDAL_OFF, Kind.FILL,
                    Kind.FILL_START, Kind.FILL_END):
            return kind.name
        value = int(self.values[token_id])
        if kind == Kind.PROGRAM and value == DRUM_PROGRAM:
            return "PROGRAM(drums)"
        return f"{kind.name}({value})"

    def describe(self, ids: Any) -> str:
        """Space-separated readable names of a sequence of ids."""
        return " ".join(self.token_name(i) for i in np.asarray(ids).reshape(-1))

    # ------------------------------------------------------------ persistence
    def to_json(self) -> str:
        """The config as a JSON string; :meth:`from_json` gives this tokenizer back."""
        return json.dumps(self.config.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Tokenizer:
        """The tokenizer of a :meth:`to_json` string."""
        try:
            values = json.loads(text)
        except json.JSONDecodeError as error:
            raise ConfigError(f"tokenizer JSON is not valid JSON: {error}") from error
        return Tokenizer(TokenizerConfig.from_dict(values))

    def save(self, path: str | os.PathLike) -> None:
        """Write the tokenizer JSON atomically."""
        from musicgen import fileio

        fileio.atomic_write_text(path, self.to_json() + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> Tokenizer:
        """Read a tokenizer saved by :meth:`save`."""
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as error:
            raise ConfigError(f"cannot read tokenizer file {path}: {error}") from error
        return cls.from_json(text)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tokenizer) and other.config == self.config

    def __hash__(self) -> int:
        return hash(self.config)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(vocab_size={self.vocab_size}, config={self.config})"

    def __reduce__(self) -> tuple:
        # Pickled (e.g. into worker processes) by configuration, rebuilt there once.
        return (Tokenizer, (self.config,))
