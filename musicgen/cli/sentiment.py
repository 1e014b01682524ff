"""``musicgen sentiment pretrain|train|evaluate|predict``: the sentiment demo on UCI labelled sentences.

Every option of ``train`` and ``pretrain`` is a field of a config dataclass
(:mod:`musicgen.demos.sentiment.config`), declared here once with its help text; the
default shown is the dataclass's, and an option left out keeps it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from musicgen.cli import add_verbose
from musicgen.demos.sentiment.config import (
    CELLS,
    DEFAULT_ENCODER_DIR,
    DEFAULT_TRAIN_DIR,
    IMPLEMENTATIONS,
    POOLED_LAYERS,
    POOLINGS,
    SCRATCH_ARCHITECTURE,
    FineTuneConfig,
    PretrainConfig,
    SentimentConfig,
)
from musicgen.errors import ConfigError, DataError
from musicgen.paths import SENTIMENT_CHECKPOINT, SENTIMENT_DATA_DIR, TRANSLATION_DATA_DIR

DESCRIPTION = """\
Classify sentences as positive or negative with recurrent networks built from
musicgen's cells, next to a bag-of-words logistic-regression baseline. The classifier
is trained from scratch, or fine-tuned from forward and backward language models
pretrained on English text (ULMFiT). Data: UCI "Sentiment Labelled Sentences"
(Amazon, IMDb, Yelp), split by a stable hash.

  musicgen sentiment predict "The food was great" "Not worth the money"
  musicgen sentiment evaluate --json
  musicgen sentiment pretrain --out runs/sentiment-encoder --max-minutes 120
  musicgen sentiment train --from runs/sentiment-encoder --out runs/sentiment
"""

PRETRAIN_EXAMPLE = """\
example:
  musicgen sentiment pretrain --out runs/sentiment-encoder --max-minutes 120
  musicgen sentiment train --from runs/sentiment-encoder --out runs/sentiment-ulmfit
"""

TRAIN_EXAMPLE = """\
examples:
  musicgen sentiment train --cell lstm --out runs/sentiment-lstm          from scratch
  musicgen sentiment train --from runs/sentiment-encoder --out runs/sentiment-ulmfit
  musicgen sentiment train --from runs/sentiment-encoder --freeze-encoder --out runs/sentiment-frozen
  musicgen sentiment evaluate --checkpoint runs/sentiment-ulmfit
"""

EVALUATE_EXAMPLE = """\
example:
  musicgen sentiment evaluate                  the shipped model on the test split
  musicgen sentiment evaluate --checkpoint runs/sentiment --split validation --json
"""

PREDICT_EXAMPLE = """\
example:
  musicgen sentiment predict "I loved this phone" "The plot was not good at all"
  musicgen sentiment predict --file reviews.txt --json     (one sentence per line; - for stdin)
