"""Writing MIDI files from a checkpoint: :func:`generate` and :func:`generate_files`.

This is the user-facing layer over :class:`musicgen.sampling.Sampler`: it checks the
options, loads the checkpoint (the shipped Bach model by default), reads a primer, turns
``bars``/``seconds`` into a grid-step limit, samples (or beam-searches) and writes one
``.mid`` per piece through :mod:`musicgen.render` (atomic writes), optionally with a
piano-roll PNG and a WAV rendering.
"""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from musicgen import render
from musicgen.errors import CheckpointError, ConfigError
from musicgen.sampling import Sampler, check_sampling_options

DEFAULT_LENGTH = 512
TIMED_LENGTH_CAP = 8192  # token cap when --bars/--seconds decide the length
XLA_MIN_TOKENS = 16384  # generate() XLA-compiles the loop from this many tokens (num x length)


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


def resolve_checkpoint(checkpoint: Any = None) -> Any:
    """A loaded checkpoint: ``checkpoint`` itself if loaded, else loaded from its directory.

    ``None`` means the shipped model, :data:`musicgen.paths.DEFAULT_CHECKPOINT`.
    """
    if checkpoint is not None and hasattr(checkpoint, "model") and hasattr(checkpoint, "tokenizer"):
        return checkpoint
    from musicgen.checkpoint import load_checkpoint
    from musicgen.paths import DEFAULT_CHECKPOINT

    if checkpoint is None:
        if not DEFAULT_CHECKPOINT.exists():
            raise CheckpointError(
                f"no shipped model at {DEFAULT_CHECKPOINT}; train one with "
                f"'musicgen train data/midi/bach --out {DEFAULT_CHECKPOINT}' or pass --checkpoint DIR"
            )
        checkpoint = DEFAULT_CHECKPOINT
    return load_checkpoint(checkpoint)


def generate_files(
    checkpoint: Any = None,
    num: int = 1,
    length: int | None = None,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    seed: int | None = None,
    primer: str | os.PathLike | None = None,
    tempo: float | None = None,
    program: int | None = None,
    out_dir: str | os.PathLike = "generated",
    bars: float | None = None,
    seconds: float | None = None,
    beam_size: int = 0,
    wav: bool = False,
    soundfont: str | os.PathLike | None = None,
    plot: bool = False,
    sampler: Sampler | None = None,
) -> GenerationResult:
    """Sample ``num`` pieces and write one ``.mid`` each to ``out_dir``; see :func:`generate`."""
    check_sampling_options(temperature, top_k, top_p)
    if seed is None:
        seed = secrets.randbelow(1 << 31)
    if not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"--seed must be a non-negative integer, got {seed!r}")
    if tempo is not None and not 0 < tempo < 10_000:
        raise ConfigError(f"--tempo must be in (0, 10000) beats per minute, got {tempo}")
    if program is not None and not (isinstance(program, int) and 0 <= program <= 127):
        raise ConfigError(f"--program must be a General MIDI program 0..127, got {program!r}")
    if bars is not None and seconds is not None:
        raise ConfigError("give --bars or --seconds, not both")
    for label, value in (("--bars", bars), ("--seconds", seconds)):
        if value is not None and not value > 0:
            raise ConfigError(f"{label} must be positive, got {value}")
    if length is None:
        length = TIMED_LENGTH_CAP if (bars or seconds) else DEFAULT_LENGTH
    if not isinstance(length, int) or length < 1:
        raise ConfigError(f"--length must be a positive integer, got {length!r}")
    soundfont_path = render.check_wav_support(soundfont) if wav else None

    loaded = resolve_checkpoint(checkpoint)
    tokenizer = loaded.tokenizer
    # XLA compiling takes seconds; it pays off only on long runs.
    jit_compile = "auto" if num * length >= XLA_MIN_TOKENS else False
    sampler = sampler or Sampler(loaded.model, tokenizer, jit_compile=jit_compile)
    prefix, meter = _read_primer(primer, tokenizer)
    numerator, denominator = (meter.numerator, meter.denominator) if meter else (4, 4)
    if tempo is None:
        tempo = meter.tempo if meter else tokenizer.config.default_tempo
    steps_per_quarter = tokenizer.config.steps_per_quarter
    max_time_steps = None
    if bars is not None:
        max_time_steps = round(bars * numerator * 4 / denominator * steps_per_quarter)
    elif seconds is not None:
        max_time_steps = round(seconds * tempo / 60.0 * steps_per_quarter)
    if max_time_steps is not None:
        max_time_steps = max(1, max_time_steps)

    prefix = sampler.check_prefix(prefix, length)
    options = dict(length=length, prefix=prefix, max_time_steps=max_time_steps, disallow_programs=program is not None)
    print(f"sampling {num} x {length} tokens (seed {seed})...", file=sys.stderr)
    if beam_size and beam_size > 1:
        result = sampler.beam_search(beam_size, num=num, **options)
    else:
        result = sampler.sample(num=num, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed, **options)

    stem = Path(loaded.directory).name if getattr(loaded, "directory", None) else "sample"
    paths = render.reserve_paths(out_dir, stem, num, seed)
    summaries, extra = [], []
    for path, row in zip(paths, result.tokens, strict=True):
        pm = tokenizer.decode(row, tempo=tempo, time_signature=(numerator, denominator), program=program)
        render.write_midi(pm, path)
        summaries.append(render.describe_midi(pm))
        if plot:
            extra.append(render.write_piano_roll(pm, path.with_suffix(".png")))
        if soundfont_path is not None:
            extra.append(render.write_wav(path, soundfont_path))
    return GenerationResult(paths, seed, summaries, extra, result.masked_mass_mean, result.masked_mass_max)


def generate(
    checkpoint: Any = None,
    num: int = 1,
    length: int | None = DEFAULT_LENGTH,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    seed: int | None = None,
    primer: str | os.PathLike | None = None,
    tempo: float | None = None,
    program: int | None = None,
    out_dir: str | os.PathLike = "generated",
    **options: Any,
) -> list[Path]:
    """Generate ``num`` MIDI files and return their paths.

    ``checkpoint``: a directory or a loaded checkpoint (default: the shipped Bach model).
    ``length`` counts tokens after BOS, primer included; with ``bars=`` or ``seconds=``
    (of new music after the primer) and ``length=None`` the length is time-based.
    ``temperature=0`` is greedy decoding; ``top_k=0`` and ``top_p=1`` disable those filters.
    ``seed=None`` draws a random seed (see :func:`generate_files` for it and the summaries).
    Further options: ``bars``, ``seconds``, ``beam_size``, ``wav``, ``soundfont``, ``plot``.
    """
    return generate_files(
        checkpoint, num, length, temperature, top_k, top_p, seed, primer, tempo, program, out_dir, **options
    ).paths


def _read_primer(primer: Any, tokenizer: Any) -> tuple[np.ndarray | None, Any]:
    """The primer's tokens without EOS and its meter (tempo, time signature), or ``None``s."""
    if primer is None:
        return None, None
    from musicgen import midi_io

    pm = midi_io.load_midi(primer)
    tokens = np.asarray(tokenizer.encode(pm), np.int32)
    if len(tokens) and tokens[-1] == tokenizer.eos_id:
        tokens = tokens[:-1]
    return tokens, midi_io.read_meter(pm, tokenizer.config.default_tempo)
