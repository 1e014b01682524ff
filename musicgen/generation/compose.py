"""Writing MIDI files from a checkpoint: :func:`generate` and :func:`generate_files`.

This is the user-facing layer over :class:`musicgen.generation.sampler.Sampler`: it checks the
options (:class:`GenerationOptions`), loads the checkpoint (the shipped base model by default), reads a primer, turns
``bars``/``seconds`` into a grid-step limit, samples (or beam-searches) and writes one
``.mid`` per piece through :mod:`musicgen.music.render` (atomic writes), optionally with a
piano-roll PNG and a WAV rendering.
"""

from __future__ import annotations

import dataclasses
import math
import os
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from musicgen.generation import primers, steering
from musicgen.generation.edits import write_piece
from musicgen.generation.ensemble import Ensemble, plan_ensemble
from musicgen.generation.options import GenerationOptions
from musicgen.generation.sampler import Sampler
from musicgen.models.precision import choose_precision
from musicgen.music import midi_io, render
from musicgen.music.analysis import parse_key, piece_key
from musicgen.music.instruments import program_name
from musicgen.music.piece import Piece
from musicgen.tokens import Kind
from musicgen.training.checkpoint import resolve_checkpoint

if TYPE_CHECKING:
    from musicgen.tokens import Tokenizer
    from musicgen.training.checkpoint import Checkpoint

XLA_MIN_TOKENS = 16384  # XLA-compile the sampling loop from this many tokens (num x length)

@dataclass
class GenerationResult:
    """What :func:`generate_files` wrote, with the settings needed to reproduce it."""

    paths: list[Path]
    seed: int
    summaries: list[str]
    extra_paths: list[Path] = field(default_factory=list)
    masked_mass_mean: float = 0.0
    masked_mass_max: float = 0.0

    def to_dict(self) -> dict:
        return {
            "files": [str(path) for path in self.paths],
            "extra_files": [str(path) for path in self.extra_paths],
            "summaries": self.summaries,
            "seed": self.seed,
            "masked_mass": {"mean": self.masked_mass_mean, "max": self.masked_mass_max},
        }