"""

CHOICES = {"cell": CELLS, "implementation": IMPLEMENTATIONS, "pooling": POOLINGS, "pooled_layers": POOLED_LAYERS}

TRAIN_OPTIONS = {  # SentimentConfig and FineTuneConfig fields; a name in both sets both
    "cell": "recurrent cell (from scratch)",
    "implementation": "musicgen's cells or Keras's own layers (from scratch)",
    "pooling": "sentence vector from scratch: the last states, or max/mean over all words",
    "members": "independently initialised networks averaged in one model (from scratch)",
    "units": "recurrent units per direction (from scratch)",
    "embedding_dim": "word embedding size (from scratch)",
    "embedding_dropout": "rate of dropping whole word vectors (from scratch)",
    "max_tokens": "vocabulary size from scratch and of the baseline, counting padding and out-of-vocabulary",
    "min_count": "keep words seen at least this often in training (from scratch and the baseline)",
    "max_length": "words read per sentence; the rest is ignored",
    "pooled_layers": "what each head pools: the top recurrent layer, or every level with the word vectors (--from)",
    "dropout": "dropout before the output layer (with --from: before each head layer)",
    "head_units": "hidden units of each direction's head, 0 for none (--from)",
    "epochs": "most epochs (early stopping on validation accuracy)",
    "patience": "epochs without validation gain before stopping",
    "batch_size": "sentences per batch",
    "learning_rate": "Adam learning rate (with --from: the peak rate of the top layer group)",
    "layer_decay": "each lower layer group learns this many times slower (--from)",
    "warmup_fraction": "share of the epochs over which the rate rises to its peak (--from)",
    "gradual_unfreezing": "train the top layer group first and one more each epoch (--from)",
    "freeze_encoder": "train the heads only; the pretrained encoder stays as it is (--from)",
    "lm_epochs": "first fine-tune the language models on the training sentences this many epochs (--from)",
    "lm_learning_rate": "Adam learning rate of that language-model fine-tuning (--from)",
    "refit": "after choosing epochs on validation, retrain on train + validation",
    "seed": "random seed (same seed, same model)",
}

PRETRAIN_OPTIONS = {  # PretrainConfig fields
    "cell": "recurrent cell of both language models",
    "implementation": "musicgen's cells or Keras's own layers",
    "embedding_dim": "word embedding size, shared by both directions",
    "units": "recurrent units of each layer",
    "num_layers": "recurrent layers per direction",
    "word_dropout": "rate of dropping whole words from the embedding",
    "dropout": "dropout on each recurrent layer's inputs and on the top layer's outputs",
    "min_count": "keep words seen at least this often in the English and sentiment training sentences",
    "max_words": "most words in the vocabulary",
    "max_length": "words read per sentence; the rest is ignored",
    "batch_size": "sentences per batch",
    "epochs": "most epochs",
    "learning_rate": "Adam learning rate, halved after each epoch without held-out gain",
    "clipnorm": "clip the gradients' global norm to this",
    "validation_fraction": "share of the English sentences held out to score the language models",
    "max_minutes": "stop after this many minutes; the best epoch so far is kept",
    "seed": "random seed",
}

_TYPES = {"int": int, "float": float, "str": str, "bool": bool}


def _fields(config_class: type) -> dict[str, dataclasses.Field]:
    return {item.name: item for item in dataclasses.fields(config_class)}


def _add_config_options(parser: argparse.ArgumentParser, options: dict[str, str], *config_classes: type,
                        alternative: str = "") -> None:
    """One ``--name`` per field in ``options``, typed and defaulted from the first class that has it.

    Left-out options stay absent from the namespace (the dataclass default applies), so a
    command can tell what was given. A field whose default differs in the second class
    shows both (``alternative`` names when the second applies).
    """
    defaults = [config_class() for config_class in config_classes]
    for name, text in options.items():
        owners = [(config, _fields(type(config))[name]) for config in defaults if name in _fields(type(config))]
        if not owners:
            raise ValueError(f"no config has a field {name!r}")  # a mistake in this module, not the user's
        config, field = owners[0]
        kind = _TYPES[str(field.type).split("|")[0].strip()]
        shown = ["none" if getattr(owner, name) is None else f"{getattr(owner, name)}" for owner, _ in owners]
        default = shown[0] if len(set(shown)) == 1 else f"{shown[0]}; {shown[1]} {alternative}"
        flag = f"--{name.replace('_', '-')}"
        common = dict(dest=name, default=argparse.SUPPRESS, help=f"{text} (default: {default})")
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, **common)
        else:
            choices = CHOICES.get(name)
            parser.add_argument(flag, type=kind, choices=choices, metavar=None if choices else name.upper(), **common)


def _given(args: argparse.Namespace, config_class: type) -> dict:
    """The options given on the command line that are fields of ``config_class``."""
    return {name: value for name, value in vars(args).items() if name in _fields(config_class)}


def register(subparsers: argparse._SubParsersAction) -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = subparsers.add_parser(
        "sentiment", help="sentiment demo: pretrain, train, evaluate or run a sentence classifier",
        description=DESCRIPTION, formatter_class=formatter,
    )
    add_verbose(parser)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    pretrain = actions.add_parser(
        "pretrain", help="pretrain forward and backward language models as the classifier's encoder",
        epilog=PRETRAIN_EXAMPLE, formatter_class=formatter,
        description="Train a forward and a backward recurrent language model (one shared word embedding) on "
        "the English side of the translation corpus, leaving out every sentence of the sentiment data. "
        "The vocabulary also counts the sentiment training split's words. Writes a directory for "
        "'train --from'.",
    )
    pretrain.add_argument("--translation-data", type=Path, default=TRANSLATION_DATA_DIR,
                          help="folder holding spa.txt (default: %(default)s)")
    pretrain.add_argument("--data", type=Path, default=SENTIMENT_DATA_DIR,
                          help="sentiment data directory, whose sentences are left out (default: %(default)s)")
    pretrain.add_argument("--out", type=Path, default=Path(DEFAULT_ENCODER_DIR),
                          help="encoder directory to write (default: %(default)s)")
    _add_config_options(pretrain, PRETRAIN_OPTIONS, PretrainConfig)
    pretrain.add_argument("--json", action="store_true", help="print a summary as one JSON object on the last line")
    pretrain.set_defaults(handler=run_pretrain)

    train = actions.add_parser(
        "train", help="train a classifier and its baseline", epilog=TRAIN_EXAMPLE, formatter_class=formatter,
        description="Train the recurrent classifier (from scratch, or fine-tuned from a pretrained encoder "
        "with --from) and the bag-of-words baseline on the train split, select epochs on the validation "
        "split, and report the test split (unless --no-score-test).",
    )
    train.add_argument("--data", type=Path, default=SENTIMENT_DATA_DIR, help="data directory (default: %(default)s)")
    train.add_argument("--out", type=Path, default=Path(DEFAULT_TRAIN_DIR),
                       help="checkpoint directory to write (default: %(default)s)")
    train.add_argument("--from", dest="pretrained", type=Path, metavar="PRETRAINED",
                       help="fine-tune the encoder in this directory (from 'musicgen sentiment pretrain')")
    _add_config_options(train, TRAIN_OPTIONS, SentimentConfig, FineTuneConfig, alternative="with --from")
    train.add_argument("--score-test", action=argparse.BooleanOptionalAction, default=True,
                       help="score the test split at the end; leave it out while choosing settings (default: %(default)s)")
    train.add_argument("--json", action="store_true", help="print the scores as one JSON object on the last line")
    train.set_defaults(handler=run_train)

    evaluate = actions.add_parser(
        "evaluate", help="accuracy, F1 and confusion matrix against the baseline", epilog=EVALUATE_EXAMPLE,
        description="Score a checkpoint and its bag-of-words baseline on a split: accuracy, F1, confusion "
        "matrix, and accuracy with each sentence's words shuffled (a bag of words cannot tell).",
        formatter_class=formatter,
    )
    evaluate.add_argument("--checkpoint", type=Path, default=SENTIMENT_CHECKPOINT,
                          help="checkpoint directory (default: the shipped model, %(default)s)")
    evaluate.add_argument("--data", type=Path, default=SENTIMENT_DATA_DIR, help="data directory (default: %(default)s)")
    evaluate.add_argument("--split", choices=("train", "validation", "test"), default="test",
                          help="which split to score (default: %(default)s)")
    evaluate.add_argument("--json", action="store_true", help="print the result as one JSON object on the last line")
    evaluate.set_defaults(handler=run_evaluate)

    predict = actions.add_parser(
        "predict", help="label and probability for each sentence", epilog=PREDICT_EXAMPLE,
        description="Print 'positive' or 'negative' and the probability of positive for each sentence.",
        formatter_class=formatter,
    )
    predict.add_argument("texts", nargs="*", metavar="TEXT", help="sentences to classify")
    predict.add_argument("--file", help="read sentences from this file, one per line ('-' for stdin)")
    predict.add_argument("--checkpoint", type=Path, default=SENTIMENT_CHECKPOINT,
                         help="checkpoint directory (default: the shipped model, %(default)s)")
    predict.add_argument("--json", action="store_true", help="print the predictions as one JSON object on the last line")
    predict.set_defaults(handler=run_predict)

    for action in (pretrain, train, evaluate, predict):
        add_verbose(action)


def run_pretrain(args: argparse.Namespace) -> int:
    from musicgen.demos.sentiment.pretraining import pretrain_encoder

    config = PretrainConfig(**_given(args, PretrainConfig))
    result = pretrain_encoder(args.translation_data, args.data, args.out, config, progress=True)
    record = result.encoder.record
    summary = {"out": str(result.out_dir), "best_epoch": result.best_epoch, "epochs_run": record["epochs_run"],
               "validation_perplexity": record["validation_perplexity"], "vocabulary_size": result.encoder.vocabulary_size,
               "train_seconds": record["train_seconds"], "train_cpu_seconds": record["train_cpu_seconds"]}
    perplexities = ", ".join(f"{key} {value:.1f}" for key, value in record["validation_perplexity"].items())
    print(f"saved {result.out_dir}: best epoch {result.best_epoch} of {record['epochs_run']}, held-out perplexity "
          f"{perplexities}, {record['train_seconds'] / 60:.1f} min", file=sys.stderr)
    if args.json:
        print(json.dumps(summary, sort_keys=True))
    return 0


def _train_configs(args: argparse.Namespace) -> tuple[SentimentConfig, FineTuneConfig | None]:
    """The run's configs from the given options; ``ConfigError`` for an option that does not apply."""
    given = {name for name in TRAIN_OPTIONS if name in vars(args)}
    if args.pretrained is None:
        only_fine_tune = sorted(given - set(_fields(SentimentConfig)))
        if only_fine_tune:
            raise ConfigError(f"--{only_fine_tune[0].replace('_', '-')} applies only with --from PRETRAINED")
        return SentimentConfig(**_given(args, SentimentConfig)), None
    fixed = sorted(given & set(SCRATCH_ARCHITECTURE))
    if fixed:
        raise ConfigError(f"--{fixed[0].replace('_', '-')} does not apply with --from: the pretrained encoder "
                          "fixes the network")
    return SentimentConfig(**_given(args, SentimentConfig)), FineTuneConfig(**_given(args, FineTuneConfig))


