"""Training-time window edits: control dropout, track order, fill-in-the-middle examples."""

from __future__ import annotations

import numpy as np
from midi_factory import Track, make_pretty_midi

from musicgen.data.window_edits import WindowEditor
from musicgen.tokens import Kind, Tokenizer, TokenizerConfig
from musicgen.tokens.grammar import check_tokens

CONFIG = TokenizerConfig(velocity_bins=1, keys=True, density_edges=(2.0, 6.0))


def piece_tokens() -> tuple[Tokenizer, np.ndarray]:
    tokenizer = Tokenizer(CONFIG)
    melody = [(60 + (i % 5), i * 1.0, i * 1.0 + 1.0, 80) for i in range(24)]
    bass = [(36 + (i % 3), i * 2.0, i * 2.0 + 2.0, 80) for i in range(12)]
    drums = [(36, i * 0.5, i * 0.5 + 0.25, 90) for i in range(48)]
    midi = make_pretty_midi([Track(melody, program=73), Track(bass, program=33), Track(drums, is_drum=True)])
    return tokenizer, tokenizer.encode(midi)


def notes_by_track(tokenizer: Tokenizer, ids: np.ndarray) -> dict[int, set]:
    piece = tokenizer.decode_piece(ids)
    return {track.program: {tuple(row[:3]) for row in piece.notes[piece.notes[:, 4] == index].tolist()}
            for index, track in enumerate(piece.tracks)}


def test_parse_and_write_give_the_window_back() -> None:
    tokenizer, ids = piece_tokens()
    editor = WindowEditor(tokenizer)
    controls, programs, bars = editor.layout.parse(ids)
    assert [tokenizer.controls[tokenizer.control_of[token]].name for token in controls] == ["key", "density"]
    assert len(programs) == 3 and len(bars) == 6
    np.testing.assert_array_equal(editor.layout.write(controls, programs, bars, [tokenizer.eos_id]), ids)


def test_controls_drop_out_and_tracks_reorder_without_changing_the_music() -> None:
    tokenizer, ids = piece_tokens()
    editor = WindowEditor(tokenizer, control_dropout=1.0, shuffle_tracks=1.0)
    rng = np.random.default_rng(3)
    orders = set()
    for _ in range(12):
        edited = editor.edit(ids, rng, width=len(ids))
        check_tokens(edited, tokenizer.grammar())
        assert not tokenizer.roles.control[edited].any()
        assert notes_by_track(tokenizer, edited) == notes_by_track(tokenizer, ids)
        orders.add(tuple(tokenizer.values[edited[tokenizer.kinds[edited] == Kind.PROGRAM]].tolist()))
    assert len(orders) > 1


def test_a_fill_in_the_middle_example_holds_the_missing_bars_after_the_context() -> None:
    tokenizer, ids = piece_tokens()
    editor = WindowEditor(tokenizer, infill=1.0)
    rng = np.random.default_rng(0)
    seen_one_track = seen_all = False
    for _ in range(20):
        example = editor.edit(ids, rng, width=len(ids) + 40)
        assert len(example) <= len(ids) + 40
        kinds = tokenizer.kinds[example]
        start = int(np.flatnonzero(kinds == Kind.FILL_START)[0])
        assert kinds[-1] == Kind.FILL_END and kinds[start + 1] == Kind.BAR
        holes = int(np.sum(kinds == Kind.FILL))
        filled_bars = int(np.sum(kinds[start:] == Kind.BAR))
        tracks_per_hole = holes // filled_bars
        assert holes == filled_bars * tracks_per_hole and tracks_per_hole in (1, 3)
        seen_one_track |= tracks_per_hole == 1
        seen_all |= tracks_per_hole == 3
        # The context and the filled bars hold every note of the window, once.
        context, fills = example[:start], example[start + 1:-1]
        header = example[: int(np.flatnonzero(kinds == Kind.BAR)[0])]
        spliced = editor.layout.parse(np.concatenate([header, fills]))[2]
        assert len(spliced) == filled_bars and all(part for bar in spliced for part in bar.parts)
        total = sum(len(part) for bar in editor.layout.parse(context)[2] for _, part in bar.parts if part != [editor.layout.fill])
        total += sum(len(part) for bar in spliced for _, part in bar.parts)
        assert total == sum(len(part) for bar in editor.layout.parse(ids)[2] for _, part in bar.parts)
        check_tokens(example, tokenizer.grammar())
    assert seen_one_track and seen_all
