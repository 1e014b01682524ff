"""What a folder of music holds, and the tokenizer configuration it calls for.

``musicgen prepare`` (and ``musicgen train`` on a raw folder) profile every piece
(:func:`piece_stats`: its instruments, drums, length, whether its onsets sit on a beat grid
or were performed, its pedal, velocities, tempo, meter, key and density), sum them up for
the folder (:class:`FolderProfile`, printed for the user) and choose the encoding, timing,
pedal handling and velocity resolution from them (:func:`choose_config`); every choice
can be overridden, and the reasons are printed beside it.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from musicgen.music import analysis
from musicgen.music.instruments import DRUM_PROGRAM, program_name
from musicgen.music.piece import END, START, TRACK, VELOCITY, Piece
from musicgen.tokens import ENCODINGS, TokenizerConfig
from musicgen.tokens.grammar import Constraints

if TYPE_CHECKING:
    from musicgen.tokens import Tokenizer

PERFORMED_BELOW = 0.6  # a folder whose onsets are on the 1/12-beat grid less often than this was performed
PEDAL_PIECES = 0.1  # the pedal matters when at least this share of pieces uses it
ONE_VELOCITY = 0.99  # notes sharing one velocity: the folder has no dynamics worth tokens


@dataclass
class PieceStats:
    """The figures of one piece that the folder's profile and the controls need (JSON-able)."""

    notes: int
    programs: list[int]
    track_names: list[str]
    drum_notes: int
    beats: float
    seconds: float
    on_grid: float
    pedal_changes: int
    top_velocity_share: float
    tempo: float
    meter: list[int]
    key: int | None
    density: float
    longest: dict[str, float] = field(default_factory=dict)  # program -> longest note in beats
    style: str = ""  # the top folder of the piece's file

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> PieceStats:
        return cls(**values)


def piece_stats(piece: Piece) -> PieceStats:
    """Profile one piece."""
    notes = piece.notes
    programs = [track.program for track in piece.tracks]
    codes = piece.programs().astype(np.int64)
    longest: dict[str, float] = {}
    for program in sorted(set(codes.tolist())):
        lengths = notes[codes == program, END] - notes[codes == program, START]
        longest[str(program)] = float(lengths.max()) if len(lengths) else 0.0
    velocities = Counter(notes[:, VELOCITY].astype(int).tolist())
    _, numerator, denominator = piece.time_signatures[0]
    used_tracks = sorted(set(notes[:, TRACK].astype(int).tolist()))
    return PieceStats(
        notes=len(notes),
        programs=[programs[index] for index in used_tracks],
        track_names=[piece.tracks[index].name for index in used_tracks],
        drum_notes=int(np.sum(codes == DRUM_PROGRAM)),
        beats=piece.end_beat,
        seconds=float(piece.seconds(np.array([piece.end_beat]))[0]) if len(notes) else 0.0,
        on_grid=analysis.on_grid_share(piece),
        pedal_changes=len(piece.pedals),
        top_velocity_share=velocities.most_common(1)[0][1] / len(notes) if len(notes) else 1.0,
        tempo=piece.tempo,
        meter=[int(numerator), int(denominator)],
        key=analysis.piece_key(piece),
        density=analysis.note_density(piece),
        longest=longest,
        style=piece.style,
    )


