"""The contract every encoding implements: :class:`Tokenizer`.

An encoding is one module of :mod:`musicgen.tokens` holding one subclass,
``class NoteTokenizer(Tokenizer, encoding="notes")``, which registers it: then
``Tokenizer(TokenizerConfig(encoding="notes"))`` builds it (once per process and
configuration), and every caller speaks to it through this class only, never by its name.
After note-seq's ``EventSequenceEncoderDecoder``, an encoding provides:

- **its vocabulary**, :meth:`Tokenizer.sections`, a list of ``(Kind, values)`` that the base
  turns into the id tables (:attr:`Tokenizer.kinds`, :attr:`Tokenizer.values`) which
  encoding, decoding, the grammar and the sampler all read: one table drives both directions;
- **music to tokens and back**: :meth:`Tokenizer.encode_piece`, :meth:`Tokenizer.decode_piece`,
  :meth:`Tokenizer.decode_notes` (decoding is total: any integers decode);
- **its grammar**, :meth:`Tokenizer.grammar`: what may come next, as a pure-Python checker
  and as a tensor masker for the compiled sampler (:mod:`musicgen.tokens.grammar`);
- **its structure**: :attr:`Tokenizer.has_bars` says whether a piece is a header (controls,
  one PROGRAM per track) followed by BAR-delimited bars. With bars, training windows start
  at a bar under their piece's header (:meth:`Tokenizer.bar_starts`), ``--bars N`` counts
  BAR tokens, controls and instruments are asked for by writing the header, and pieces are
  edited bar by bar through :meth:`Tokenizer.layout` (infilling, accompaniment, training's
  fill-in-the-middle examples). Without, windows start anywhere and time is counted in grid
  steps. :meth:`Tokenizer.bar_lines`, :meth:`Tokenizer.track_programs` and
  :meth:`Tokenizer.program_stats` answer what evaluation and the data profile ask of a piece.

The options of every encoding are in one dataclass, :class:`musicgen.tokens.config.TokenizerConfig`.
"""

from __future__ import annotations

import abc
import dataclasses
import json
import os
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from musicgen.errors import ConfigError
from musicgen.music.instruments import DEFAULT_PROGRAM
from musicgen.music.piece import Piece, Track
from musicgen.tokens.config import ENCODINGS, Kind, TokenizerConfig


@dataclasses.dataclass(frozen=True)
class ProgramStats:
    """What one program plays in a piece: its longest note (grid steps), its lowest and highest
    pitch, and the most notes it starts together on one track."""

    longest: int
    lowest: int
    highest: int
    chord: int

    def merged(self, other: ProgramStats) -> ProgramStats:
        return ProgramStats(max(self.longest, other.longest), min(self.lowest, other.lowest),
                            max(self.highest, other.highest), max(self.chord, other.chord))

if TYPE_CHECKING:
    from musicgen.tokens.bars import BarLayout
    from musicgen.tokens.grammar import Constraints, Grammar


