"""An encoding with bars but no tracks, one module in the tests, through the unchanged library:
it trains, samples exact bars, continues a primer and writes files; what it cannot do is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from bar_melody_encoding import BarMelodyTokenizer
from midi_factory import Track, make_pretty_midi

from musicgen.cli import main
from musicgen.music import midi_io
from musicgen.tokens import Tokenizer, TokenizerConfig

CONFIG = TokenizerConfig(encoding="barmelody", velocity_bins=1, steps_per_quarter=4, min_pitch=48, max_pitch=84)


def melody(seed: int, bars: int = 6) -> list[tuple[int, float, float, int]]:
    rng = np.random.default_rng(seed)
    notes, beat = [], 0.0
    while beat < 4 * bars:
        length = float(rng.choice([0.5, 1.0, 1.0, 2.0]))
        notes.append((int(rng.integers(60, 73)), beat, beat + length, 80))
        beat += length
    return notes


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from musicgen.training.config import TrainConfig
    from musicgen.training.loop import train

    root = tmp_path_factory.mktemp("barmelody")
    folder = root / "tunes"
    folder.mkdir()
    for index in range(8):
        make_pretty_midi([Track(melody(index), program=73)]).write(str(folder / f"t{index}.mid"))
    config = TrainConfig(units=16, num_layers=1, embedding_dim=8, seq_len=48, batch_size=4, max_updates=8,
                         eval_every=4)
    result = train(folder, root / "model", config, progress=False, tokenizer_config=CONFIG)
    assert result.updates == 8
    return root / "model"


def test_the_encoding_has_bars_and_no_tracks() -> None:
    tokenizer = Tokenizer(CONFIG)
    assert isinstance(tokenizer, BarMelodyTokenizer)
    assert tokenizer.anchored_windows and not tokenizer.editable and not tokenizer.takes_controls
    ids = tokenizer.encode(make_pretty_midi([Track(melody(0, bars=3), program=0)]))
    assert len(tokenizer.bar_starts(ids)) == 3


def test_it_samples_exact_bars_and_continues_a_primer(model: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["generate", "--checkpoint", str(model), "--bars", "4", "--num", "3", "--seed", "2",
                 "--out", str(out)]) == 0
    paths = sorted(out.glob("*.mid"))
    assert len(paths) == 3
    for path in paths:
        piece = midi_io.read_piece(path)
        assert len(piece.notes) and piece.notes[:, 1].max() <= 16.0 + 1e-6  # four 4/4 bars at most
        assert piece.notes[:, 0].max() >= 12.0 - 1e-6 or len(piece.notes) < 4  # the fourth bar is reached
    primer = tmp_path / "primer.mid"
    make_pretty_midi([Track(melody(11, bars=3), program=0)]).write(str(primer))
    assert main(["generate", "--checkpoint", str(model), "--primer", str(primer), "--bars", "2", "--seed", "4",
                 "--out", str(tmp_path / "continued")]) == 0
    continued = midi_io.read_piece(next((tmp_path / "continued").glob("*.mid")))
    given = midi_io.read_piece(primer)
    start = 4.0 * np.ceil(given.end_beat / 4.0 - 1e-9)  # the end of the primer's last bar
    primer_notes = continued.notes[continued.notes[:, 0] < start - 1e-6]
    np.testing.assert_allclose(np.sort(primer_notes[:, 2]), np.sort(given.notes[:, 2]))  # the primer, as it was
    new = continued.notes[continued.notes[:, 0] >= start - 1e-6]
    assert len(new) and new[:, 1].max() <= start + 8.0 + 1e-6  # two new bars after the primer's last


def test_what_it_cannot_do_is_refused_in_one_line(model: Path, tmp_path: Path, capsys) -> None:
    song = tmp_path / "song.mid"
    make_pretty_midi([Track(melody(5), program=0)]).write(str(song))
    for arguments, message in [
        (["generate", "--instruments", "piano", "--bars", "2"], "takes no instruments"),
        (["generate", "--key", "D minor"], "has no controls"),
        (["infill", str(song), "--bars", "2-3"], "cannot be edited bar by bar"),
        (["accompany", str(song), "--instruments", "bass"], "cannot be edited bar by bar"),
    ]:
        assert main([*arguments, "--checkpoint", str(model), "--out", str(tmp_path / "x")]) == 2
        error = capsys.readouterr().err.strip().splitlines()
        assert len(error) == 1 and message in error[0], error
