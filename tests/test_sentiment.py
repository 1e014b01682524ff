"""The sentiment demo and its text utilities, on a few dozen sentences and a tiny model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from musicgen.cli import main
from musicgen.demos import sentiment
from musicgen.demos import text as text_utils
from musicgen.errors import CheckpointError, ConfigError, DataError
from musicgen.paths import SENTIMENT_CHECKPOINT, SENTIMENT_DATA_DIR

POSITIVE = ("good", "great", "excellent", "lovely", "wonderful", "amazing")
NEGATIVE = ("bad", "awful", "terrible", "poor", "horrible", "boring")
SUBJECTS = ("the food", "this phone", "the movie", "the service")
TINY = dict(units=4, embedding_dim=8, max_tokens=500, min_count=1, max_length=12, epochs=4,
            baseline_epochs=8, batch_size=8, learning_rate=0.02, baseline_learning_rate=0.05, seed=3)
TINY_FLAGS = ["--units", "4", "--embedding-dim", "8", "--min-count", "1", "--max-length", "12",
              "--epochs", "2", "--batch-size", "8", "--seed", "3"]


def tiny_sentences() -> list[tuple[str, int]]:
    """48 labelled sentences; each has a unique ``itemN`` word, so every split has words of its own."""
    sentences = []
    for number in range(48):
        label = number % 2
        word = (POSITIVE if label else NEGATIVE)[number // 2 % 6]
        subject = SUBJECTS[number // 12]
        sentences.append((f"{subject.capitalize()} was {word}, item{number}.", label))
    return sentences


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("sentiment-data")
    lines = "".join(f"{text}\t{label}\n" for text, label in tiny_sentences())
    (directory / "tiny_labelled.txt").write_text(lines, encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def trained(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> sentiment.TrainResult:
    config = sentiment.SentimentConfig(cell="gru", pooling="max_mean", members=2, **TINY)
    return sentiment.train_sentiment(tiny_data, tmp_path_factory.mktemp("sentiment-model"), config)


# ----------------------------------------------------------------------------- text utilities


def test_read_lines_splits_on_newline_only(tmp_path: Path) -> None:
    path = tmp_path / "lines.txt"
    path.write_bytes("one\u0085still one\r\ntwo\n".encode())
    assert text_utils.read_lines(path) == ["one\u0085still one", "two"]


def test_read_tab_separated_keeps_quotes_and_splits_from_the_right(tmp_path: Path) -> None:
    path = tmp_path / "rows.txt"
    path.write_text('He said "hi\tthere\t1\n\n"unclosed quote\t0\n', encoding="utf-8")
    assert text_utils.read_tab_separated(path, 2, from_right=True) == [
        ('He said "hi\tthere', "1"), ('"unclosed quote', "0"),
    ]
    with pytest.raises(DataError, match=r"rows.txt: line 1: expected 2 TAB-separated fields, found 3"):
        text_utils.read_tab_separated(path, 2)


def test_read_text_reports_bad_utf8_and_missing_files(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"fine\ncaf\xe9\n")
    with pytest.raises(DataError, match=r"latin1.txt: line 2: not valid UTF-8"):
        text_utils.read_text(path)
    with pytest.raises(DataError, match="no such file"):
        text_utils.read_text(tmp_path / "absent.txt")


def test_normalize_text_repairs_cp1252_controls_and_spacing() -> None:
    assert text_utils.repair_c1_controls("wait\x85 it\x96s \x97 fine\x81") == "wait… it–s — fine "
    assert text_utils.normalize_text("  Cafe\u0301\tis   good  ") == "Café is good"
    assert text_utils.split_key("The  FOOD was good ") == text_utils.split_key("the food was good")


def test_split_items_is_stable_and_independent_of_other_items() -> None:
    items = [f"sentence {number}" for number in range(300)]
    first = text_utils.split_items(items, key=str)
    again = text_utils.split_items(list(reversed(items)) + ["new one"], key=str)
    for name, members in first.items():
        assert set(members) <= set(again[name])
    assert sum(len(members) for members in first.values()) == 300
    assert 0 < len(first["test"]) < len(first["train"])


# ----------------------------------------------------------------------------- data and splits


def test_bundled_data_reads_exactly_as_documented() -> None:
    examples = sentiment.load_examples(SENTIMENT_DATA_DIR)
    assert len(examples) == 3000
    for source in ("amazon_cells", "imdb", "yelp"):
        labels = [example.label for example in examples if example.source == source]
        assert len(labels) == 1000 and sum(labels) == 500
    assert not any(text != text.strip() or any("\x80" <= c <= "\x9f" for c in text) for text in
                   (example.text for example in examples))
    assert (SENTIMENT_DATA_DIR / "SOURCE.md").is_file() and (SENTIMENT_DATA_DIR / "readme.txt").is_file()


def test_splits_are_deterministic_disjoint_and_keep_duplicates_together() -> None:
    examples = sentiment.load_examples(SENTIMENT_DATA_DIR)
    splits = sentiment.split_examples(examples)
    reversed_splits = sentiment.split_examples(list(reversed(examples)))
    assert {name: set(items) for name, items in splits.items()} == {
        name: set(items) for name, items in reversed_splits.items()
    }
    keys = {name: {text_utils.split_key(example.text) for example in items} for name, items in splits.items()}
    assert not keys["train"] & keys["test"] and not keys["validation"] & keys["test"]
    assert not keys["train"] & keys["validation"]
    assert 250 < len(splits["test"]) < 350 and 250 < len(splits["validation"]) < 350
    shouted = sentiment.Example(splits["test"][0].text.upper(), 1, "x")
    assert sentiment.split_examples([shouted])["test"] == [shouted]


def test_bad_data_files_raise_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such data directory"):
        sentiment.load_examples(tmp_path / "absent")
    with pytest.raises(DataError, match="no \\*_labelled.txt files"):
        sentiment.load_examples(tmp_path)
    (tmp_path / "bad_labelled.txt").write_text("fine\t1\nnot a label\t2\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad_labelled.txt: line 2: expected 'sentence<TAB>0'"):
        sentiment.load_examples(tmp_path)


def test_binary_metrics_match_a_hand_count() -> None:
    result = sentiment.binary_metrics([1, 1, 1, 0, 0], [0.9, 0.6, 0.2, 0.7, 0.1])
    assert result["confusion_matrix"] == [[1, 1], [1, 2]]
    assert result["accuracy"] == pytest.approx(3 / 5)
    assert result["precision"] == pytest.approx(2 / 3) and result["recall"] == pytest.approx(2 / 3)
    assert result["f1"] == pytest.approx(2 / 3)


def test_package_exports_its_api_lazily_without_starting_tensorflow() -> None:
    code = ("import sys, musicgen.demos.sentiment as s, musicgen.cli.sentiment; "
            "assert 'tensorflow' not in sys.modules; s.SentimentConfig(); s.load_examples; "
            "assert 'tensorflow' not in sys.modules; s.SentimentClassifier; s.train_sentiment; "
            "s.evaluate_sentiment; assert 'tensorflow' in sys.modules; print(sorted(set(s.__all__) - set(dir(s))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_cell_choices_are_the_cells_musicgen_builds() -> None:
    from musicgen.models.cells import CELL_KINDS

    assert set(sentiment.CELLS) == set(CELL_KINDS)


def test_shipped_models_load_in_safe_mode_by_their_registered_names() -> None:
    import keras

    from musicgen.demos.sentiment import layers, model  # noqa: F401  (model registers the cells it uses)

    for name in ("model.keras", "baseline.keras"):
        loaded = keras.saving.load_model(SENTIMENT_CHECKPOINT / name, safe_mode=True, compile=False)
        assert loaded.inputs[0].dtype == "string"
    assert keras.saving.get_registered_name(layers.MaskedGlobalMaxPooling1D) == "musicgen>MaskedGlobalMaxPooling1D"
    assert keras.saving.get_registered_name(layers.standardize_sentence) == "musicgen>standardize_sentence"


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ConfigError, match="cell must be one of"):
        sentiment.SentimentConfig(cell="transformer").validate()
    with pytest.raises(ConfigError, match="dropout must be in"):
        sentiment.SentimentConfig(dropout=1.5).validate()
    with pytest.raises(ConfigError, match="pooling must be one of"):
        sentiment.SentimentConfig(pooling="attention").validate()
    with pytest.raises(ConfigError, match="members must be at least 1"):
        sentiment.SentimentConfig(members=0).validate()


# ----------------------------------------------------------------------------- training and models


def test_training_lowers_the_loss_and_never_sees_test_words(trained: sentiment.TrainResult, tiny_data: Path) -> None:
    history = trained.history["model"]
    assert history["loss"][-1] < history["loss"][0]
    assert trained.history["baseline"]["loss"][-1] < trained.history["baseline"]["loss"][0]
    splits = sentiment.split_examples(sentiment.load_examples(tiny_data))
    assert splits["test"] and splits["validation"]
    seen = splits["train"] + splits["validation"]  # the refit trains on both
    seen_words = {word for words in sentiment.words_of([e.text for e in seen]) for word in words}
    vocabulary = set(trained.classifier.model.get_layer("vectorize").get_vocabulary()[2:])
    assert vocabulary == seen_words
    test_items = {word for words in sentiment.words_of([e.text for e in splits["test"]]) for word in words
                  if word.startswith("item")}
    assert test_items and not test_items & vocabulary


def test_refit_runs_for_the_epochs_validation_chose(trained: sentiment.TrainResult) -> None:
    for name in ("model", "baseline"):
        chosen = 1 + int(np.argmax(trained.history[name]["val_accuracy"]))
        refit = trained.history[f"refit_{name}"]
        assert len(refit["loss"]) == chosen and "val_accuracy" not in refit
    assert set(trained.metrics) == {"validation", "test"}


def test_encoder_is_bidirectional_over_musicgen_recurrent(trained: sentiment.TrainResult) -> None:
    from musicgen.models.recurrent import Recurrent

    wrappers = sentiment.encoders(trained.classifier.model)
    assert [wrapper.name for wrapper in wrappers] == ["bidirectional_1", "bidirectional_2"]
    for wrapper in wrappers:
        assert isinstance(wrapper.forward_layer, Recurrent) and isinstance(wrapper.backward_layer, Recurrent)
        assert wrapper.backward_layer.go_backwards and wrapper.forward_layer.return_sequences


def test_single_member_last_state_model_keeps_the_original_layout() -> None:
    from musicgen.models.recurrent import Recurrent

    config = sentiment.SentimentConfig(units=4, embedding_dim=4, pooling="last")
    model = sentiment.build_classifier(["good", "bad"], config)
    wrapper = model.get_layer("bidirectional")
    assert isinstance(wrapper.forward_layer, Recurrent) and not wrapper.forward_layer.return_sequences
    assert sentiment.encoders(model) == [wrapper]


def test_ensemble_answers_the_mean_of_members_trained_each_on_the_labels() -> None:
    config = sentiment.SentimentConfig(units=3, embedding_dim=4, pooling="mean", members=3, max_length=6)
    classifier, training = sentiment.build_models(["good", "bad", "food"], config)
    texts = ["good food", "bad", "food was bad bad good"]
    every = np.asarray(training(np.array(texts), training=False))
    assert every.shape == (3, 3) and not np.allclose(every[:, 0], every[:, 1])  # members differ
    np.testing.assert_allclose(sentiment.predict_probabilities(classifier, texts), every.mean(axis=1), rtol=1e-6)
    # Each member has weights of its own: the classifier holds three of everything.
    assert {layer.name for layer in classifier.layers} >= {"embedding_1", "embedding_3", "probability_2"}


def test_masked_max_pooling_ignores_padding_steps() -> None:
    from musicgen.demos.sentiment.layers import MaskedGlobalMaxPooling1D

    values = np.array([[[-3.0, 1.0], [-2.0, 5.0], [9.0, 9.0]], [[-1.0, -4.0], [7.0, 7.0], [8.0, 8.0]]], "float32")
    mask = np.array([[True, True, False], [True, False, False]])
    pooled = np.asarray(MaskedGlobalMaxPooling1D()(values, mask=mask))
    np.testing.assert_array_equal(pooled, [[-2.0, 5.0], [-1.0, -4.0]])
    np.testing.assert_array_equal(np.asarray(MaskedGlobalMaxPooling1D()(values, mask=np.zeros((2, 3), bool))), 0.0)
    np.testing.assert_array_equal(np.asarray(MaskedGlobalMaxPooling1D()(values)), [[9.0, 9.0], [8.0, 8.0]])


def test_save_load_round_trip_in_safe_mode(trained: sentiment.TrainResult) -> None:
    texts = ["The food was great", "this phone was awful!", "item3 wonderful"]
    loaded = sentiment.SentimentClassifier.load(trained.out_dir)
    np.testing.assert_allclose(loaded.probabilities(texts), trained.classifier.probabilities(texts), rtol=1e-6)
    assert loaded.config == trained.classifier.config
    assert (trained.out_dir / "config.json").is_file() and (trained.out_dir / "metrics.json").is_file()


def test_same_seed_gives_identical_weights(trained: sentiment.TrainResult, tiny_data: Path, tmp_path: Path) -> None:
    again = sentiment.train_sentiment(tiny_data, tmp_path, trained.classifier.config)
    for first, second in zip(trained.classifier.model.get_weights(), again.classifier.model.get_weights(), strict=True):
        np.testing.assert_array_equal(first, second)
    assert again.history == trained.history


def test_evaluate_reports_metrics_and_baseline(trained: sentiment.TrainResult, tiny_data: Path) -> None:
    result = sentiment.evaluate_sentiment(trained.out_dir, tiny_data)
    test_size = len(sentiment.split_examples(sentiment.load_examples(tiny_data))["test"])
    assert result["examples"] == test_size == int(np.sum(result["confusion_matrix"]))
    assert int(np.sum(result["baseline_confusion_matrix"])) == test_size
    assert 0.0 <= result["accuracy"] <= 1.0 and 0.0 <= result["f1"] <= 1.0
    assert result["baseline_shuffled_accuracy"] == result["baseline_accuracy"]
    assert result == {**trained.metrics["test"], "encoder": "scratch", "cell": "gru", "implementation": "custom",
                      "checkpoint": str(trained.out_dir)}


def test_baseline_learns_word_polarity_and_ignores_word_order(trained: sentiment.TrainResult) -> None:
    baseline = trained.classifier.baseline
    probabilities = sentiment.predict_probabilities(baseline, ["great wonderful lovely", "terrible awful boring",
                                                        "lovely great wonderful"])
    assert probabilities[0] > 0.5 > probabilities[1]
    assert probabilities[0] == probabilities[2]


# ----------------------------------------------------------------------------- bad input


def test_empty_text_is_a_clear_error(trained: sentiment.TrainResult) -> None:
    for text in ("", "   \t ", "... --- ..."):
        with pytest.raises(DataError, match="text 2 is empty"):
            trained.classifier.predict(["good", text])


def test_unknown_words_get_a_flagged_guess(trained: sentiment.TrainResult) -> None:
    (prediction,) = trained.classifier.predict(["zyxxy qwopp flurble"])
    assert prediction.known_words == 0 and prediction.words == 3
    assert 0.0 <= prediction.probability <= 1.0 and prediction.label in ("positive", "negative")
    assert "none of its words is in the vocabulary" in prediction.warning


def test_overlong_text_is_truncated_to_max_length(trained: sentiment.TrainResult) -> None:
    words = ["great"] * 5 + ["awful"] * 7 + ["terrible"] * 50
    long, head = trained.classifier.predict([" ".join(words), " ".join(words[:12])])
    assert long.truncated and not head.truncated
    assert long.probability == head.probability
    assert "only the first 12 of 62 words were read" in long.warning
    with pytest.raises(DataError, match="the limit is 100000"):
        trained.classifier.predict(["good " * 30_000])


def test_missing_or_corrupt_checkpoint_is_a_checkpoint_error(trained: sentiment.TrainResult, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no such checkpoint directory"):
        sentiment.SentimentClassifier.load(tmp_path / "absent")
    with pytest.raises(CheckpointError, match="missing config.json"):
        sentiment.SentimentClassifier.load(tmp_path)
    (tmp_path / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(CheckpointError, match="config.json: corrupt"):
        sentiment.SentimentClassifier.load(tmp_path)
    (tmp_path / "config.json").write_bytes((trained.out_dir / "config.json").read_bytes())
    with pytest.raises(CheckpointError, match="model.keras: missing"):
        sentiment.SentimentClassifier.load(tmp_path)
    (tmp_path / "model.keras").write_bytes((trained.out_dir / "model.keras").read_bytes()[:500])
    with pytest.raises(CheckpointError, match="model.keras: cannot load"):
        sentiment.SentimentClassifier.load(tmp_path)


# ----------------------------------------------------------------------------- command line


def test_cli_train_evaluate_predict(tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "model"
    assert main(["sentiment", "train", "--data", str(tiny_data), "--out", str(out), *TINY_FLAGS,
                 "--cell", "lstm", "--implementation", "keras", "--no-refit", "--json"]) == 0
    trained = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert trained["out"] == str(out) and trained["split"] == "test"

    assert main(["sentiment", "evaluate", "--checkpoint", str(out), "--data", str(tiny_data), "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["accuracy"] == trained["accuracy"] and result["cell"] == "lstm"
    assert {"f1", "baseline_accuracy", "confusion_matrix"} <= result.keys()

    assert main(["sentiment", "evaluate", "--checkpoint", str(out), "--data", str(tiny_data)]) == 0
    assert "confusion matrix" in capsys.readouterr().out

    assert main(["sentiment", "predict", "--checkpoint", str(out), "great food", "awful service"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].split()[0] in ("positive", "negative")
    assert float(lines[1].split()[1]) == pytest.approx(
        sentiment.SentimentClassifier.load(out).predict(["awful service"])[0].probability, abs=5e-4)


def test_cli_errors_exit_2_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sentiment", "evaluate", "--checkpoint", str(tmp_path / "absent")]) == 2
    assert "musicgen sentiment: error: " in capsys.readouterr().err
    assert main(["sentiment", "predict", "--checkpoint", str(tmp_path / "absent")]) == 2
    assert "nothing to classify" in capsys.readouterr().err


@pytest.mark.skipif(not (SENTIMENT_CHECKPOINT / "config.json").exists(), reason="no shipped model yet")
def test_shipped_model_reproduces_its_scores_quietly_from_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "musicgen", "sentiment", "evaluate", "--json"],
        capture_output=True, text=True, check=True,
    )
    assert result.stderr == ""
    scores = json.loads(result.stdout.strip().splitlines()[-1])
    recorded = json.loads((SENTIMENT_CHECKPOINT / "metrics.json").read_text(encoding="utf-8"))["test"]
    assert {key: scores[key] for key in recorded} == recorded
    assert scores["accuracy"] >= 0.80 and scores["examples"] > 250  # the README records the measured score
    assert sum(path.stat().st_size for path in SENTIMENT_CHECKPOINT.iterdir()) < 5_000_000