class Tokenizer(abc.ABC):
    """The contract of an encoding (see the module docstring); ``Tokenizer(config)`` gives the
    config's encoding.

    Tokenizers are immutable, so one is built per configuration and process and then
    shared. A subclass names its encoding (``class EventTokenizer(Tokenizer,
    encoding="events")``), sets :attr:`has_bars` if its pieces have bars, and implements the
    abstract methods; the rest (reading files, writing MIDI, lookups, saving) is shared.

    >>> from musicgen.tokens import Tokenizer, TokenizerConfig
    >>> tokenizer = Tokenizer(TokenizerConfig(velocity_bins=1))
    >>> tokenizer.encoding, tokenizer.has_bars
    ('notes', True)
    >>> tokenizer.describe(tokenizer.encode_notes([(0.0, 1.0, 60, 80, 0)]))
    'BOS PROGRAM(0) BAR TIME_SIGNATURE(4/4) TRACK(0) POSITION(0) PITCH(60) DURATION(12) EOS'
    """

    pad_id = 0
    bos_id = 1
    eos_id = 2
    encoding: ClassVar[str] = ""
    has_bars: ClassVar[bool] = False
    _instances: ClassVar[dict[TokenizerConfig, Tokenizer]] = {}

    def __init_subclass__(cls, encoding: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if encoding:
            cls.encoding = encoding
            ENCODINGS[encoding] = cls

    def __new__(cls, config: TokenizerConfig | None = None) -> Tokenizer:
        config = TokenizerConfig() if config is None else config
        if not isinstance(config, TokenizerConfig):
            raise ConfigError(f"a tokenizer needs a TokenizerConfig, got {type(config).__name__}")
        cached = Tokenizer._instances.get(config)
        if cached is not None:
            return cached
        if config.encoding not in ENCODINGS:
            raise ConfigError(f"the {config.encoding!r} encoding is not loaded; import musicgen.tokens")
        instance = super().__new__(ENCODINGS[config.encoding])
        instance._setup(config)
        Tokenizer._instances[config] = instance
        return instance

    def __init__(self, config: TokenizerConfig | None = None) -> None:  # noqa: B027 (not abstract: shared)
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
    @abc.abstractmethod
    def sections(self) -> list[tuple[Kind, Any]]:
        """The vocabulary, in id order: ``(kind, values)`` per section."""

    @abc.abstractmethod
    def encode_piece(self, piece: Piece) -> np.ndarray:
        """Encode a :class:`~musicgen.music.piece.Piece` to a 1-D int32 id array, BOS to EOS."""

    @abc.abstractmethod
    def decode_piece(self, ids: Any, tempo: float | None = None, time_signature: tuple[int, int] | None = None,
                     program: int | None = None, track_names: dict[int, str] | None = None) -> Piece:
        """Decode ids (any integers: decoding is total) to a :class:`~musicgen.music.piece.Piece` in beats.

        ``tempo`` (default ``default_tempo``) turns seconds into beats in seconds timing;
        ``time_signature`` and ``program`` stand in where the tokens give none;
        ``track_names`` names tracks by index.
        """

    @abc.abstractmethod
    def decode_notes(self, ids: Any, program: int | None = None) -> list[tuple[int, int, int, int, int]]:
        """Decode ids to notes ``(start_step, end_step, pitch, velocity, program)`` on the grid."""

    @abc.abstractmethod
    def grammar(self, constraints: Constraints | None = None) -> Grammar:
        """This encoding's grammar (checker and masker), limited to what ``constraints`` allow."""

    @abc.abstractmethod
    def track_programs(self, ids: Any) -> list[int]:
        """The programs of the tracks a piece plays, in track order (128: drums)."""

    # ------------------------------------------------- structure (bars, edits)
    def bar_starts(self, ids: Any) -> np.ndarray:
        """The positions in ``ids`` where a bar opens (where a training window may start under
        the header); empty for an encoding without bars."""
        return np.zeros(0, np.int64)

    def restate(self, ids: Any, start: int) -> np.ndarray:
        """``ids[start:]`` (``start`` a bar start) as a piece's continuation that reads on its own
        under the piece's header: the bar restates what was said before it (its meter)."""
        return np.asarray(ids)[start:]

    def whole_prefix(self, ids: Any) -> int:
        """How much of a sequence that ran out of length to keep: all of it, or (an encoding with
        bars) up to its last BAR, so that an unfinished bar is not written out."""
        return len(ids)

    def fit_meters(self, ids: Any, allowed: np.ndarray | None = None) -> np.ndarray:
        """Sampled ``ids`` stating the meters their bars play (an encoding with meters; ``allowed``
        limits them to a model's tokens); unchanged where they already do."""
        return np.asarray(ids)

    def bar_lines(self, ids: Any, tempo: float | None = None) -> list[float]:
        """The bar lines of ``ids`` in beats (each bar's start, then the end of the last); empty
        for an encoding without bars."""
        return []

    def program_stats(self, ids: Any) -> dict[int, ProgramStats]:
        """What each program plays in ``ids``, for an encoding whose grammar keeps to it (empty:
        this encoding's grammar limits nothing by program)."""
        return {}

    def source_tracks(self, piece: Piece) -> list[int]:
        """The source track of ``piece`` that each token track stands for (an encoding with tracks)."""
        raise ConfigError(f"the {self.encoding} encoding merges the tracks of one instrument; use a model in an "
                          "encoding with bars and tracks (the notes encoding)")

    def layout(self) -> BarLayout:
        """Header and bars of this encoding's sequences, parsed and written back (for edits)."""
        raise ConfigError(f"the {self.encoding} encoding has no bars and tracks, so its pieces cannot be edited "
                          "bar by bar; use a model in an encoding with bars (the notes encoding)")

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