@dataclass
class FolderProfile:
    """The sum of a folder's piece figures, as ``musicgen prepare`` prints it."""

    pieces: int
    notes: int
    tracks_per_piece: tuple[int, int, int]  # min, median, max
    instruments: list[tuple[int, int]]  # (program, pieces using it), most used first
    drum_share: float  # of all notes
    on_grid: float  # share of onsets on the 1/12-beat grid, over all notes
    pedal_pieces: float  # share of pieces with sustain-pedal changes
    top_velocity_share: float  # share of notes with their piece's commonest velocity
    hours: float
    styles: list[tuple[str, int]] = field(default_factory=list)  # (top folder, pieces), most first
    densities: list[float] = field(default_factory=list)  # notes per bar at the thirds of the pieces
    tempos: list[float] = field(default_factory=list)  # quarter notes per minute at the thirds

    @classmethod
    def of(cls, stats: list[PieceStats]) -> FolderProfile:
        if not stats:
            return cls(0, 0, (0, 0, 0), [], 0.0, 1.0, 0.0, 1.0, 0.0)
        notes = sum(item.notes for item in stats)
        tracks = [len(item.programs) for item in stats]
        usage = Counter(program for item in stats for program in set(item.programs))
        weight = max(notes, 1)
        return cls(
            pieces=len(stats),
            notes=notes,
            tracks_per_piece=(min(tracks), int(np.median(tracks)), max(tracks)),
            instruments=sorted(usage.items(), key=lambda pair: (-pair[1], pair[0])),
            drum_share=sum(item.drum_notes for item in stats) / weight,
            on_grid=sum(item.on_grid * item.notes for item in stats) / weight,
            pedal_pieces=sum(item.pedal_changes > 0 for item in stats) / len(stats),
            top_velocity_share=sum(item.top_velocity_share * item.notes for item in stats) / weight,
            hours=sum(item.seconds for item in stats) / 3600.0,
            styles=sorted(Counter(item.style for item in stats if item.style).items(), key=lambda p: (-p[1], p[0])),
            densities=_thirds([item.density for item in stats]),
            tempos=_thirds([item.tempo for item in stats]),
        )

    def lines(self) -> list[str]:
        """A few lines for people."""
        top = ", ".join(f"{program_name(program)} ({count})" for program, count in self.instruments[:6])
        more = f" and {len(self.instruments) - 6} more" if len(self.instruments) > 6 else ""
        low, middle, high = self.tracks_per_piece
        return [
            f"  {self.pieces} pieces, {self.notes:,} notes, {self.hours:.1f} hours of music",
            f"  instruments (pieces using each): {top}{more}",
            f"  tracks per piece: {low} to {high} (median {middle}); drums: {self.drum_share:.0%} of notes",
            f"  timing: {self.on_grid:.0%} of onsets on a 1/12-beat grid "
            f"({'quantised' if self.on_grid >= PERFORMED_BELOW else 'performed'})",
            f"  sustain pedal: {self.pedal_pieces:.0%} of pieces; one velocity: {self.top_velocity_share:.0%} of notes",
            f"  styles (top folders): {', '.join(f'{name} ({count})' for name, count in self.styles[:8]) or 'none'}"
            f"{' and more' if len(self.styles) > 8 else ''}",
        ]


def choose_config(profile: FolderProfile, given: dict[str, Any] | None = None,
                  previous: TokenizerConfig | None = None) -> tuple[TokenizerConfig, list[str]]:
    """The tokenizer configuration for a folder, and why; ``given`` options win over the choices.

    With the ``previous`` configuration of the folder's cache, its DENSITY and TEMPO edges
    are kept (a few new pieces barely move the thirds, and keeping them lets the cache
    re-encode only the new files); ``--force`` chooses them again.
    """
    given = dict(given or {})
    kept = {}
    if previous is not None:
        kept = {name: getattr(previous, name) for name in ("density_edges", "tempo_edges", "keys") if name not in given}
    chosen: dict[str, Any] = {}
    reasons: list[str] = []

    def choose(name: str, value: Any, reason: str) -> None:
        if name in given:
            reasons.append(f"{name} {given[name]} (as given)")
        elif name in kept:
            chosen[name] = kept[name]
            reasons.append(f"{name} {kept[name]} (kept from the cache; --force chooses again)")
        else:
            chosen[name] = value
            reasons.append(f"{name} {value} ({reason})")

    performed = profile.on_grid < PERFORMED_BELOW
    choose("encoding", "notes", "notes with durations, tracks kept: the default")
    choose("timing", "seconds" if performed else "beats",
           f"{profile.on_grid:.0%} of onsets on the beat grid: " + ("performed" if performed else "quantised"))
    pedal = profile.pedal_pieces >= PEDAL_PIECES
    choose("pedal", "extend" if pedal else "ignore",
           f"{profile.pedal_pieces:.0%} of pieces use the sustain pedal" + ("; its held notes are lengthened"
                                                                             if pedal else ""))
    one_velocity = profile.top_velocity_share >= ONE_VELOCITY
    choose("velocity_bins", 1 if one_velocity else TokenizerConfig.velocity_bins,
           f"{profile.top_velocity_share:.0%} of notes share their piece's velocity")
    encoding = ENCODINGS[given.get("encoding", chosen.get("encoding"))]
    for name, value, reason in encoding.choices(profile, performed):
        choose(name, value, reason)
    return TokenizerConfig(**{**chosen, **given}), reasons


