"""Folder profiles: the figures of a piece, the choices they lead to, and whole collections."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from midi_factory import Track, make_pretty_midi, write_mido_file

from musicgen.cli import main
from musicgen.data.prepare import prepare
from musicgen.data.profile import FolderProfile, ModelProfile, choose_config, piece_stats
from musicgen.music import analysis
from musicgen.music.piece import Piece, piece_from_pretty_midi
from musicgen.music.piece import Track as PieceTrack
from musicgen.tokens import Kind, Tokenizer, TokenizerConfig

C_MAJOR = [60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 60]
A_MINOR = [57, 59, 60, 62, 64, 65, 68, 69, 64, 60, 57]


def melody(pitches: list[int], velocity: int = 80, swing: float = 0.0) -> Piece:
    notes = [(pitch, index * 0.5 + swing * (index % 2), index * 0.5 + 0.45, velocity) for index, pitch in
             enumerate(pitches)]
    return piece_from_pretty_midi(make_pretty_midi([Track(notes)]))


def test_keys_by_krumhansl_schmuckler() -> None:
    assert analysis.key_name(analysis.piece_key(melody(C_MAJOR))) == "C major"
    assert analysis.key_name(analysis.piece_key(melody(A_MINOR))) == "A minor"
    assert analysis.parse_key("D minor") == 14 and analysis.parse_key("Bbm") == 22 and analysis.parse_key("f#") == 6
    with pytest.raises(ValueError, match="cannot read the key 'H dorian'"):
        analysis.parse_key("H dorian")


def test_quantised_scores_choose_beats_and_a_single_velocity() -> None:
    profile = FolderProfile.of([piece_stats(melody(C_MAJOR)), piece_stats(melody(A_MINOR))])
    assert profile.on_grid == 1.0 and profile.top_velocity_share == 1.0 and profile.pieces == 2
    config, reasons = choose_config(profile)
    assert (config.encoding, config.timing, config.pedal, config.velocity_bins) == ("notes", "beats", "ignore", 1)
    assert any(reason.startswith("timing beats (100% of onsets") for reason in reasons)


def test_performances_with_pedal_choose_seconds_and_extend_unless_told_otherwise() -> None:
    rng = np.random.default_rng(1)
    onsets = np.cumsum(rng.uniform(0.05, 0.5, 60))
    notes = np.array([[start, start + 0.2, 60 + int(rng.integers(0, 12)), int(rng.integers(30, 110)), 0]
                      for start in onsets])
    piece = Piece(notes, (PieceTrack(0),), pedals=np.array([[0.1, 0, 1], [4.0, 0, 0]]))
    profile = FolderProfile.of([piece_stats(piece)])
    assert profile.on_grid < 0.2 and profile.pedal_pieces == 1.0
    config, _ = choose_config(profile)
    assert (config.timing, config.pedal, config.velocity_bins) == ("seconds", "extend", 32)
    given, reasons = choose_config(profile, {"pedal": "events", "encoding": "events"})
    assert (given.pedal, given.encoding, given.max_shift_steps) == ("events", "events", 100)
    assert "pedal events (as given)" in reasons


def test_a_collection_becomes_pieces_and_a_bad_tune_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "tunes"
    folder.mkdir()
    (folder / "set.abc").write_text(
        "X:1\nT:One\nM:4/4\nL:1/8\nK:G\nGABc dedB|dedB dedB|\n\n"
        "X:2\nT:Broken\nM:4/4\nK:D\n[[[[\n\n"
        "X:3\nT:Three\nM:3/4\nL:1/8\nK:D\nDEF GAB|c2 B2 A2|\n"
    )
    write_mido_file(folder / "low.mid", [Track([(10, 0.0, 1.0, 80), (12, 1.0, 2.0, 80)])])
    cache = prepare(folder, tmp_path / "cache", workers=1, progress=False)
    assert cache.files() == ["set.abc#1", "set.abc#3"]
    skipped = {entry["path"]: entry["reason"] for entry in cache.manifest["skipped"]}
    assert set(skipped) == {"set.abc#2", "low.mid"}
    assert skipped["low.mid"] == "every note is outside the pitch range 21..108"
    assert cache.stats()[1]["meter"] == [3, 4]


def test_prepare_prints_the_profile_and_honours_a_given_option(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "music"
    folder.mkdir()
    for index, pitches in enumerate((C_MAJOR, A_MINOR)):
        make_pretty_midi([Track([(p, i * 0.5, i * 0.5 + 0.5, 70) for i, p in enumerate(pitches)], name="Flute",
                                program=73)]).write(str(folder / f"{index}.mid"))
    code = main(["prepare", str(folder), "--out", str(tmp_path / "cache"), "--timing", "seconds", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Flute (2)" in out and "timing seconds (as given)" in out and "encoding notes" in out


def test_the_model_profile_keeps_instruments_tracks_lengths_and_names() -> None:
    tokenizer = Tokenizer(TokenizerConfig(velocity_bins=1))
    pieces = [make_pretty_midi([Track([(60, 0.0, 3.0, 80)], program=40, name="Violin I"),
                                Track([(55, 0.0, 1.0, 80)], program=40, name="Violin II"),
                                Track([(48, 1.0, 1.5, 80)], program=42, name="Cello")])]
    streams = [tokenizer.encode(piece) for piece in pieces]
    stats = [piece_stats(piece_from_pretty_midi(piece)).to_dict() for piece in pieces]
    profile = ModelProfile.of(streams, stats, tokenizer)
    assert profile.max_tracks == 3 and profile.max_durations == {"40": 36, "42": 6}
    assert profile.track_names([40, 40, 42]) == {0: "Violin I", 1: "Violin II", 2: "Cello"}
    constraints = profile.constraints(tokenizer)
    programs = {int(tokenizer.values[i]) for i in np.flatnonzero(constraints.allowed)
                if tokenizer.kinds[i] == Kind.PROGRAM}
    assert programs == {40, 42}
    assert constraints.max_durations[40] == 36 and constraints.max_tracks == 3
    assert ModelProfile.from_dict(profile.to_dict()) == profile


def test_a_style_keeps_its_own_track_names_and_never_takes_another_styles() -> None:
    """Quartets name their violin "Violin I"; reels name no track: a reel's violin is left unnamed
    (the file writer names it after its instrument), not called "Violin I"; so is a violin of no
    known style, in a model of several."""
    tokenizer = Tokenizer(TokenizerConfig(velocity_bins=1))
    named = make_pretty_midi([Track([(60, 0.0, 1.0, 80)], program=40, name="Violin I")])
    plain = make_pretty_midi([Track([(62, 0.0, 1.0, 80)], program=40)])
    pieces = [dataclasses.replace(piece_from_pretty_midi(named), style="quartets"),
              dataclasses.replace(piece_from_pretty_midi(plain), style="reels")]
    profile = ModelProfile.of([tokenizer.encode_piece(piece) for piece in pieces],
                              [piece_stats(piece).to_dict() for piece in pieces], tokenizer)
    assert profile.track_names([40], "quartets") == {0: "Violin I"}
    assert profile.track_names([40], "reels") == {} == profile.track_names([40])


def test_a_sample_is_named_as_the_style_asked_for_else_the_one_its_header_chose() -> None:
    from musicgen.generation.compose import piece_style

    tokenizer = Tokenizer(TokenizerConfig(velocity_bins=1, styles=("quartets", "reels")))
    chose_reels = [tokenizer.bos_id, tokenizer.control_id("style", "reels"), tokenizer.id_of(Kind.BAR)]
    assert piece_style(tokenizer, np.array(chose_reels)) == "reels"
    assert piece_style(tokenizer, np.array(chose_reels), "quartets") == "quartets"
    assert piece_style(tokenizer, np.array([tokenizer.bos_id, tokenizer.id_of(Kind.BAR)])) is None