def generate_files(
    checkpoint: Checkpoint | str | os.PathLike | None = None, options: GenerationOptions | None = None, **changes: Any
) -> GenerationResult:
    """Sample pieces and write one ``.mid`` each to ``options.out_dir``; see :func:`generate`.

    ``changes`` override fields of ``options`` (default :class:`GenerationOptions`).
    """
    options = dataclasses.replace(options or GenerationOptions(), **changes)
    options.validate()
    seed = secrets.randbelow(1 << 31) if options.seed is None else options.seed
    length = options.token_length
    soundfont_path = render.check_wav_support(options.soundfont) if options.wav else None

    loaded = resolve_checkpoint(checkpoint)
    tokenizer = loaded.tokenizer
    controls = steering.Controls(options.instruments, options.key, options.density, options.tempo, options.style)
    # --candidates: several draws per piece, the first with the key and density asked for kept.
    select = (options.candidates > 1 and (options.key is not None or options.density is not None)
              and options.primer is None and options.beam_size <= 1)
    draws = options.num * options.candidates if select else options.num
    # XLA compiling takes seconds; it pays off only on long runs.
    jit_compile = "auto" if draws * length >= XLA_MIN_TOKENS else False
    ensemble = _ensemble(loaded, options.instruments)
    sampler = Sampler.from_checkpoint(loaded, jit_compile=jit_compile, precision=choose_precision(options.precision)[0],
                                      ensemble=ensemble)
    control_ids = steering.control_tokens(tokenizer, controls, f"checkpoint {loaded.directory}")
    plan, meter = None, None
    if options.primer is not None:
        piece = midi_io.read_piece(options.primer)
        meter = midi_io.read_meter(piece)
        asked = control_ids if (controls.any or options.tempo is not None) and control_ids else None
        plan = primers.plan_primer(piece, tokenizer, loaded.train_config.seq_len, length, options.primer_bars, asked)
        prefix = plan.prefix
        print(f"continuing from the primer's last {plan.bars_used} of {plan.bars_total} bars "
              f"({len(prefix)} tokens)", file=sys.stderr)
    else:
        programs = ensemble.tokens(tokenizer) if ensemble is not None else []
        # Asked-for instruments close the header: a BAR after them, so the model adds no track.
        opening = [tokenizer.id_of(Kind.BAR)] if programs else []
        prefix = np.array([tokenizer.bos_id, *control_ids, *programs, *opening], np.int32)
    numerator, denominator = (meter.numerator, meter.denominator) if meter else (4, 4)
    tempo = options.tempo
    if tempo is None:
        tempo = meter.tempo if meter else tokenizer.config.default_tempo
    max_time_steps, max_bars = time_limits(options, tokenizer, (numerator, denominator), tempo)
    if max_bars is not None and tokenizer.kinds[prefix[-1]] == Kind.BAR:
        max_bars -= 1  # the prefix's closing BAR already opened the first new bar
    prefix = sampler.check_prefix(prefix, length)
    # Asked-for instruments each play at least once in every two bars (the grammar's every_track rule).
    limits = dict(length=length, prefix=prefix, max_time_steps=max_time_steps, max_bars=max_bars,
                  pitch_bias=steering.guidance_bias(tokenizer, controls, options.key_guidance),
                  every_track=ensemble is not None)
    each = f"{options.candidates} candidates per piece, " if select else ""
    span = (f"{options.bars:g} bars" if options.bars is not None else f"{options.seconds:g} s"
            if options.seconds is not None else f"up to {length} tokens")
    pieces = f"{draws} piece{'s' if draws != 1 else ''}"
    print(f"sampling {pieces} of {span} ({each}seed {seed}, {sampler.step.precision})...", file=sys.stderr)
    if options.beam_size > 1:
        result = sampler.beam_search(options.beam_size, num=options.num, **limits)
    else:
        result = sampler.sample(num=draws, temperature=options.temperature, top_k=options.top_k,
                                top_p=options.top_p, seed=seed, **limits)
    # Models from before every training window restated its meter may write another meter than
    # the one they stated: state the one they play.
    allowed = sampler.constraints.allowed if sampler.constraints is not None else None
    rows = np.stack([tokenizer.fit_meters(row, allowed) for row in result.tokens])
    if select:
        kept = steering.choose_candidates([tokenizer.decode_piece(row) for row in rows], tokenizer, controls,
                                          options.candidates)
        rows = rows[kept]

    stem = Path(loaded.directory).name if getattr(loaded, "directory", None) else "sample"
    paths = render.reserve_paths(options.out_dir, stem, options.num, seed)
    try:
        summaries, extra = _write_pieces(paths, rows, options, loaded, plan, tempo, (numerator, denominator),
                                         soundfont_path, ensemble)
    except BaseException:
        render.release_paths(paths)  # no empty placeholder is left behind as if it were MIDI
        raise
    return GenerationResult(paths, seed, summaries, extra, result.masked_mass_mean, result.masked_mass_max)


def _ensemble(loaded: Checkpoint, instruments: str | None) -> Ensemble | None:
    """The asked instruments as the model plays them (None: none asked), its stand-ins said on stderr."""
    if instruments is None:
        return None
    ensemble = plan_ensemble(loaded.tokenizer, instruments, loaded.profile, loaded.profile.constraints(loaded.tokenizer))
    for note in ensemble.notes:
        print(f"note: {note}", file=sys.stderr)
    return ensemble