@dataclass
class ModelProfile:
    """What a model's training data had, saved with the checkpoint as ``profile.json``.

    The sampler keeps to it (:meth:`constraints`: only tokens the data had, no more tracks
    than a training piece, no note longer than its program's longest), and generated
    tracks are named as the data's tracks were (:meth:`track_names`).
    """

    folder: dict[str, Any] = field(default_factory=dict)
    choices: list[str] = field(default_factory=list)
    allowed_tokens: list[int] = field(default_factory=list)
    max_tracks: int = 0
    max_durations: dict[str, int] = field(default_factory=dict)  # program -> longest note in steps
    names: dict[str, str] = field(default_factory=dict)  # "program:k" -> name of the k-th track of that program
    instrument_sets: list[list[int]] = field(default_factory=list)  # the pieces' program sets, commonest first
    keys: list[int] = field(default_factory=list)  # the KEY values of the pieces' headers (older profiles)
    pitch_ranges: dict[str, list[int]] = field(default_factory=dict)  # program -> [lowest, highest] pitch
    max_stacks: dict[str, int] = field(default_factory=dict)  # program -> most notes at one onset of a track
    controls: dict[str, list[int]] = field(default_factory=dict)  # control -> the values of the pieces' headers
    # Per style (top folder): the share of onsets on the grid of sixteenths and triplet eighths, the
    # instrument sets and the track names, so that a style asked for keeps its own.
    style_grid: dict[str, float] = field(default_factory=dict)
    style_sets: dict[str, list[list[int]]] = field(default_factory=dict)
    style_names: dict[str, dict[str, str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelProfile:
        values = dict(values)
        if "max_chords" in values:  # the name of max_stacks until chord symbols arrived
            values.setdefault("max_stacks", values.pop("max_chords"))
        return cls(**values)

    def control_values(self, name: str) -> list[int]:
        """The values of control ``name`` in the training pieces' headers (empty: not recorded)."""
        if name in self.controls:
            return list(self.controls[name])
        return list(self.keys) if name == "key" else []

    @classmethod
    def of(cls, streams: list[np.ndarray], stats: list[dict], tokenizer: Tokenizer, manifest: dict | None = None) -> ModelProfile:
        """The profile of the training ``streams`` (and their pieces' ``stats``)."""
        kinds = tokenizer.kinds
        seen = np.zeros(tokenizer.vocab_size, bool)
        tracks, played, controls = 0, {}, {}
        for stream in streams:
            seen[stream] = True
            for name, value in tokenizer.header_controls(stream[: _header_end(tokenizer, stream)]).items():
                controls.setdefault(name, set()).add(value)
            tracks = max(tracks, len(tokenizer.track_programs(stream)))
            for program, figures in tokenizer.program_stats(stream).items():
                played[program] = played[program].merged(figures) if program in played else figures
        # Every value of a kind the data had stays possible (transposed pitches, new lengths),
        # except the kinds whose values are what the data had: instruments, meters, tracks.
        exact = tokenizer.roles.listed
        kinds_seen = np.isin(kinds, np.unique(kinds[seen]))
        allowed = np.where(exact, seen, kinds_seen)
        return cls(
            folder=dict((manifest or {}).get("profile") or {}),
            choices=list((manifest or {}).get("choices") or []),
            allowed_tokens=np.flatnonzero(allowed).tolist(),
            max_tracks=tracks,
            max_durations={str(program): figures.longest for program, figures in sorted(played.items())},
            # Without bars, an encoding merges the tracks of one program, so their names do not apply.
            names=_common_names(stats) if tokenizer.editable else {},
            **_by_style(stats, tokenizer.editable),
            instrument_sets=[list(programs) for programs, _ in Counter(
                tuple(sorted(set(item["programs"]))) for item in stats if item.get("programs")).most_common(16)],
            keys=sorted(controls.get("key", ())),
            pitch_ranges={str(program): [figures.lowest, figures.highest] for program, figures in sorted(played.items())},
            max_stacks={str(program): figures.stack for program, figures in sorted(played.items())},
            controls={name: sorted(values) for name, values in sorted(controls.items())},
        )

    def constraints(self, tokenizer: Tokenizer) -> Constraints:
        """The samplers' :class:`musicgen.tokens.grammar.Constraints` for ``tokenizer``'s vocabulary.

        Each program keeps to the pitches the data played on it, inside what the instrument can
        play (:func:`musicgen.music.instruments.playable`), and to the data's largest stack; a
        program the data lacks (an instrument asked for, or a profile from before these figures)
        keeps to what the instrument can play.
        """
        from musicgen.music.instruments import PROGRAM_COUNT, playable

        allowed = None
        if self.allowed_tokens:
            allowed = np.zeros(tokenizer.vocab_size, bool)
            allowed[[token for token in self.allowed_tokens if token < tokenizer.vocab_size]] = True
        longest = None
        if self.max_durations:
            longest = np.full(PROGRAM_COUNT, np.iinfo(np.int32).max, np.int64)
            for program, steps in self.max_durations.items():
                longest[int(program)] = steps
        instruments = np.array([playable(program) for program in range(PROGRAM_COUNT)], np.int64)
        ranges, stacks = instruments[:, :2].copy(), instruments[:, 2].copy()
        for program, (lowest, highest) in self.pitch_ranges.items():
            low, high = max(lowest, ranges[int(program), 0]), min(highest, ranges[int(program), 1])
            ranges[int(program)] = (low, high) if low <= high else (lowest, highest)
        for program, most in self.max_stacks.items():
            stacks[int(program)] = most
        return Constraints(allowed, self.max_tracks or None, longest, ranges, stacks)

    def track_names(self, programs: list[int], style: str | None = None) -> dict[int, str]:
        """Names for tracks playing ``programs`` (in track order), from the data's commonest names:
        of ``style``'s pieces (none where they named none: a style keeps its own names, never
        another's); with no style known, of all the pieces in a model of one style, and none in a
        model of several (the commonest name of each track could come from a different style)."""
        table = self.style_names.get(style or "", {}) if self.style_names else self.names
        count: Counter = Counter()
        names = {}
        for index, program in enumerate(programs):
            name = table.get(f"{program}:{count[program]}")
            count[program] += 1
            if name:
                names[index] = name
        return names


def _header_end(tokenizer: Tokenizer, stream: np.ndarray) -> int:
    """Where a stream's header ends: its first bar (the whole stream for an encoding without bars)."""
    starts = tokenizer.bar_starts(stream)
    return int(starts[0]) if len(starts) else len(stream)


def _thirds(values: list[float]) -> list[float]:
    """The values at a third and two thirds of ``values`` (empty for fewer than three)."""
    if len(values) < 3:
        return []
    return [float(np.quantile(values, 1 / 3)), float(np.quantile(values, 2 / 3))]


def _by_style(stats: list[dict], tracks: bool) -> dict[str, Any]:
    """:class:`ModelProfile`'s per-style fields: on-grid share, instrument sets, track names."""
    styles: dict[str, list[dict]] = {}
    for item in stats:
        styles.setdefault(item.get("style", ""), []).append(item)
    styles.pop("", None)
    grid = {style: round(sum(item["on_grid"] * item["notes"] for item in items) / max(sum(item["notes"] for item in items), 1),
                         4) for style, items in sorted(styles.items())}
    sets = {style: [list(programs) for programs, _ in Counter(
        tuple(sorted(set(item["programs"]))) for item in items if item.get("programs")).most_common(8)]
        for style, items in sorted(styles.items())}
    names = {style: _common_names(items) for style, items in sorted(styles.items())} if tracks else {}
    return {"style_grid": grid, "style_sets": sets, "style_names": names}


def _common_names(stats: list[dict]) -> dict[str, str]:
    """``"program:k"`` -> the commonest source name of the k-th track of that program."""
    votes: dict[str, Counter] = {}
    for item in stats:
        count: Counter = Counter()
        for program, name in sorted(zip(item["programs"], item["track_names"], strict=True),
                                    key=lambda pair: pair[0]):
            key = f"{program}:{count[program]}"
            count[program] += 1
            if name:
                votes.setdefault(key, Counter())[name] += 1
    return {key: counter.most_common(1)[0][0] for key, counter in sorted(votes.items())}
