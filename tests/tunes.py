"""A tiny model's tunes: a flute melody over an electric bass, in a major key, dense or sparse."""

from __future__ import annotations

from pathlib import Path

import pretty_midi
from midi_factory import Track, make_pretty_midi

SCALE = [0, 2, 4, 5, 7, 9, 11, 12, 11, 9, 7, 5, 4, 2]


def tune(tonic: int, dense: bool, bars: int = 8) -> pretty_midi.PrettyMIDI:
    """A melody (flute) over a bass (electric bass) in the major key of ``tonic``, dense or sparse."""
    step = 0.5 if dense else 2.0
    melody = [(60 + tonic + SCALE[i % len(SCALE)], i * step, (i + 1) * step, 80) for i in range(int(bars * 4 / step))]
    bass = [(36 + tonic + (0, 7, 5, 7)[i % 4], i * 4.0, i * 4.0 + 4.0, 80) for i in range(bars)]
    return make_pretty_midi([Track(melody, program=73, name="Flute"), Track(bass, program=33, name="Bass")])


def train_tune_model(root: Path) -> Path:
    """A 1 x 128 LSTM trained for 900 updates on 48 two-bar tunes in C and F# major, with controls
    (and without chords and repeated parts, whose own tests train models of their own)."""
    from musicgen.cli import main

    folder = root / "tunes"
    folder.mkdir()
    # Two-bar tunes: every window starts at a piece's first bar, where the controls decide most.
    # DENSITY decides one token per piece (the melody's first duration); 64 units sometimes
    # settle without learning it (seed 0 did), 128 learnt it at every seed tried.
    for index in range(48):
        tune((0, 6)[index % 2], dense=index % 4 < 2, bars=2).write(str(folder / f"tune{index:02d}.mid"))
    out = root / "model"
    code = main(["train", str(folder), "--out", str(out), "--units", "128", "--layers", "1", "--embedding-dim", "32",
                 "--seq-len", "96", "--batch-size", "8", "--max-updates", "900", "--learning-rate", "0.01",
                 "--dropout", "0", "--no-augment", "--eval-every", "30", "--patience", "900", "--lr-patience", "60",
                 "--control-dropout", "0.2", "--precision", "float32", "--no-chords", "--repeats=", "--quiet"])
    assert code == 0
    return out
