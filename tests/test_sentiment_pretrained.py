"""Pretraining the sentiment encoder and fine-tuning it (ULMFiT), on tiny corpora and tiny models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from musicgen.cli import main
from musicgen.demos.sentiment.config import FineTuneConfig, PretrainConfig
from musicgen.demos.sentiment.schedule import (
    learning_rate_multipliers,
    slanted_triangular,
    trainable_groups,
)
from musicgen.errors import CheckpointError

POSITIVE = ("good", "great", "excellent", "lovely")
NEGATIVE = ("bad", "awful", "terrible", "boring")
SUBJECTS = ("the food", "this phone", "the movie", "the service")
LEFT_OUT = "The food was great, item3."  # a sentiment sentence that also sits in the English corpus
TINY_ENCODER = ["--embedding-dim", "8", "--units", "8", "--num-layers", "2", "--epochs", "5", "--batch-size", "8",
                "--min-count", "1", "--validation-fraction", "0.2", "--learning-rate", "0.01", "--seed", "1"]
TINY_FINE_TUNE = ["--epochs", "1", "--batch-size", "8", "--head-units", "4", "--learning-rate", "0.01",
                  "--min-count", "1", "--seed", "3"]


def tiny_sentiment() -> list[tuple[str, int]]:
    """40 labelled sentences; each has a unique ``itemN`` word, so every split has words of its own."""
    sentences = []
    for number in range(40):
        label = number % 2
        word = (POSITIVE if label else NEGATIVE)[number // 2 % 4]
        sentences.append((f"{SUBJECTS[number // 10].capitalize()} was {word}, item{number}.", label))
    return sentences


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pretraining-data")
    (root / "sentiment").mkdir()
    (root / "translation").mkdir()
    lines = "".join(f"{text}\t{label}\n" for text, label in tiny_sentiment())
    (root / "sentiment" / "tiny_labelled.txt").write_text(lines, encoding="utf-8")
    rng = np.random.default_rng(0)
    english = [f"{SUBJECTS[rng.integers(4)].capitalize()} is {'not ' if rng.random() < 0.3 else ''}"
               f"{(POSITIVE + NEGATIVE)[rng.integers(8)]} today, day {number}." for number in range(90)]
    english += [LEFT_OUT.upper(), "the food was great item3"]  # both read as the sentiment sentence
    pairs = "".join(f"{sentence}\tEspañol {number}.\tCC-BY 2.0\n" for number, sentence in enumerate(english))
    (root / "translation" / "spa.txt").write_text(pairs, encoding="utf-8")
    return {"sentiment": root / "sentiment", "translation": root / "translation"}


@pytest.fixture(scope="module")
def encoder_dir(data: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("encoder")
    assert main(["sentiment", "pretrain", "--translation-data", str(data["translation"]), "--data",
                 str(data["sentiment"]), "--out", str(out), *TINY_ENCODER]) == 0
    return out


@pytest.fixture(scope="module")
def encoder(encoder_dir: Path):
    from musicgen.demos.sentiment.pretrained import PretrainedEncoder

    return PretrainedEncoder.load(encoder_dir)


def tiny_config(**changes) -> FineTuneConfig:
    """A tiny fine-tuning on ULMFiT's own schedule (top layer pooled, gradual unfreezing,
    discriminative rates), which the tests below pin; the defaults are the validation winner."""
    ulmfit = {"pooled_layers": "top", "gradual_unfreezing": True, "layer_decay": 2.6, "lm_epochs": 0}
    return FineTuneConfig(**{"epochs": 4, "batch_size": 8, "head_units": 4, "learning_rate": 0.01, **ulmfit,
                             **changes})


# ----------------------------------------------------------------------------- corpus and vocabulary


def test_corpus_leaves_out_every_sentiment_sentence_and_the_vocabulary_never_counts_test(data) -> None:
    from musicgen.demos.sentiment.corpus import build_encoder_vocabulary, load_corpus
    from musicgen.demos.sentiment.data import load_examples, split_examples

    corpus = load_corpus(data["translation"], data["sentiment"], PretrainConfig(validation_fraction=0.2))
    sentences = corpus.train + corpus.validation
    assert corpus.excluded == 2 and len(sentences) == len(set(sentences)) == 90
    assert not any("item" in sentence.lower() for sentence in sentences)
    assert corpus.validation and len(corpus.validation) < len(corpus.train)
    vocabulary = build_encoder_vocabulary(corpus, min_count=1, max_words=1000)
    assert vocabulary[:2] == ["<s>", "</s>"] and {"today", "not", "food"} <= set(vocabulary)
    splits = split_examples(load_examples(data["sentiment"]))
    item = {split: {text.split("item")[1].rstrip(".") for text in (e.text for e in examples)}
            for split, examples in splits.items()}
    assert {f"item{number}" for number in item["train"]} <= set(vocabulary)
    assert not {f"item{number}" for number in item["validation"] | item["test"]} & set(vocabulary)


def test_next_word_targets_read_each_direction_then_end_the_sentence() -> None:
    from musicgen.demos.sentiment.language_model import length_batches, next_word_targets

    forward, backward = next_word_targets(np.array([[5, 6, 7], [8, 9, 0]]))
    np.testing.assert_array_equal(forward, [[5, 6, 7, 3], [8, 9, 3, 0]])
    np.testing.assert_array_equal(backward, [[7, 6, 5, 3], [9, 8, 3, 0]])
    batches = length_batches([[4], [4, 5, 6], [4, 5], [7]], batch_size=2)
    assert [batch.tolist() for batch in batches] == [[[4], [7]], [[4, 5, 0], [4, 5, 6]]]


def test_encoder_layers_reverse_prepend_and_pool_within_each_sentence() -> None:
    from musicgen.demos.sentiment.layers import (
        PrependToken,
        ReverseWithinLength,
        SentencePooling,
        TruncateTokens,
    )

    tokens = np.array([[5, 6, 7, 0], [8, 0, 0, 0], [0, 0, 0, 0]], "int32")
    np.testing.assert_array_equal(ReverseWithinLength()(tokens), [[7, 6, 5, 0], [8, 0, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(PrependToken(2)(tokens)[:, :2], [[2, 5], [2, 8], [2, 0]])
    np.testing.assert_array_equal(TruncateTokens(2)(tokens), tokens[:, :2])
    outputs = np.arange(3 * 5 * 2, dtype="float32").reshape(3, 5, 2)
    pooled = np.asarray(SentencePooling()([outputs, tokens]))
    np.testing.assert_array_equal(pooled[0], [6, 7, 6, 7, 4, 5])  # last, max, mean of steps 1..3
    np.testing.assert_array_equal(pooled[1], [12, 13, 12, 13, 12, 13])
    np.testing.assert_array_equal(pooled[2], [20, 21, 0, 0, 0, 0])  # no words: step 0 and zeros


# ----------------------------------------------------------------------------- pretraining


def test_pretraining_lowers_both_directions_loss(encoder) -> None:
    history = encoder.record["history"]
    for direction in ("forward", "backward"):
        assert history[f"loss_{direction}"][-1] < history[f"loss_{direction}"][0]
        assert history[f"val_loss_{direction}"][-1] < history[f"val_loss_{direction}"][0]
    assert encoder.record["best_epoch"] == int(np.argmin(np.add(history["val_loss_forward"],
                                                                history["val_loss_backward"]))) + 1
    assert encoder.record["corpus"]["excluded_sentiment_sentences"] == 2


def test_pretrained_directory_describes_itself_and_loads_in_safe_mode(encoder_dir: Path, encoder) -> None:
    import keras

    meta = json.loads((encoder_dir / "config.json").read_text(encoding="utf-8"))
    assert meta["format"] == "musicgen-sentiment-encoder" and meta["config"]["units"] == 8
    vocabulary = json.loads((encoder_dir / "vocabulary.json").read_text(encoding="utf-8"))
    assert meta["vocabulary_size"] == len(vocabulary) + 2 == encoder.vocabulary_size
    model = keras.saving.load_model(encoder_dir / "language_model.keras", safe_mode=True, compile=False)
    assert sorted(layer.name for layer in model.layers if "rnn" in layer.name) == [
        "backward_rnn_1", "backward_rnn_2", "forward_rnn_1", "forward_rnn_2"]
    assert getattr(model, "optimizer", None) is None  # saved without optimiser state


def test_broken_encoder_directories_are_checkpoint_errors(encoder_dir: Path, tmp_path: Path) -> None:
    from musicgen.demos.sentiment.pretrained import PretrainedEncoder

    with pytest.raises(CheckpointError, match="no such pretrained encoder"):
        PretrainedEncoder.load(tmp_path / "absent")
    with pytest.raises(CheckpointError, match="config.json: missing"):
        PretrainedEncoder.load(tmp_path)
    (tmp_path / "config.json").write_bytes((encoder_dir / "config.json").read_bytes())
    (tmp_path / "vocabulary.json").write_text('["<s>", "</s>", "one"]', encoding="utf-8")
    (tmp_path / "language_model.keras").write_bytes((encoder_dir / "language_model.keras").read_bytes())
    with pytest.raises(CheckpointError, match="embedding has .* rows, the vocabulary needs 5"):
        PretrainedEncoder.load(tmp_path)


# ----------------------------------------------------------------------------- fine-tuning


def test_classifier_starts_from_the_pretrained_weights(encoder) -> None:
    from musicgen.demos.sentiment.encoder import encoder_layer_names
    from musicgen.demos.sentiment.finetuning import build_fine_tuned_models

    classifier, training_model = build_fine_tuned_models(encoder, tiny_config())
    names = encoder_layer_names(encoder.config.num_layers)
    assert names == ["forward_rnn_2", "backward_rnn_2", "forward_rnn_1", "backward_rnn_1", "embedding"]
    for name in names:
        for loaded, pretrained in zip(classifier.get_layer(name).get_weights(),
                                      encoder.model.get_layer(name).get_weights(), strict=True):
            np.testing.assert_array_equal(loaded, pretrained)
    probabilities = np.asarray(training_model(np.array(["the food was good", "bad"]), training=False))
    assert probabilities.shape == (2, 2)
    np.testing.assert_allclose(np.asarray(classifier(np.array(["the food was good", "bad"]))).ravel(),
                               probabilities.mean(axis=1), rtol=1e-6)
    assert classifier.get_layer("forward_pooling").output.shape[-1] == 3 * 8  # last, max, mean of the top layer
    every_level, _ = build_fine_tuned_models(encoder, tiny_config(pooled_layers="all"))
    assert every_level.get_layer("forward_pooling").output.shape[-1] == 3 * (8 + 2 * 8)  # word vectors too


def test_unfreezing_schedule_and_discriminative_rates() -> None:
    assert [trainable_groups(epoch, 4) for epoch in range(6)] == [1, 2, 3, 4, 4, 4]
    assert [trainable_groups(epoch, 4, freeze_encoder=True) for epoch in range(3)] == [1, 1, 1]
    assert [trainable_groups(epoch, 4, gradual=False) for epoch in range(2)] == [4, 4]
    np.testing.assert_allclose(learning_rate_multipliers(4, 2.6), [1, 1 / 2.6, 1 / 2.6**2, 1 / 2.6**3])
    rates = [slanted_triangular(step / 100, peak=0.01, warmup_fraction=0.1) for step in range(101)]
    assert rates[0] == pytest.approx(0.01 / 32) and rates[10] == pytest.approx(0.01)
    assert rates[100] == pytest.approx(0.01 / 32) and max(rates) == rates[10]
    assert all(a < b for a, b in zip(rates[:10], rates[1:11], strict=True))
    assert all(a > b for a, b in zip(rates[10:-1], rates[11:], strict=True))


def test_layer_groups_unfreeze_top_first_with_lower_rates(encoder) -> None:
    from musicgen.demos.sentiment.data import Example
    from musicgen.demos.sentiment.finetuning import (
        FineTuner,
        build_fine_tuned_models,
        layer_groups,
        set_trainable,
    )

    config = tiny_config(epochs=3)
    classifier, training_model = build_fine_tuned_models(encoder, config)
    groups = layer_groups(classifier, encoder.config.num_layers, config.head_units)
    assert [[layer.name for layer in group] for group in groups] == [
        ["forward_head_norm", "backward_head_norm", "forward_head_hidden", "backward_head_hidden",
         "forward_hidden_norm", "backward_hidden_norm", "forward_probability", "backward_probability"],
        ["forward_rnn_2", "backward_rnn_2"], ["forward_rnn_1", "backward_rnn_1"], ["embedding"]]
    tuner = FineTuner(training_model, groups, config)
    examples = [Example("the food was good", 1, "x"), Example("the movie was bad", 0, "x")] * 4
    import tensorflow as tf

    batches = [(tf.constant([e.text for e in examples]), tf.constant([[float(e.label)] * 2 for e in examples]))]
    before = [[layer.get_weights() for layer in group] for group in groups]
    for epoch, trained in enumerate((1, 2)):  # the first two stages train; the rest only change flags
        assert tuner.train_epoch(epoch, batches)[1] == trained
        assert trainable_layers(classifier) == {layer.name for group in groups[:trained] for layer in group}
        for index, group in enumerate(groups):
            changed = any(not np.array_equal(a, b) for layer, old in zip(group, before[index], strict=True)
                          for a, b in zip(layer.get_weights(), old, strict=True))
            assert changed == (index < trained), (epoch, index)
        rate = slanted_triangular(epoch / config.epochs, config.learning_rate, config.warmup_fraction)
        for optimizer, multiplier in zip(tuner.optimizers[:trained], tuner.multipliers, strict=False):
            assert float(optimizer.learning_rate.numpy()) == pytest.approx(rate * multiplier, rel=1e-5)
    for count in (3, 4):
        set_trainable(groups, count)
        assert trainable_layers(classifier) == {layer.name for group in groups[:count] for layer in group}


def trainable_layers(model) -> set[str]:
    return {layer.name for layer in model.layers if layer.trainable and layer.weights}


def test_frozen_encoder_keeps_the_pretrained_weights(encoder, data) -> None:
    from musicgen.demos.sentiment.data import load_examples, split_examples
    from musicgen.demos.sentiment.encoder import encoder_layer_names
    from musicgen.demos.sentiment.finetuning import train_fine_tuned

    splits = split_examples(load_examples(data["sentiment"]))
    classifier, history, best = train_fine_tuned(encoder, splits, tiny_config(epochs=2, freeze_encoder=True), 2, 0)
    assert history["trainable_groups"] == [1, 1] and 1 <= best <= 2
    for name in encoder_layer_names(encoder.config.num_layers):
        for kept, pretrained in zip(classifier.get_layer(name).get_weights(),
                                    encoder.model.get_layer(name).get_weights(), strict=True):
            np.testing.assert_array_equal(kept, pretrained)


def test_train_from_pretrained_evaluate_and_predict(encoder_dir: Path, data, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "fine-tuned"
    assert main(["sentiment", "train", "--from", str(encoder_dir), "--data", str(data["sentiment"]), "--out",
                 str(out), *TINY_FINE_TUNE, "--lm-epochs", "1", "--no-refit", "--no-score-test", "--json"]) == 0
    trained = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert trained["split"] == "validation"
    meta = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert meta["fine_tune"]["lm_epochs"] == 1 and meta["encoder"]["config"]["units"] == 8
    assert "test" not in json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert main(["sentiment", "evaluate", "--checkpoint", str(out), "--data", str(data["sentiment"]),
                 "--split", "validation", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["encoder"] == "pretrained" and result["accuracy"] == trained["accuracy"]
    assert main(["sentiment", "predict", "--checkpoint", str(out), "great food", " ".join(["good"] * 60)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[0] in ("positive", "negative") and "only the first 48 of 60 words" in lines[-1]


def test_cli_refuses_options_that_do_not_apply(encoder_dir: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sentiment", "train", "--from", str(encoder_dir), "--cell", "gru", "--out", str(tmp_path)]) == 2
    assert "--cell does not apply with --from" in capsys.readouterr().err
    assert main(["sentiment", "train", "--layer-decay", "2", "--out", str(tmp_path)]) == 2
    assert "--layer-decay applies only with --from" in capsys.readouterr().err
    assert main(["sentiment", "train", "--from", str(tmp_path / "absent"), "--out", str(tmp_path)]) == 2
    assert "no such pretrained encoder" in capsys.readouterr().err
    assert main(["sentiment", "pretrain", "--units", "0", "--out", str(tmp_path)]) == 2
    assert "units must be at least 1" in capsys.readouterr().err


def test_train_options_are_the_config_fields_with_their_defaults() -> None:
    from musicgen.cli import build_parser

    parser = build_parser()
    help_text = parser._subparsers._group_actions[0].choices["sentiment"]._subparsers._group_actions[0] \
        .choices["train"].format_help()
    assert "(default: 25; 12 with --from)" in " ".join(help_text.split())
    args = parser.parse_args(["sentiment", "train", "--from", "x", "--learning-rate", "0.5"])
    assert args.learning_rate == 0.5 and not hasattr(args, "epochs")  # left out: the dataclass decides
