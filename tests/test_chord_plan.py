"""A chord plan (``--chords``): the bars state the chords asked for, in the file as a DAW and
MuseScore show them; a model without chords refuses it in one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from midi_factory import Track, make_pretty_midi

from musicgen.cli import main
from musicgen.music import midi_io
from musicgen.music.chords import chord_name
from musicgen.music.piece import PITCH, START
from musicgen.tokens import Tokenizer, TokenizerConfig

CONFIG = TokenizerConfig(velocity_bins=1, min_pitch=36, max_pitch=84, chords=True, repeats=(1, 2, 4, 8))


def song(seed: int) -> list[tuple[int, float, float, int]]:
    """Four bars of block chords, C F G C, an octave apart."""
    rng = np.random.default_rng(seed)
    notes = []
    for bar, root in enumerate([48, 53, 55, 48] * 2):
        for offset in (0, 4, 7):
            notes.append((root + offset + int(rng.integers(0, 2)) * 12, bar * 4.0, bar * 4.0 + 4.0, 80))
    return notes


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from musicgen.training.config import TrainConfig
    from musicgen.training.loop import train

    root = tmp_path_factory.mktemp("chords")
    folder = root / "songs"
    folder.mkdir()
    for index in range(6):
        tune = [(76 + index % 3, beat, beat + 1.0, 90) for beat in np.arange(0.0, 32.0)]
        make_pretty_midi([Track(song(index), program=0), Track(tune, program=73)]).write(str(folder / f"s{index}.mid"))
    config = TrainConfig(units=16, num_layers=1, embedding_dim=8, seq_len=96, batch_size=4, max_updates=4,
                         eval_every=2)
    train(folder, root / "model", config, progress=False, tokenizer_config=CONFIG)
    return root / "model"


def test_the_plan_of_each_bar_is_a_bar_of_tokens() -> None:
    tokenizer = Tokenizer(CONFIG)
    plan = tokenizer.chord_plan("Dm7:2 G7:2 Cmaj7:4")
    rows = [tokenizer.describe(row[row >= 0]) for row in plan]
    assert rows == ["CHORD(Dm7) POSITION(24) CHORD(G7)", "CHORD(Cmaj7)"]
    assert [tokenizer.describe(row[row >= 0]) for row in tokenizer.chord_plan("C G Am F")] == [
        "CHORD(C)", "CHORD(G)", "CHORD(Am)", "CHORD(F)"]


def test_generated_bars_state_the_chords_asked_for(model: Path, tmp_path: Path) -> None:
    for extra in ([], ["--instruments", "piano"]):
        out = tmp_path / str(len(extra))
        assert main(["generate", "--checkpoint", str(model), "--chords", "C G Am F", "--bars", "6", "--num", "2",
                     "--seed", "3", "--out", str(out), *extra]) == 0
        for path in sorted(out.glob("*.mid")):
            piece = midi_io.read_piece(path)
            heard = [chord_name(chord) for beat, chord in piece.chords]
            beats = [beat for beat, _ in piece.chords]
            assert heard == ["C", "G", "Am", "F", "C", "G"] and beats == [0.0, 4.0, 8.0, 12.0, 16.0, 20.0], path


def test_a_model_without_chords_refuses_them_in_one_line(tmp_path: Path, capsys) -> None:
    import keras
    from checkpoint_factory import write_checkpoint

    from musicgen.models.language import build_language_model

    tokenizer = Tokenizer(TokenizerConfig(velocity_bins=1))
    model = build_language_model(tokenizer.vocab_size, "lstm", 8, 1, embedding_dim=4)
    keras.utils.set_random_seed(0)
    checkpoint = write_checkpoint(tmp_path / "ck", model, tokenizer)
    assert main(["generate", "--checkpoint", str(checkpoint), "--chords", "C G", "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "trained without chords" in error[0]


def test_accompany_writes_under_the_chords_asked_for(model: Path, tmp_path: Path) -> None:
    melody = tmp_path / "melody.mid"
    make_pretty_midi([Track([(72 + step % 5, beat, beat + 1.0, 90) for step, beat in enumerate(np.arange(0.0, 16.0))],
                            program=73)]).write(str(melody))
    assert main(["accompany", str(melody), "--checkpoint", str(model), "--instruments", "piano", "--chords",
                 "Am F C G", "--seed", "2", "--out", str(tmp_path / "out")]) == 0
    piece = midi_io.read_piece(next((tmp_path / "out").glob("*.mid")))
    assert [track.program for track in piece.tracks] == [73, 0]
    assert [(beat, chord_name(chord)) for beat, chord in piece.chords] == [
        (0.0, "Am"), (4.0, "F"), (8.0, "C"), (12.0, "G")]


def test_chord_hits_count_what_the_notes_sound_where_each_planned_chord_starts(tmp_path: Path) -> None:
    from musicgen.evaluation.music_figures import chord_hits
    from musicgen.music.chords import parse_progression

    path = tmp_path / "cfgc.mid"
    make_pretty_midi([Track(song(0), program=0)]).write(str(path))  # C F G C, twice
    piece = midi_io.read_piece(path)
    assert chord_hits(piece, parse_progression("C F G C")) == (8, 8)
    assert chord_hits(piece, parse_progression("C:8 F:8")) == (2, 4)  # C at beats 0 and 16; G, not F, at 8 and 24
    assert chord_hits(piece, parse_progression("Am Dm E Am")) == (0, 8)


def test_chord_guidance_makes_the_parts_sound_the_planned_chords(model: Path, tmp_path: Path) -> None:
    """Four updates teach the tiny model no harmony: without guidance its notes are rarely the planned
    chord's tones; with it, nearly all are, and more bars sound the chord. evaluate --controls reports
    the rate of planned chords heard."""
    from musicgen.evaluation.controls import control_hit_rates
    from musicgen.evaluation.music_figures import chord_hits
    from musicgen.music.chords import parse_chord, parse_progression, pitch_classes

    plan = [set(pitch_classes(parse_chord(name))) for name in "C G Am F".split()]
    tones, heard = [], []
    for guidance in ("0", "6"):
        out = tmp_path / guidance
        assert main(["generate", "--checkpoint", str(model), "--chords", "C G Am F", "--bars", "4", "--num", "3",
                     "--seed", "4", "--chord-guidance", guidance, "--groove", "0", "--instruments", "piano",
                     "--out", str(out)]) == 0
        pieces = [midi_io.read_piece(path) for path in sorted(out.glob("*.mid"))]
        notes = np.concatenate([piece.notes for piece in pieces])
        tones.append(np.mean([int(pitch) % 12 in plan[int(start // 4) % 4] for start, pitch in
                              zip(notes[:, START], notes[:, PITCH], strict=True)]))
        counts = np.array([chord_hits(piece, parse_progression("C G Am F")) for piece in pieces]).sum(axis=0)
        heard.append(counts[0] / counts[1])
    assert tones[1] >= 0.9 and tones[1] > tones[0] + 0.3 and heard[1] > heard[0], (tones, heard)
    report = control_hit_rates(model, per_setting=1, bars=2, seed=0, candidates=1)
    assert [row["setting"] for row in report["chords"]["settings"]] == ["C G Am F", "Am:2 Dm:2 E:4"]
    assert [row["samples"] for row in report["chords"]["settings"]] == [2, 3]  # planned chords of one 2-bar piece


def test_a_chord_plan_is_never_played_by_drums_alone(tmp_path: Path) -> None:
    """A folder of mostly drum tracks: the model often opens a piece with drums alone, but a piece
    asked for ``--chords`` always has pitched parts that can sound them."""
    from musicgen.training.config import TrainConfig
    from musicgen.training.loop import train

    folder = tmp_path / "songs"
    folder.mkdir()
    beat = [(36 if step % 2 == 0 else 38, step * 1.0, step + 0.5, 100) for step in range(16)]
    for index in range(5):
        make_pretty_midi([Track(beat, program=0, is_drum=True)]).write(str(folder / f"d{index}.mid"))
    make_pretty_midi([Track(song(0), program=0), Track(beat, program=0, is_drum=True)]).write(str(folder / "s.mid"))
    train(folder, tmp_path / "model", TrainConfig(units=16, num_layers=1, embedding_dim=8, seq_len=96, batch_size=4,
                                                  max_updates=6, eval_every=3), progress=False, tokenizer_config=CONFIG)
    out = tmp_path / "out"
    assert main(["generate", "--checkpoint", str(tmp_path / "model"), "--chords", "C G", "--bars", "2", "--num", "6",
                 "--seed", "1", "--out", str(out)]) == 0
    pieces = [midi_io.read_piece(path) for path in sorted(out.glob("*.mid"))]
    assert len(pieces) == 6 and all(any(not track.is_drum for track in piece.tracks) for piece in pieces)
    # Nobody chose the parts, so each piece opens with two pitched tracks (a tune alone states no chord).
    assert all(sum(not track.is_drum for track in piece.tracks) >= 2 for piece in pieces)
