"""``musicgen sentiment train|evaluate|predict``: the sentiment demo on UCI labelled sentences."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from musicgen.cli import add_verbose
from musicgen.demos.sentiment.config import CELLS, IMPLEMENTATIONS, POOLINGS, SentimentConfig
from musicgen.errors import DataError
from musicgen.paths import SENTIMENT_CHECKPOINT, SENTIMENT_DATA_DIR

DESCRIPTION = """\
Classify sentences as positive or negative with a bidirectional recurrent network
built from musicgen's cells, next to a bag-of-words logistic-regression baseline.
Data: UCI "Sentiment Labelled Sentences" (Amazon, IMDb, Yelp), split by a stable hash.

  musicgen sentiment predict "The food was great" "Not worth the money"
  musicgen sentiment evaluate --json
  musicgen sentiment train --cell gru --out runs/sentiment
"""

TRAIN_EXAMPLE = """\
example:
  musicgen sentiment train --cell lstm --implementation custom --out runs/sentiment-lstm
  musicgen sentiment evaluate --checkpoint runs/sentiment-lstm
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


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sentiment", help="sentiment demo: train, evaluate or run a sentence classifier",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_verbose(parser)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    train = actions.add_parser(
        "train", help="train a classifier and its baseline", epilog=TRAIN_EXAMPLE,
        description="Train the recurrent classifier and the bag-of-words baseline on the train split, "
        "select epochs on the validation split, and report the test split.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_train_arguments(train)
    train.set_defaults(handler=run_train)

    evaluate = actions.add_parser(
        "evaluate", help="accuracy, F1 and confusion matrix against the baseline", epilog=EVALUATE_EXAMPLE,
        description="Score a checkpoint and its bag-of-words baseline on a split: accuracy, F1, confusion "
        "matrix, and accuracy with each sentence's words shuffled (a bag of words cannot tell).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    predict.add_argument("texts", nargs="*", metavar="TEXT", help="sentences to classify")
    predict.add_argument("--file", help="read sentences from this file, one per line ('-' for stdin)")
    predict.add_argument("--checkpoint", type=Path, default=SENTIMENT_CHECKPOINT,
                         help="checkpoint directory (default: the shipped model, %(default)s)")
    predict.add_argument("--json", action="store_true", help="print the predictions as one JSON object on the last line")
    predict.set_defaults(handler=run_predict)

    for action in (train, evaluate, predict):
        add_verbose(action)


def _add_train_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = SentimentConfig()
    parser.add_argument("--data", type=Path, default=SENTIMENT_DATA_DIR, help="data directory (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("runs/sentiment"),
                        help="checkpoint directory to write (default: %(default)s)")
    parser.add_argument("--cell", choices=CELLS, default=defaults.cell, help="recurrent cell (default: %(default)s)")
    parser.add_argument("--implementation", choices=IMPLEMENTATIONS, default=defaults.implementation,
                        help="musicgen's cells or Keras's own layers (default: %(default)s)")
    parser.add_argument("--pooling", choices=POOLINGS, default=defaults.pooling,
                        help="sentence vector: the last states, or max/mean over all words (default: %(default)s)")
    numbers = {
        "units": (int, "recurrent units per direction"),
        "embedding_dim": (int, "word embedding size"),
        "members": (int, "independently initialised networks averaged in one model"),
        "max_tokens": (int, "vocabulary size, counting padding and out-of-vocabulary"),
        "min_count": (int, "keep words seen at least this often in training"),
        "max_length": (int, "words read per sentence; the rest is ignored"),
        "embedding_dropout": (float, "rate of dropping whole word vectors"),
        "dropout": (float, "dropout before the output layer"),
        "epochs": (int, "most epochs (early stopping on validation accuracy)"),
        "patience": (int, "epochs without validation gain before stopping"),
        "batch_size": (int, "sentences per batch"),
        "learning_rate": (float, "Adam learning rate"),
        "seed": (int, "random seed (same seed, same model)"),
    }
    for name, (kind, text) in numbers.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, default=getattr(defaults, name),
                            help=f"{text} (default: %(default)s)")
    parser.add_argument("--refit", action=argparse.BooleanOptionalAction, default=defaults.refit,
                        help="after choosing epochs on validation, retrain on train + validation (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print the test metrics as one JSON object on the last line")


def run_train(args: argparse.Namespace) -> int:
    from musicgen.demos.sentiment import train_sentiment

    names = ("cell", "implementation", "pooling", "members", "units", "embedding_dim", "max_tokens", "min_count", "max_length",
             "embedding_dropout", "dropout", "epochs", "patience", "batch_size", "learning_rate", "refit", "seed")
    config = SentimentConfig(**{name: getattr(args, name) for name in names})
    result = train_sentiment(args.data, args.out, config, progress=True)
    test = result.metrics.get("test")
    print(f"saved {result.out_dir} after {result.seconds:.0f} s", file=sys.stderr)
    if test is not None:
        _print_scores(test, args.out)
    summary = {"out": str(result.out_dir), "train_seconds": round(result.seconds, 1), **(test or {})}
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
    print(f"checkpoint  {checkpoint} ({result.get('cell', '?')}, {result.get('implementation', '?')})"
          if "cell" in result else f"checkpoint  {checkpoint}")
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
