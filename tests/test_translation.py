"""The translation demo on tiny data: data rules, training, decoding, save/load, CLI, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from musicgen.cli import main
from musicgen.data.splits import split_of
from musicgen.demos.translation import data
from musicgen.errors import CheckpointError, DataError
from musicgen.paths import TRANSLATION_DATA_DIR

TINY_MODEL = dict(units=16, embedding_dim=8, epochs=12, batch_size=16, min_count=1, learning_rate=1e-2, dropout=0.0)


NOUNS = {"gato": "cat", "perro": "dog", "libro": "book", "coche": "car", "niño": "boy", "pez": "fish"}
ADJECTIVES = {"rojo": "red", "grande": "big", "pequeño": "small", "negro": "black", "viejo": "old"}
VERBS = {"duerme": "sleeps", "come": "eats", "corre": "runs", "cae": "falls", "vuelve": "returns"}
SENTENCES = ["El gato rojo duerme.", "El perro grande come.", "El niño viejo corre.", "El pez negro cae."]


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    """150 pairs of a tiny grammar in the corpus format (adjective order differs, as in real data)."""
    lines = [
        f"The {ADJECTIVES[a]} {NOUNS[n]} {VERBS[v]}.\tEl {n} {a} {v}."
        for n in NOUNS for a in ADJECTIVES for v in VERBS
    ]
    folder = tmp_path_factory.mktemp("tiny_translation")
    (folder / "spa.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def trained(tiny_data, tmp_path_factory):
    from musicgen.demos.translation import Translator, TranslatorConfig, train_translator

    out = tmp_path_factory.mktemp("tiny_checkpoint")
    result = train_translator(tiny_data, out, TranslatorConfig(**TINY_MODEL), verbose=0)
    return result, Translator.load(out)


# -- data --------------------------------------------------------------------------------


def test_tokenize_and_detokenize() -> None:
    assert data.tokenize("¿Qué  hora es?") == ["¿", "qué", "hora", "es", "?"]
    assert data.tokenize("Don't go, Tom!") == ["don't", "go", ",", "tom", "!"]
    truecase = data.build_truecase(["I saw Tom.", "Tom is here.", "Is Tom here?", "Can I go?"])
    assert truecase["tom"] == "Tom" and truecase["i"] == "I" and "here" not in truecase
    assert data.detokenize(["i", "saw", "tom", "."], truecase) == "I saw Tom."
    assert data.detokenize(["where", "is", "it", "?"]) == "Where is it?"


def test_split_is_a_stable_hash_of_the_normalised_source() -> None:
    assert data.split_name("Hace frío.") == split_of("hace frío.", salt=data.SPLIT_SALT)
    assert data.split_name("  HACE   Frío. ") == data.split_name("hace frío.")
    names = [data.split_name(f"frase número {i}.") for i in range(2000)]
    assert names == [data.split_name(f"frase número {i}.") for i in range(2000)]
    assert 0.05 < names.count("test") / len(names) < 0.15
    assert 0.05 < names.count("validation") / len(names) < 0.15


def test_duplicate_sources_never_straddle_splits(tmp_path) -> None:
    lines = (TRANSLATION_DATA_DIR / "spa.txt").read_text(encoding="utf-8").splitlines()
    (tmp_path / "spa.txt").write_text("\n".join(lines[:20000]) + "\n", encoding="utf-8")
    splits = data.load_splits(tmp_path, max_tokens=4)
    seen: dict[str, str] = {}
    for name, pairs in splits.items():
        for pair in pairs:
            key = data.normalise(pair.source)
            assert seen.setdefault(key, name) == name
            assert len(pair.source_tokens) <= 4 and len(pair.target_tokens) <= 4
    assert all(splits[name] for name in ("train", "validation", "test"))


def test_read_pairs_reports_bad_files(tmp_path) -> None:
    with pytest.raises(DataError, match="no such file"):
        data.read_pairs(tmp_path)
    (tmp_path / "spa.txt").write_text("Go.\tVe.\nno tab here\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"spa.txt:2: expected"):
        data.read_pairs(tmp_path)
    (tmp_path / "spa.txt").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(DataError, match="not UTF-8"):
        data.read_pairs(tmp_path)


def test_batches_pad_right_and_weight_real_tokens() -> None:
    (source, decoder_input), decoder_target, weights = data.teacher_forcing_batch(
        [[5, 6, 7], [8]], [[2, 9, 3], [2, 10, 11, 3]]
    )
    np.testing.assert_array_equal(source, [[5, 6, 7], [8, 0, 0]])
    np.testing.assert_array_equal(decoder_input, [[2, 9, 3], [2, 10, 11]])
    np.testing.assert_array_equal(decoder_target, [[9, 3, 0], [10, 11, 3]])
    np.testing.assert_array_equal(weights, [[1, 1, 0], [1, 1, 1]])


# -- model -------------------------------------------------------------------------------


def test_training_lowers_the_loss_and_writes_a_checkpoint(trained) -> None:
    result, _ = trained
    losses = result.history["loss"]
    assert len(losses) == TINY_MODEL["epochs"] and losses[-1] < losses[0]
    for name in ("model.keras", "train_config.json", "history.csv"):
        assert (result.checkpoint_dir / name).is_file()
    assert json.loads((result.checkpoint_dir / "train_config.json").read_text())["best_epoch"] == result.best_epoch
    import io
    import zipfile

    import h5py

    weights = zipfile.ZipFile(result.checkpoint_dir / "model.keras").read("model.weights.h5")
    with h5py.File(io.BytesIO(weights), "r") as handle:
        assert "layers" in handle and "optimizer" not in handle  # shipped without Adam's moments


def test_step_interface_matches_teacher_forcing(trained) -> None:
    _, translator = trained
    model = translator.model
    source = np.array([[5, 6, 7, 0], [8, 9, 0, 0]], dtype=np.int32)
    decoder_input = np.array([[2, 5, 6], [2, 7, 8]], dtype=np.int32)
    expected = np.asarray(model((source, decoder_input)))
    encoder_outputs, mask, states = model.encode(source)
    for step in range(decoder_input.shape[1]):
        logits, states, weights = model.decode_step(decoder_input[:, step], states, encoder_outputs, mask)
        np.testing.assert_allclose(np.asarray(logits), expected[:, step], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(np.asarray(weights).sum(-1), 1.0, rtol=1e-5)
        assert np.all(np.asarray(weights)[1, 2:] == 0.0)


def test_save_and_load_with_safe_mode_keep_the_translations(trained, tmp_path) -> None:
    from musicgen.demos.translation import Translator

    _, translator = trained
    translator.model.save(tmp_path / "model.keras")
    reloaded = Translator.load(tmp_path)
    sentences = SENTENCES
    assert reloaded.translate(sentences) == translator.translate(sentences)
    assert reloaded.model.target_vocabulary == translator.model.target_vocabulary
    assert reloaded.model.truecase == translator.model.truecase


def test_beam_of_one_equals_greedy_and_batching_changes_nothing(trained) -> None:
    from musicgen.demos.translation.decoding import beam_search_decode, greedy_decode

    _, translator = trained
    sentences = SENTENCES
    source = data.pad_batch([data.encode_tokens(data.tokenize(s), translator.source_index) for s in sentences])
    greedy = greedy_decode(translator.steps, source, 12)
    beam = beam_search_decode(translator.steps, source, 12, beam_size=1)
    assert [g.ids for g in greedy] == [b.ids for b in beam]
    for g, b in zip(greedy, beam, strict=True):
        np.testing.assert_allclose(g.attention, b.attention, rtol=1e-6)
    together = translator.translate(sentences, beam_size=3)
    assert together == [translator.translate(s, beam_size=3)[0] for s in sentences]
    assert translator.translate(sentences, beam_size=1) == [translator.translate(s)[0] for s in sentences]


def test_beam_search_never_scores_below_its_own_first_hypothesis(trained) -> None:
    from musicgen.demos.translation.decoding import beam_search_decode, greedy_decode

    _, translator = trained
    source = data.pad_batch([data.encode_tokens(data.tokenize(SENTENCES[0]), translator.source_index)])
    greedy = greedy_decode(translator.steps, source, 12)[0]
    wide = beam_search_decode(translator.steps, source, 12, beam_size=4, length_penalty=0.0)[0]
    assert wide.score >= greedy.score - 1e-6


def test_bad_inputs_are_handled(trained) -> None:
    _, translator = trained
    empty, unknown = translator.translate_detailed(["", "xyzzy qwrtz"])
    assert empty.text == "" and unknown.text == ""
    assert unknown.unknown_words == ["xyzzy", "qwrtz"]
    with pytest.raises(DataError, match="more than the"):
        translator.translate(" ".join(["hola"] * (translator.max_input_tokens + 1)))


def test_missing_or_corrupt_checkpoint_is_a_checkpoint_error(tmp_path) -> None:
    from musicgen.demos.translation import Translator

    with pytest.raises(CheckpointError, match="no such file"):
        Translator.load(tmp_path)
    (tmp_path / "model.keras").write_bytes(b"not a zip archive")
    with pytest.raises(CheckpointError, match="not a loadable translation model"):
        Translator.load(tmp_path)


def test_evaluate_reports_bleu_chrf_and_token_accuracy(trained, tiny_data) -> None:
    import sacrebleu

    from musicgen.demos.translation import evaluate_translator

    _, translator = trained
    result = evaluate_translator(translator, tiny_data, split="validation")
    pairs = data.load_splits(tiny_data, translator.model.max_tokens)["validation"]
    hypotheses = translator.translate([pair.source for pair in pairs])
    references = [[pair.target for pair in pairs]]
    assert result["sentences"] == len(pairs) > 5
    assert result["bleu"] == round(sacrebleu.corpus_bleu(hypotheses, references).score, 2)
    assert result["chrf"] == round(sacrebleu.corpus_chrf(hypotheses, references).score, 2) > 0.0
    assert 0.0 < result["token_accuracy"] <= 1.0
    assert evaluate_translator(translator, tiny_data, split="train", limit=7)["sentences"] == 7


# -- command line ------------------------------------------------------------------------


def test_cli_train_evaluate_predict(trained, tiny_data, tmp_path, capsys) -> None:
    result, _ = trained
    out = tmp_path / "cli_model"
    args = ["--units", "16", "--embedding-dim", "8", "--epochs", "12", "--batch-size", "16",
            "--learning-rate", "0.01", "--dropout", "0", "--min-count", "1"]
    assert main(["translate", "train", "--data", str(tiny_data), "--out", str(out), *args]) == 0
    assert "best epoch" in capsys.readouterr().out
    # Same seed and settings as the API run: the same weights, so the same loss history.
    cli_history = (out / "history.csv").read_text()
    assert cli_history == (result.checkpoint_dir / "history.csv").read_text()

    assert main(["translate", "train", "--data", str(tiny_data), "--out", str(out), "--resume", "--epochs", "1"]) == 0
    record = json.loads((out / "train_config.json").read_text())
    assert record["runs"] == 2 and record["epochs_run"] == 13 and len(record["history"]["loss"]) == 13
    assert (out / "history.csv").read_text().startswith(cli_history)

    assert main(["translate", "evaluate", "--checkpoint", str(out), "--data", str(tiny_data),
                 "--split", "train", "--limit", "10", "--json"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert set(json.loads(last)) >= {"bleu", "chrf", "token_accuracy"}

    plot = tmp_path / "attention.png"
    assert main(["translate", "predict", SENTENCES[0], "--checkpoint", str(out), "--plot", str(plot)]) == 0
    assert capsys.readouterr().out.strip()
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_errors_exit_2_with_a_message(trained, tmp_path, capsys) -> None:
    result, _ = trained
    checkpoint = str(result.checkpoint_dir)
    assert main(["translate", "predict", "  ", "--checkpoint", checkpoint]) == 2
    assert "nothing to translate" in capsys.readouterr().err
    assert main(["translate", "predict", "xyzzy qwrtz", "--checkpoint", checkpoint]) == 2
    assert "no known Spanish word" in capsys.readouterr().err
    assert main(["translate", "evaluate", "--checkpoint", str(tmp_path)]) == 2
    assert "musicgen translate: error:" in capsys.readouterr().err


def test_package_exports_its_api_lazily_without_starting_tensorflow() -> None:
    import subprocess
    import sys

    code = ("import sys, musicgen.demos.translation as t, musicgen.cli.translate; "
            "assert 'tensorflow' not in sys.modules; t.TranslatorConfig(); "
            "assert 'tensorflow' not in sys.modules; t.Translator; t.train_translator; t.evaluate_translator; "
            "assert 'tensorflow' in sys.modules; print(sorted(set(t.__all__) - set(dir(t))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_shipped_translator_loads_in_safe_mode_by_its_registered_name() -> None:
    import keras

    from musicgen.demos.translation.model import Seq2SeqTranslator
    from musicgen.paths import TRANSLATION_CHECKPOINT

    model = keras.saving.load_model(TRANSLATION_CHECKPOINT / "model.keras", safe_mode=True, compile=False)
    assert isinstance(model, Seq2SeqTranslator)
    assert keras.saving.get_registered_name(Seq2SeqTranslator) == "musicgen>Seq2SeqTranslator"
