"""Audio rendering: a clear error without FluidSynth, a real WAV with it."""

from __future__ import annotations

import shutil
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from musicgen.errors import ConfigError
from musicgen.music import render


def test_wav_without_fluidsynth_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no fluidsynth program on it
    monkeypatch.setitem(sys.modules, "fluidsynth", None)  # and the module cannot be imported
    with pytest.raises(ConfigError, match="--wav needs FluidSynth, which is not installed") as error:
        render.check_wav_support(None)
    assert "apt install fluidsynth fluid-soundfont-gm" in str(error.value)


def test_wav_needs_a_soundfont_that_exists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "fluidsynth"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigError, match="soundfont .*missing.sf2 does not exist"):
        render.check_wav_support(tmp_path / "missing.sf2")


def test_wav_renders_the_notes_when_fluidsynth_is_installed(tmp_path: Path) -> None:
    import pretty_midi

    soundfont = render.find_soundfont()
    if shutil.which("fluidsynth") is None or soundfont is None:
        pytest.skip("FluidSynth or a General MIDI soundfont is not installed "
                    "(apt install fluidsynth fluid-soundfont-gm); the WAV path is not tested here")
    midi = pretty_midi.PrettyMIDI(initial_tempo=120)
    piano = pretty_midi.Instrument(program=0)
    piano.notes = [pretty_midi.Note(100, 60 + step, 0.5 * step, 0.5 * step + 0.4) for step in range(4)]
    midi.instruments.append(piano)
    path = tmp_path / "scale.mid"
    midi.write(str(path))
    wav_path = render.write_wav(path, render.check_wav_support(soundfont))
    with wave.open(str(wav_path), "rb") as handle:
        frames = handle.readframes(handle.getnframes())
        seconds = handle.getnframes() / handle.getframerate()
        width = handle.getsampwidth()
    assert width == 2 and 2.0 <= seconds <= 6.0  # the 2-second scale plus FluidSynth's release tail
    samples = np.frombuffer(frames, "<i2").astype(np.float64)
    assert np.abs(samples).max() > 1000  # audible, not silence
