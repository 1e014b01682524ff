"""New pieces and continuations from a loaded model: :func:`compose`.

:func:`compose` is what :meth:`musicgen.Session.generate` runs: it checks the options
(:class:`GenerationOptions`), writes the prompt the encoding asks for (controls and instruments,
:meth:`Tokenizer.prompt`) or primes with the last bars of a primer that fit
(:mod:`musicgen.generation.primers`), turns ``bars``/``seconds`` into the encoding's limit
(:meth:`Tokenizer.time_limits`), samples (or beam-searches) through the session's compiled
sampler, keeps the candidates that have the controls asked for, and decodes each row into a
:class:`~musicgen.music.piece.Piece`: named, on the instruments asked for, with a key signature.
It prints nothing; what a user should know comes back as the result's ``remarks``.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from musicgen.data.profile import PERFORMED_BELOW
from musicgen.generation import primers, steering
from musicgen.generation.ensemble import Ensemble, plan_ensemble
from musicgen.generation.options import GenerationOptions
from musicgen.generation.processors import ChordPlan
from musicgen.generation.results import Result
from musicgen.music import midi_io, render
from musicgen.music.analysis import parse_key, piece_key
from musicgen.music.instruments import DRUM_PROGRAM, program_name
from musicgen.music.piece import Piece

if TYPE_CHECKING:
    from musicgen.generation.sampler import ModelSession
    from musicgen.tokens import Tokenizer
    from musicgen.tokens.grammar import Constraints
    from musicgen.training.checkpoint import Checkpoint

XLA_MIN_TOKENS = 16384  # XLA-compile the sampling loop from this many tokens (num x length)
Progress = Callable[[str], None]


@dataclass
class Draft:
    """Everything a sampling run of :func:`compose` needs, worked out from the options: the
    prompt (or primer), the limits and constraints, the plans, and how the rows become pieces."""

    options: GenerationOptions
    loaded: Checkpoint
    seed: int
    asked: dict[str, Any]
    select: bool
    draws: int
    ensemble: Ensemble | None
    primer: Any
    signature: tuple[int, int]
    tempo: float
    sampler: Any
    limits: dict[str, Any]
    plans: tuple
    remarks: list[str]

    @property
    def tokenizer(self) -> Tokenizer:
        return self.loaded.tokenizer

    def pieces(self, rows: np.ndarray) -> list[Piece]:
        """Sampled rows as the pieces written (meters stated as played, candidates chosen)."""
        tokenizer, options = self.tokenizer, self.options
        # Models from before every training window restated its meter may write another meter than
        # the one they stated: state the one they play.
        rows = np.stack([tokenizer.fit_meters(row, self.limits["constraints"].allowed) for row in rows])
        if self.select:
            rows = rows[steering.choose_candidates([tokenizer.decode_piece(row) for row in rows], tokenizer,
                                                   self.asked, options.candidates)]
        return [_finished(row, self.primer, self.tempo, self.signature, self.loaded, options, self.ensemble)
                for row in rows]

    def result(self, pieces: list[Piece], masked_mass: tuple[float, float]) -> Result:
        loaded, options, primer = self.loaded, self.options, self.primer
        stem = Path(loaded.directory).name if getattr(loaded, "directory", None) else "sample"
        source = options.primer if primer is not None and options.program is None else None
        return Result(pieces, self.seed, stem, remarks=tuple(self.remarks), masked_mass=masked_mass,
                      source=Path(source) if source is not None else None, before=primer.piece if source else None)


def compose(session: ModelSession, options: GenerationOptions, progress: Progress | None = None) -> Result:
    """Sample the pieces ``options`` ask for with ``session``'s model; see the module docstring."""
    work = draft(session, options)
    if progress is not None:
        progress(_announce(options, work.draws, work.seed, options.token_length, work.sampler.step.precision,
                           work.select))
    if options.beam_size > 1:
        result = work.sampler.beam_search(options.beam_size, num=options.num, **work.limits)
    else:
        result = work.sampler.sample(num=work.draws, temperature=options.temperature, top_k=options.top_k,
                                     top_p=options.top_p, seed=work.seed, plans=work.plans, **work.limits)
    return work.result(work.pieces(result.tokens), (result.masked_mass_mean, result.masked_mass_max))


