"""Turning generated music into files: MIDI names, piano-roll PNGs and WAV audio.

Every file goes through :mod:`musicgen.fileio` (written to a temporary name, then
renamed), and output names are reserved exclusively so two runs never overwrite each
other. WAV rendering needs FluidSynth (the ``fluidsynth`` program or the pyfluidsynth
module) and a General MIDI soundfont; without them :func:`check_wav_support` says so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from musicgen import fileio
from musicgen.errors import ConfigError

SOUNDFONT_ENVIRONMENT = "MUSICGEN_SOUNDFONT"
SOUNDFONT_LOCATIONS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/default.sf2",
)


def reserve_paths(out_dir: str | os.PathLike, stem: str, count: int, seed: int) -> list[Path]:
    """``count`` new ``.mid`` paths ``STEM-YYYYMMDD-HHMMSS-seedN-KK.mid`` in ``out_dir``.

    Each name is created exclusively (an empty placeholder, replaced atomically when the
    file is written), so a name already taken gets a ``-2``, ``-3`` ... suffix instead of
    being overwritten.
    """
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"cannot create the output directory {out_dir}: {error}") from error
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    paths = []
    for index in range(1, count + 1):
        base = f"{stem}-{stamp}-seed{seed}-{index:02d}"
        attempt = 1
        while True:
            path = out_dir / (base if attempt == 1 else f"{base}-{attempt}")
            path = path.with_name(path.name + ".mid")
            try:
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
                break
            except FileExistsError:
                attempt += 1
            except OSError as error:
                raise ConfigError(f"cannot write in {out_dir}: {error}") from error
        paths.append(path)
    return paths


def release_paths(paths: list[Path]) -> None:
    """Remove the placeholders of :func:`reserve_paths` that were never written (still empty)."""
    for path in paths:
        try:
            if path.stat().st_size == 0:
                path.unlink()
        except OSError:
            pass


def write_midi(pm: Any, path: str | os.PathLike) -> None:
    """Write a ``PrettyMIDI`` atomically."""
    with fileio.atomic_path(path) as temporary:
        pm.write(str(temporary))


def describe_midi(pm: Any) -> str:
    """One-line summary: notes, duration, instruments."""
    notes = sum(len(instrument.notes) for instrument in pm.instruments)
    instruments = len(pm.instruments)
    plural = "s" if instruments != 1 else ""
    return f"{notes} notes, {pm.get_end_time():.1f} s, {instruments} instrument{plural}"


def bar_span(pm: Any, first: int, last: int) -> tuple[float, float]:
    """Start and end time in seconds of bars ``first..last`` (counted from 1) of ``pm``."""
    downbeats = list(pm.get_downbeats())
    downbeats.append(max(pm.get_end_time(), downbeats[-1] + 1e-3))
    return downbeats[min(first - 1, len(downbeats) - 1)], downbeats[min(last, len(downbeats) - 1)]


def draw_piano_roll(axes: Any, pm: Any, region: tuple[int, int] | None = None) -> None:
    """Notes of ``pm`` on ``axes``: pitch against time, one colour per track (named in the legend),
    a line at every bar, and bars ``region`` (first, last; from 1) shaded."""
    from matplotlib import pyplot

    from musicgen.music.instruments import DRUM_PROGRAM, program_name

    colours = pyplot.get_cmap("tab10")
    if region is not None:
        axes.axvspan(*bar_span(pm, *region), color="0.88", zorder=0, label=f"bars {region[0]}-{region[1]}")
    for downbeat in pm.get_downbeats():
        axes.axvline(downbeat, color="0.75", linewidth=0.5, zorder=0)
    for index, instrument in enumerate(pm.instruments):
        name = instrument.name or program_name(DRUM_PROGRAM if instrument.is_drum else instrument.program)
        for note in instrument.notes:
            axes.broken_barh([(note.start, max(note.end - note.start, 1e-3))], (note.pitch - 0.4, 0.8),
                             color=colours(index % 10), zorder=1)
        axes.plot([], [], color=colours(index % 10), label=name, linewidth=6)
    axes.set_ylabel("MIDI pitch")
    axes.set_xlim(0, max(pm.get_end_time(), 1e-3))
    if pm.instruments:
        axes.legend(loc="upper right", fontsize="x-small", ncol=min(len(pm.instruments) + 1, 6))


def write_piano_roll(pm: Any, path: str | os.PathLike, region: tuple[int, int] | None = None) -> Path:
    """Draw the notes of ``pm`` (see :func:`draw_piano_roll`) as a PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(12, 4), dpi=100)
    draw_piano_roll(axes, pm, region)
    axes.set_xlabel("time (s)")
    figure.tight_layout()
    path = Path(path)
    with fileio.atomic_path(path) as temporary:
        figure.savefig(temporary, format="png")
    pyplot.close(figure)
    return path


def find_soundfont(soundfont: str | os.PathLike | None = None) -> Path | None:
    """The soundfont to use: the argument, ``$MUSICGEN_SOUNDFONT``, or a system GM one."""
    if soundfont is not None:
        return Path(soundfont)
    candidates = [os.environ.get(SOUNDFONT_ENVIRONMENT), *SOUNDFONT_LOCATIONS]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def _fluidsynth_backend() -> str | None:
    if shutil.which("fluidsynth"):
        return "program"
    try:
        import fluidsynth  # noqa: F401
    except Exception:
        return None
    return "module"


def check_wav_support(soundfont: str | os.PathLike | None = None) -> Path:
    """Return the soundfont for WAV output, or raise :class:`ConfigError` saying what is missing."""
    if _fluidsynth_backend() is None:
        raise ConfigError(
            "--wav needs FluidSynth, which is not installed: install the 'fluidsynth' program "
            "(e.g. 'apt install fluidsynth fluid-soundfont-gm') or the pyfluidsynth module, "
            "or leave out --wav (the MIDI files play in any DAW or MIDI player)"
        )
    path = find_soundfont(soundfont)
    if path is None:
        raise ConfigError(
            "--wav needs a General MIDI soundfont (.sf2): pass --soundfont PATH or set "
            f"${SOUNDFONT_ENVIRONMENT}"
        )
    if not path.is_file():
        raise ConfigError(f"soundfont {path} does not exist")
    return path


def write_wav(midi_path: str | os.PathLike, soundfont: str | os.PathLike, sample_rate: int = 44100) -> Path:
    """Render a MIDI file to a WAV file beside it through FluidSynth."""
    wav_path = Path(midi_path).with_suffix(".wav")
    if _fluidsynth_backend() == "program":
        with fileio.atomic_path(wav_path) as temporary:
            command = [
                "fluidsynth", "-ni", "-g", "1.0", "-r", str(sample_rate), "-F", str(temporary),
                str(soundfont), str(midi_path),
            ]
            result = subprocess.run(command, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise ConfigError(f"fluidsynth failed on {midi_path}: {result.stderr.strip()}")
        return wav_path
    import wave

    import numpy as np
    import pretty_midi

    audio = pretty_midi.PrettyMIDI(str(midi_path)).fluidsynth(fs=sample_rate, sf2_path=str(soundfont))
    peak = float(np.abs(audio).max()) or 1.0
    samples = (audio / peak * 32767 * 0.9).astype("<i2")
    with fileio.atomic_path(wav_path) as temporary, wave.open(str(temporary), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(sample_rate)
        handle.writeframes(samples.tobytes())
    return wav_path