def _write_pieces(paths: list[Path], rows: Any, options: GenerationOptions, loaded: Checkpoint, plan: Any, tempo: float,
                  meter: tuple[int, int], soundfont_path: Any, ensemble: Ensemble | None = None
                  ) -> tuple[list[str], list[Path]]:
    """Decode each sampled row into a piece and write it (and its PNG / WAV when asked)."""
    tokenizer = loaded.tokenizer
    numerator, denominator = meter
    summaries, extra = [], []
    for path, row in zip(paths, rows, strict=True):
        if plan is not None:
            piece = primers.continuation(plan, row, tokenizer, tempo)
        else:
            piece = tokenizer.decode_piece(row, tempo=tempo, time_signature=(numerator, denominator))
        if ensemble is not None:  # stand-ins written on the instruments asked for
            piece = ensemble.written_piece(piece)
        piece = _named(piece, loaded, options)
        if options.program is not None:  # one instrument for the whole file, primer included
            piece = piece.on_one_instrument(options.program, program_name(options.program))
        if not piece.key_signatures:  # the key asked for, else the one the notes are in
            key = parse_key(options.key) if options.key is not None else piece_key(piece)
            piece = dataclasses.replace(piece, key_signatures=((0.0, key),) if key is not None else ())
        if plan is not None and options.program is None:  # the primer file, its own events kept, then the new bars
            write_piece(piece, path, tokenizer, options.primer, plan.piece)
        else:
            write_piece(piece, path, tokenizer)
        pm = midi_io.load_midi(path)
        summaries.append(render.describe_midi(pm))
        if options.plot:
            extra.append(render.write_piano_roll(pm, path.with_suffix(".png")))
        if soundfont_path is not None:
            extra.append(render.write_wav(path, soundfont_path))
    return summaries, extra


def _named(piece: Piece, loaded: Checkpoint, options: GenerationOptions) -> Piece:
    """``piece`` with its unnamed tracks named: after their instrument where the user asked for
    instruments, else as the training data named that program's tracks."""
    programs = [track.program for track in piece.tracks]
    names = ({index: program_name(program) for index, program in enumerate(programs)}
             if options.instruments is not None else loaded.profile.track_names(programs))
    return dataclasses.replace(piece, tracks=tuple(
        track if track.name else dataclasses.replace(track, name=names.get(index, "")) for index, track in
        enumerate(piece.tracks)))


def generate(checkpoint: Checkpoint | str | os.PathLike | None = None, options: GenerationOptions | None = None, **changes: Any) -> list[Path]:
    """Generate MIDI files and return their paths.

    ``checkpoint``: a directory or a loaded checkpoint (default: the shipped base model).
    ``options`` is a :class:`GenerationOptions`; keyword arguments override its fields,
    e.g. ``generate(num=2, bars=8, temperature=0.9, seed=7)``. ``length`` counts tokens
    after BOS, primer included; ``bars``/``seconds`` count new music after the primer.
    ``temperature=0`` is greedy decoding; ``top_k=0`` and ``top_p=1`` disable those
    filters; ``seed=None`` draws a random seed (:func:`generate_files` reports it).
    """
    return generate_files(checkpoint, options, **changes).paths


def time_limits(options: GenerationOptions, tokenizer: Tokenizer, meter: tuple[int, int],
                tempo: float) -> tuple[int | None, int | None]:
    """``(grid steps, bars)`` of new music that ``--bars``/``--seconds`` allow (None: no limit).

    The events encoding counts grid steps; the notes encoding counts its BAR tokens, so a
    number of bars is exact, and a number of seconds becomes the bars that hold it.
    """
    if options.bars is None and options.seconds is None:
        return None, None
    numerator, denominator = meter
    config = tokenizer.config
    if tokenizer.has_bars:
        bar_seconds = config.bar_seconds if config.timing == "seconds" else numerator * 4 / denominator * 60 / tempo
        bars = options.bars if options.bars is not None else options.seconds / bar_seconds
        return None, max(1, math.ceil(bars - 1e-9))
    if config.timing == "seconds":
        seconds = options.seconds if options.seconds is not None else options.bars * numerator * 4 / denominator * 60 / tempo
        return max(1, round(seconds * config.steps_per_second)), None
    beats = options.bars * numerator * 4 / denominator if options.bars is not None else options.seconds * tempo / 60
    return max(1, round(beats * config.steps_per_quarter)), None