def draft(session: ModelSession, options: GenerationOptions) -> Draft:
    """The :class:`Draft` of a run: options checked, prompt or primer, limits, constraints, plans."""
    options.validate()
    if options.wav:  # before the sampling, not after it
        render.check_wav_support(options.soundfont)
    seed = secrets.randbelow(1 << 31) if options.seed is None else options.seed
    length = options.token_length
    loaded = session.checkpoint
    tokenizer = loaded.tokenizer
    asked = steering.asked_controls(options)
    control_ids = tokenizer.control_tokens(asked, f"checkpoint {loaded.directory}")
    wanted = steering.checked_values(tokenizer, asked) if options.candidates > 1 else {}
    select = bool(wanted) and options.primer is None and options.beam_size <= 1 and options.form is None
    draws = options.num * options.candidates if select else options.num
    ensemble = _ensemble(loaded, options.instruments)
    remarks = list(ensemble.remarks) if ensemble is not None else []
    primer, meter = None, None
    if options.primer is not None:
        piece = midi_io.read_piece(options.primer)
        meter = midi_io.read_meter(piece)
        replace = control_ids if (asked or options.tempo is not None) and control_ids else None
        primer = primers.plan_primer(piece, tokenizer, loaded.train_config.seq_len, length, options.primer_bars, replace)
        prefix = primer.prefix
        remarks.append(f"continuing from the primer's last {primer.bars_used} of {primer.bars_total} bars "
                       f"({len(prefix)} tokens)")
    else:
        prefix = tokenizer.prompt(control_ids, list(ensemble.played) if ensemble is not None else [])
    signature = (meter.numerator, meter.denominator) if meter else (4, 4)
    tempo = options.tempo if options.tempo is not None else meter.tempo if meter else tokenizer.config.default_tempo
    max_time_steps, max_bars = tokenizer.time_limits(prefix, options.bars, options.seconds, signature, tempo)
    # XLA compiling takes seconds; it pays off only on long runs.
    sampler = session.sampler(options.precision, "auto" if draws * length >= XLA_MIN_TOKENS else False)
    prefix = sampler.check_prefix(prefix, length)
    constraints = loaded.profile.constraints(tokenizer)
    plans: tuple = ()
    starts, first = None, int(not tokenizer.roles.bar[prefix[-1]])
    if options.chords is not None:  # the progression's bars from the first new bar on
        plan = tokenizer.chord_plan(options.chords, signature)
        plans, starts = (ChordPlan(plan, first),), tokenizer.values[plan[:, 0]]
    plans += steering.guidance(tokenizer, options, options.chords is not None, starts, first)
    # A chord plan is sounded by pitched parts; a tune alone states no chord, so a piece whose parts
    # nobody chose (no --instruments, --style or primer) opens with two.
    players = 0 if options.chords is None else 1 if ensemble or options.style or options.primer else 2
    limits = dict(length=length, prefix=prefix, max_time_steps=max_time_steps, max_bars=max_bars,
                  pitch_bias=steering.guidance_bias(tokenizer, asked, options.key_guidance),
                  # Asked-for instruments, and a chord plan's players, each play at least once in every two
                  # bars (drums in every bar).
                  every_track=ensemble is not None or players > 1,
                  constraints=_writable(tokenizer, ensemble.constraints(constraints) if ensemble is not None
                                        else constraints, quantized(options, loaded),
                                        _style_programs(loaded, options) if ensemble is None else None,
                                        signature if options.chords is not None else None, players))
    return Draft(options, loaded, seed, asked, select, draws, ensemble, primer, signature, tempo, sampler, limits,
                 plans, remarks)


def quantized(options: GenerationOptions, loaded: Checkpoint) -> bool:
    """Whether new notes keep to the grid of sixteenths and triplets: ``--quantize on``, or ``auto``
    unless the style asked for is one whose data is performed (off the grid)."""
    if options.quantize != "auto":
        return options.quantize == "on"
    share = loaded.profile.style_grid.get(options.style or "", 1.0)
    return share >= PERFORMED_BELOW


