"""Encodings are plugins: a third one, one module in the tests, runs through the whole library."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from melody_encoding import MelodyTokenizer
from midi_factory import Track, make_pretty_midi

from musicgen.errors import ConfigError
from musicgen.music import midi_io
from musicgen.tokens import ENCODINGS, Kind, Tokenizer, TokenizerConfig
from musicgen.tokens.base import Tokenizer as Contract

CONFIG = TokenizerConfig(encoding="melody", velocity_bins=1, steps_per_quarter=4, max_shift_steps=16,
                         min_pitch=48, max_pitch=84)


def melody(seed: int) -> list[tuple[int, float, float, int]]:
    rng = np.random.default_rng(seed)
    notes, beat = [], 0.0
    for _ in range(24):
        length = float(rng.choice([0.5, 1.0, 2.0]))
        notes.append((int(rng.integers(60, 73)), beat, beat + length, 80))
        beat += length + float(rng.choice([0.0, 0.0, 0.5]))
    return notes


def test_defining_the_class_registers_it_and_the_contract_is_enforced() -> None:
    assert ENCODINGS["melody"] is MelodyTokenizer
    tokenizer = Tokenizer(CONFIG)
    assert isinstance(tokenizer, MelodyTokenizer) and not tokenizer.anchored_windows and not tokenizer.editable
    with pytest.raises(ConfigError, match="cannot be edited bar by bar"):
        tokenizer.layout()

    class Incomplete(Contract, encoding="incomplete"):
        def sections(self) -> list:
            return [(Kind.PAD, [0]), (Kind.BOS, [0]), (Kind.EOS, [0])]

    try:
        with pytest.raises(TypeError, match="abstract"):
            Tokenizer(TokenizerConfig(encoding="incomplete"))
    finally:
        del ENCODINGS["incomplete"]


def test_the_melody_round_trips() -> None:
    tokenizer = Tokenizer(CONFIG)
    notes = melody(0)
    ids = tokenizer.encode(make_pretty_midi([Track(notes, program=73)]))
    decoded = tokenizer.decode_piece(ids, tempo=120.0)
    expected = np.array([(start, end, pitch) for pitch, start, end, _ in notes])
    np.testing.assert_allclose(decoded.notes[:, [0, 1, 2]], expected)


def test_a_plugin_encoding_trains_samples_and_writes_files(tmp_path: Path) -> None:
    from musicgen.generation.session import generate
    from musicgen.training.config import TrainConfig
    from musicgen.training.loop import train

    folder = tmp_path / "melodies"
    folder.mkdir()
    for index in range(8):
        make_pretty_midi([Track(melody(index), program=73)]).write(str(folder / f"m{index}.mid"))
    config = TrainConfig(units=16, num_layers=1, embedding_dim=8, seq_len=32, batch_size=4, max_updates=6,
                         eval_every=3)
    result = train(folder, tmp_path / "model", config, progress=False, tokenizer_config=CONFIG)
    assert result.updates == 6
    paths = generate(tmp_path / "model", num=2, length=60, seed=3, out_dir=str(tmp_path / "out"))
    assert len(paths) == 2
    for path in paths:
        piece = midi_io.read_piece(path)
        assert len(piece.notes) > 0
        onsets = piece.notes[:, 0]
        assert len(set(np.round(onsets, 6).tolist())) == len(onsets)  # one line: no two notes at once
