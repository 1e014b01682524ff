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
- **what its sequences are**, so that no caller branches on the encoding: which ids carry
  pitches, complete notes, name instruments or open bars (:attr:`Tokenizer.roles`); how a
  piece is transposed (:meth:`Tokenizer.transposition`); where training windows may start
  (:attr:`Tokenizer.anchored_windows`, :meth:`Tokenizer.bar_starts`, :meth:`Tokenizer.restate`);
  what a prompt is (:meth:`Tokenizer.prompt`: controls and instruments asked for), what a
  primer is and where its continuation goes (:meth:`Tokenizer.primer`,
  :meth:`Tokenizer.continuation_start`, :meth:`Tokenizer.decode_continuation`), how time is
  limited (:meth:`Tokenizer.time_limits`: bars or grid steps), which header controls it writes
  (:attr:`Tokenizer.controls`, from :mod:`musicgen.tokens.controls`), and whether and how a
  piece can be edited bar by bar (:attr:`Tokenizer.editable`, :meth:`Tokenizer.layout`). The
  answers of an encoding without bars are :class:`musicgen.tokens.streams.StreamSequences`', of one
  with bars :class:`musicgen.tokens.bars.BarSequences`'.
  :meth:`Tokenizer.bar_lines`, :meth:`Tokenizer.track_programs` and
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
from musicgen.tokens.controls import Control, HeaderControls, active_controls
from musicgen.tokens.streams import StreamSequences

DROPPED = -1  # a transposition's image of a token pushed out of range


@dataclasses.dataclass(frozen=True)
class ProgramStats:
    """What one program plays in a piece: its longest note (grid steps), its lowest and highest
    pitch, and its largest *stack*: the most notes it starts together on one track."""

    longest: int
    lowest: int
    highest: int
    stack: int

    def merged(self, other: ProgramStats) -> ProgramStats:
        return ProgramStats(max(self.longest, other.longest), min(self.lowest, other.lowest),
                            max(self.highest, other.highest), max(self.stack, other.stack))


@dataclasses.dataclass(frozen=True)
class TokenRoles:
    """What each id of a vocabulary is, as booleans over it: callers ask these, never the kinds.

    ``pitch``: ids whose value is a note's pitch (they move under transposition and key
    guidance); ``note``: one id per note, which completes it (notes are counted by it);
    ``program``: ids that name an instrument; ``track``, ``position``, ``bar``: ids that open
    a track's part, place an onset, open a bar; ``control``: header controls; ``fill``: the
    fill-in-the-middle markers; ``end``: EOS; ``chord``: chord symbols (value: the chord number, -1
    none); ``repeat``: "this part again" (value: how many bars back); ``listed``: ids a model keeps to exactly what its data had (instruments, meters,
    tracks), where a transposed pitch or a new length stays open.
    """

    pitch: np.ndarray
    note: np.ndarray
    program: np.ndarray
    track: np.ndarray
    position: np.ndarray
    bar: np.ndarray
    control: np.ndarray
    fill: np.ndarray
    end: np.ndarray
    chord: np.ndarray
    repeat: np.ndarray
    listed: np.ndarray

    @classmethod
    def of(cls, kinds: np.ndarray) -> TokenRoles:
        def any_of(*which: Kind) -> np.ndarray:
            return np.isin(kinds, [int(kind) for kind in which])

        note = any_of(Kind.DURATION, Kind.NOTE_ON)
        note = note if note.any() else any_of(Kind.PITCH)  # pitches alone (frames): each one a note
        return cls(pitch=any_of(Kind.PITCH, Kind.NOTE_ON, Kind.NOTE_OFF), note=note,
                   program=any_of(Kind.PROGRAM), track=any_of(Kind.TRACK), position=any_of(Kind.POSITION),
                   bar=any_of(Kind.BAR), control=any_of(Kind.CONTROL),
                   fill=any_of(Kind.FILL, Kind.FILL_START, Kind.FILL_END), end=any_of(Kind.EOS), chord=any_of(Kind.CHORD),
                   repeat=any_of(Kind.REPEAT), listed=any_of(Kind.PROGRAM, Kind.TIME_SIGNATURE, Kind.TRACK))

if TYPE_CHECKING:
    from musicgen.tokens.bars import BarLayout
    from musicgen.tokens.grammar import Constraints, Grammar