def _writable(tokenizer: Tokenizer, constraints: Constraints, quantize: bool,
              programs: set[int] | None = None, meter: tuple[int, int] | None = None, players: int = 0) -> Constraints:
    """``constraints`` kept to what a new piece may be written with, to the grid (``quantize``), to
    ``programs`` (a style's own instruments) and to ``meter`` (a chord plan's, whose bars it counts);
    it opens with ``players`` pitched tracks (a chord plan's; as many as the data allows) and keeps the
    meter its first bar states (a primer's last, in a continuation)."""
    allowed = np.ones(tokenizer.vocab_size, bool) if constraints.allowed is None else np.array(constraints.allowed)
    allowed &= tokenizer.writable_tokens(meter)
    if quantize:
        allowed &= tokenizer.grid_tokens()
    if programs:
        allowed &= ~tokenizer.roles.program | np.isin(tokenizer.values, sorted(programs))
    if not (allowed & tokenizer.roles.program & (tokenizer.values < DRUM_PROGRAM)).any():
        players = 0  # no pitched instrument to play them
    players = min(players, constraints.max_tracks or tokenizer.config.max_tracks)
    return dataclasses.replace(constraints, allowed=allowed, pitched=players, one_meter=True)


def _style_programs(loaded: Checkpoint, options: GenerationOptions) -> set[int] | None:
    """The instruments of the style asked for, as its pieces play them (None: no style asked, or
    a profile that does not say): a style keeps its own instruments."""
    sets = loaded.profile.style_sets.get(options.style or "")
    return {program for programs in sets for program in programs} if sets else None


def _announce(options: GenerationOptions, draws: int, seed: int, length: int, precision: str, select: bool) -> str:
    each = f"{options.candidates} candidates per piece, " if select else ""
    span = (f"{options.bars:g} bars" if options.bars is not None else f"{options.seconds:g} s"
            if options.seconds is not None else f"up to {length} tokens")
    return f"sampling {draws} piece{'s' if draws != 1 else ''} of {span} ({each}seed {seed}, {precision})..."


def _ensemble(loaded: Checkpoint, instruments: str | None) -> Ensemble | None:
    """The asked instruments as the model plays them (None: none asked)."""
    if instruments is None:
        return None
    return plan_ensemble(loaded.tokenizer, instruments, loaded.profile, loaded.profile.constraints(loaded.tokenizer))


def _finished(row: np.ndarray, plan: Any, tempo: float, meter: tuple[int, int], loaded: Checkpoint,
              options: GenerationOptions, ensemble: Ensemble | None) -> Piece:
    """A sampled row as the piece written: decoded (after its primer), on the asked instruments,
    its tracks named, on one program if asked, with a key signature."""
    tokenizer = loaded.tokenizer
    if plan is not None:
        piece = primers.continuation(plan, row, tokenizer, tempo)
    else:
        piece = tokenizer.decode_piece(row, tempo=tempo, time_signature=meter)
    if ensemble is not None:  # stand-ins written on the instruments asked for
        piece = ensemble.written_piece(piece)
    piece = _named(piece, loaded, options, piece_style(tokenizer, row, options.style))
    if options.program is not None:  # one instrument for the whole file, primer included
        piece = piece.on_one_instrument(options.program, program_name(options.program))
    if not piece.key_signatures:  # the key asked for, else the one the notes are in
        key = parse_key(options.key) if options.key is not None else piece_key(piece)
        piece = dataclasses.replace(piece, key_signatures=((0.0, key),) if key is not None else ())
    return piece


def piece_style(tokenizer: Tokenizer, row: np.ndarray, asked: str | None = None) -> str | None:
    """The style of a sampled ``row``: the one ``asked`` for, else the one its header chose (None: none)."""
    stated = tokenizer.header_controls(row).get("style")
    return asked or (tokenizer.config.styles[stated] if stated is not None else None)


def _named(piece: Piece, loaded: Checkpoint, options: GenerationOptions, style: str | None) -> Piece:
    """``piece`` with its unnamed tracks named: after their instrument where the user asked for
    instruments, else as the training data of ``style`` (the piece's) named that program's tracks."""
    programs = [track.program for track in piece.tracks]
    names = ({index: program_name(program) for index, program in enumerate(programs)}
             if options.instruments is not None else loaded.profile.track_names(programs, style))
    return dataclasses.replace(piece, tracks=tuple(
        track if track.name else dataclasses.replace(track, name=names.get(index, "")) for index, track in
        enumerate(piece.tracks)))