def run_train(args: argparse.Namespace) -> int:
    from musicgen.demos.sentiment import train_sentiment

    config, fine_tune = _train_configs(args)
    result = train_sentiment(args.data, args.out, config, progress=True, pretrained=args.pretrained,
                             fine_tune=fine_tune, score_test=args.score_test)
    print(f"saved {result.out_dir} after {result.seconds:.0f} s", file=sys.stderr)
    shown = result.metrics.get("test") or result.metrics.get("validation")
    if shown is not None:
        _print_scores(shown, args.out)
    summary = {"out": str(result.out_dir), "train_seconds": round(result.seconds, 1), **(shown or {})}
    if args.json:
        print(json.dumps(summary, sort_keys=True))
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from musicgen.demos.sentiment import evaluate_sentiment

    result = evaluate_sentiment(args.checkpoint, args.data, split=args.split)
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        _print_scores(result, args.checkpoint)
    return 0


def run_predict(args: argparse.Namespace) -> int:
    from musicgen.demos import text as text_utils
    from musicgen.demos.sentiment import SentimentClassifier

    texts = list(args.texts)
    if args.file == "-":
        texts += [line for line in sys.stdin.read().split("\n") if line.strip()]
    elif args.file:
        texts += [line for line in text_utils.read_lines(args.file) if line.strip()]
    if not texts:
        raise DataError("nothing to classify: give sentences as arguments or --file PATH")
    predictions = SentimentClassifier.load(args.checkpoint).predict(texts)
    if args.json:
        print(json.dumps({"predictions": [prediction.to_dict() for prediction in predictions]}, sort_keys=True))
        return 0
    for prediction in predictions:
        print(f"{prediction.label:<8}  {prediction.probability:.3f}  {prediction.text}")
        if prediction.warning:
            print(f"          ({prediction.warning})")
    return 0


def _print_scores(result: dict, checkpoint: Path) -> None:
    """A readable report: both models' scores and the recurrent model's confusion matrix."""
    described = ", ".join(str(result[key]) for key in ("encoder", "cell", "implementation") if key in result)
    print(f"checkpoint  {checkpoint} ({described})" if described else f"checkpoint  {checkpoint}")
    print(f"split       {result['split']} ({result['examples']} sentences)")
    print(f"{'':14}{'accuracy':>10}{'F1':>8}{'words shuffled':>16}")
    print(f"{'recurrent':14}{result['accuracy']:>10.3f}{result['f1']:>8.3f}{result['shuffled_accuracy']:>16.3f}")
    print(f"{'bag of words':14}{result['baseline_accuracy']:>10.3f}{result['baseline_f1']:>8.3f}"
          f"{result['baseline_shuffled_accuracy']:>16.3f}")
    (true_negative, false_positive), (false_negative, true_positive) = result["confusion_matrix"]
    print("confusion matrix of the recurrent model (rows: true label, columns: predicted)")
    print(f"{'':14}{'negative':>10}{'positive':>10}")
    print(f"{'negative':14}{true_negative:>10}{false_positive:>10}")
    print(f"{'positive':14}{false_negative:>10}{true_positive:>10}")