class Tokenizer(StreamSequences, HeaderControls, abc.ABC):
    """The contract of an encoding (see the module docstring); ``Tokenizer(config)`` gives the
    config's encoding.

    Tokenizers are immutable, so one is built per configuration and process and then
    shared. A subclass names its encoding (``class EventTokenizer(Tokenizer,
    encoding="events")``), sets :attr:`has_bars` if its pieces have bars, and implements the
    abstract methods; the rest (reading files, writing MIDI, lookups, saving) is shared.

    >>> from musicgen.tokens import Tokenizer, TokenizerConfig
    >>> tokenizer = Tokenizer(TokenizerConfig(velocity_bins=1))
    >>> tokenizer.encoding, tokenizer.editable
    ('notes', True)
    >>> tokenizer.describe(tokenizer.encode_notes([(0.0, 1.0, 60, 80, 0)]))
    'BOS PROGRAM(0) BAR TIME_SIGNATURE(4/4) TRACK(0) POSITION(0) PITCH(60) DURATION(12) EOS'
    """

    pad_id = 0
    bos_id = 1
    eos_id = 2
    encoding: ClassVar[str] = ""
    anchored_windows: ClassVar[bool] = False  # training windows start at bar_starts, under the header
    takes_controls: ClassVar[bool] = False  # a header of controls (and instruments) can be asked for
    editable: ClassVar[bool] = False  # pieces can be edited bar by bar and track by track (layout())
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
        self.controls: tuple[Control, ...] = active_controls(config) if self.takes_controls else ()
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
        self.roles = TokenRoles.of(self.kinds)
        # Control sections come in header order (control_sections): each id's control, by index.
        self.control_of = np.full(self.vocab_size, -1, np.int64)
        self._control_offsets: dict[str, int] = {}
        control_ids = np.flatnonzero(self.kinds == Kind.CONTROL)
        start = 0
        for index, control in enumerate(self.controls):
            count = len(control.values(config))
            self.control_of[control_ids[start:start + count]] = index
            self._control_offsets[control.name] = int(control_ids[start]) if count else -1
            start += count

    def control_sections(self) -> list[tuple[Kind, Any]]:
        """The vocabulary sections of :attr:`controls`, in header order (for :meth:`sections`)."""
        return [(Kind.CONTROL, control.values(self.config)) for control in self.controls]

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
        raise ConfigError(f"the {self.encoding} encoding's pieces cannot be edited bar by bar and track by track; "
                          "use a model in an encoding with bars and tracks (the notes encoding)")

    # --------------------------------------------------------- transposition
    def transposition(self, semitones: int) -> np.ndarray:
        """int32 id -> id of the same music ``semitones`` higher: pitch tokens move (to
        :data:`DROPPED` when they leave the pitch range), controls move as each says (a key's
        tonic), every other id stays. A table cannot tell drum notes from others: transpose only
        pieces without drums (:meth:`has_drums`)."""
        table = np.arange(self.vocab_size, dtype=np.int64)
        pitch = self.roles.pitch
        moved = self.values + int(semitones)
        inside = (moved >= self.config.min_pitch) & (moved <= self.config.max_pitch)
        table[pitch] = np.where(inside[pitch], table[pitch] + int(semitones), DROPPED)  # pitches are contiguous
        for index, control in enumerate(self.controls):
            ids = np.flatnonzero(self.control_of == index)
            for token in ids.tolist():
                table[token] = self.control_id(control.name, control.transpose(int(self.values[token]), semitones))
        return table.astype(np.int32)

    def expanded(self, ids: Any) -> np.ndarray:
        """``ids`` as decoding reads them: an encoding with a token meaning "that part again"
        writes every such part out; the others return ``ids`` as they are."""
        return np.asarray(ids).reshape(-1)

    def note_count(self, ids: Any) -> int:
        """The notes ``ids`` play: their note tokens once every repeated part is written out, so a
        part folded into one REPEAT token counts the notes it plays (NLL per note, notes kept)."""
        return int(np.count_nonzero(self.roles.note[self.expanded(ids)]))

    def has_drums(self, ids: Any) -> bool:
        """Whether a sequence names the drum kit."""
        from musicgen.music.instruments import DRUM_PROGRAM

        ids = np.asarray(ids).reshape(-1)
        ids = ids[(ids >= 0) & (ids < self.vocab_size)]
        return bool(np.any(self.roles.program[ids] & (self.values[ids] == DRUM_PROGRAM)))

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
        if kind == Kind.CONTROL:
            control = self.controls[int(self.control_of[token_id])]
            return f"{control.name.upper()}({control.describe(value, self.config)})"
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
