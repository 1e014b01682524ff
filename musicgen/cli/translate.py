"""``musicgen translate train|evaluate|predict``: the Spanish-to-English attention demo."""

from __future__ import annotations

import argparse
import json
import sys

from musicgen.cli import add_verbose
from musicgen.demos.translation.config import CELLS, IMPLEMENTATIONS, TranslatorConfig
from musicgen.errors import ConfigError, DataError
from musicgen.paths import TRANSLATION_CHECKPOINT, TRANSLATION_DATA_DIR

DESCRIPTION = """\
Spanish-to-English translation with a bidirectional recurrent encoder, an attention
decoder and beam search, all on musicgen's own recurrent cells (Tatoeba pairs).

  musicgen translate predict "Hace mucho frío aquí." --plot attention.png
  musicgen translate evaluate --json
  musicgen translate train --out checkpoints/mine --max-minutes 30
"""

TRAIN_EXAMPLE = "example:\n  musicgen translate train --out checkpoints/mine --epochs 8 --max-minutes 30"
EVALUATE_EXAMPLE = "example:\n  musicgen translate evaluate --checkpoint checkpoints/translate --beam-size 4 --json"
PREDICT_EXAMPLE = 'example:\n  musicgen translate predict "Hace mucho frío aquí." --plot attention.png'


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "translate", help="Spanish-to-English translation demo (train, evaluate, predict)",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_verbose(parser)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    formatter = argparse.RawDescriptionHelpFormatter
    defaults = TranslatorConfig()

    train = actions.add_parser(
        "train", help="train a translator", formatter_class=formatter,
        description="Train on the train split; keep the epoch with the best validation loss.",
        epilog=TRAIN_EXAMPLE,
    )
    train.add_argument("--data", default=str(TRANSLATION_DATA_DIR), help="folder holding spa.txt (default: %(default)s)")
    train.add_argument("--out", default="runs/translate", help="checkpoint folder to write (default: %(default)s)")
    train.add_argument("--cell", choices=CELLS, default=defaults.cell, help="recurrent cell (default: %(default)s)")
    train.add_argument("--units", type=int, default=defaults.units, help="recurrent units (default: %(default)s)")
    train.add_argument("--embedding-dim", type=int, default=defaults.embedding_dim, help="word embedding width (default: %(default)s)")
    train.add_argument("--attention", choices=("additive", "general", "dot"), default=defaults.attention_score,
                       help="attention score: Bahdanau additive or Luong general/dot (default: %(default)s)")
    train.add_argument("--dropout", type=float, default=defaults.dropout, help="dropout rate (default: %(default)s)")
    train.add_argument("--implementation", choices=IMPLEMENTATIONS, default=defaults.implementation,
                       help="musicgen's cells (custom) or Keras's own layers (default: %(default)s)")
    train.add_argument("--max-tokens", type=int, default=defaults.max_tokens,
                       help="keep pairs with at most this many words and marks per side (default: %(default)s)")
    train.add_argument("--target-vocabulary", type=int, default=defaults.max_target_vocabulary, help="English vocabulary size cap (default: %(default)s)")
    train.add_argument("--source-vocabulary", type=int, default=defaults.max_source_vocabulary, help="Spanish vocabulary size cap (default: %(default)s)")
    train.add_argument("--min-count", type=int, default=defaults.min_count, help="keep words seen at least this often (default: %(default)s)")
    train.add_argument("--epochs", type=int, default=defaults.epochs, help="epochs (default: %(default)s)")
    train.add_argument("--batch-size", type=int, default=defaults.batch_size, help="sentence pairs per batch (default: %(default)s)")
    train.add_argument("--learning-rate", type=float, default=defaults.learning_rate, help="Adam learning rate (default: %(default)s)")
    train.add_argument("--max-minutes", type=float, default=None, help="stop training after this many minutes")
    train.add_argument("--max-train-pairs", type=int, default=None, help="use only the first N training pairs")
    train.add_argument("--resume", action="store_true",
                       help="continue training the model saved in --out for --epochs more epochs")
    train.add_argument("--seed", type=int, default=defaults.seed, help="random seed (default: %(default)s)")
    add_verbose(train)
    train.set_defaults(handler=run)

    evaluate = actions.add_parser(
        "evaluate", help="BLEU, chrF and token accuracy on the test split", formatter_class=formatter,
        description="Corpus BLEU and chrF (sacrebleu) of the translations of the test split, and "
        "teacher-forced next-token accuracy. Greedy batched decoding by default (fast).",
        epilog=EVALUATE_EXAMPLE,
    )
    evaluate.add_argument("--checkpoint", default=str(TRANSLATION_CHECKPOINT), help="checkpoint folder (default: %(default)s)")
    evaluate.add_argument("--data", default=str(TRANSLATION_DATA_DIR), help="folder holding spa.txt (default: %(default)s)")
    evaluate.add_argument("--split", choices=("test", "validation", "train"), default="test", help="split (default: test)")
    evaluate.add_argument("--beam-size", type=int, default=1, help="beam width; 1 is greedy (default: 1)")
    evaluate.add_argument("--limit", type=int, default=None, help="evaluate an evenly spaced sample of N pairs of the split")
    evaluate.add_argument("--json", action="store_true", help="print the result as one JSON object on the last line")
    add_verbose(evaluate)
    evaluate.set_defaults(handler=run)

    predict = actions.add_parser(
        "predict", help="translate Spanish sentences", formatter_class=formatter,
        description="Translate Spanish sentences into English; optionally plot the attention.",
        epilog=PREDICT_EXAMPLE,
    )
    predict.add_argument("text", nargs="+", help="Spanish sentence(s)")
    predict.add_argument("--checkpoint", default=str(TRANSLATION_CHECKPOINT), help="checkpoint folder (default: %(default)s)")
    predict.add_argument("--beam-size", type=int, default=4, help="beam width; 1 is greedy (default: 4)")
    predict.add_argument("--plot", default=None, help="write the attention heat-map of the first sentence (PNG)")
    add_verbose(predict)
    predict.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    return {"train": _train, "evaluate": _evaluate, "predict": _predict}[args.action](args)


def _train(args: argparse.Namespace) -> int:
    from musicgen.demos.translation import TranslatorConfig, train_translator

    config = TranslatorConfig(
        cell=args.cell, units=args.units, embedding_dim=args.embedding_dim, attention_score=args.attention,
        dropout=args.dropout, implementation=args.implementation, max_tokens=args.max_tokens,
        max_source_vocabulary=args.source_vocabulary, max_target_vocabulary=args.target_vocabulary,
        batch_size=args.batch_size, epochs=args.epochs, learning_rate=args.learning_rate,
        min_count=args.min_count, max_minutes=args.max_minutes, max_train_pairs=args.max_train_pairs, seed=args.seed,
    )
    result = train_translator(args.data, args.out, config, resume=args.resume)
    print(
        f"trained {result.epochs_run} epoch(s) in {result.seconds / 60:.1f} min; best epoch {result.best_epoch}: "
        f"validation loss {result.best_validation_loss:.3f}, token accuracy {result.best_validation_accuracy:.3f}"
    )
    print(f"saved {result.checkpoint_dir}; next: musicgen translate evaluate --checkpoint {result.checkpoint_dir}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from musicgen.demos.translation import evaluate_translator

    print(f"translating the {args.split} split (beam size {args.beam_size})...", file=sys.stderr)
    result = evaluate_translator(args.checkpoint, args.data, args.split, args.beam_size, args.limit, progress=True)
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        print(
            f"{result['split']}: {result['sentences']} sentences (at most {result['max_tokens']} tokens), "
            f"beam {result['beam_size']}: BLEU {result['bleu']:.2f}  chrF {result['chrf']:.2f}  "
            f"token accuracy {result['token_accuracy']:.4f}  ({result['seconds']:.0f} s)"
        )
    return 0


def _predict(args: argparse.Namespace) -> int:
    from musicgen.demos.translation import Translator

    if not any(text.strip() for text in args.text):
        raise DataError("nothing to translate: the text is empty")
    if args.beam_size < 1:
        raise ConfigError(f"--beam-size must be at least 1, got {args.beam_size}")
    translator = Translator.load(args.checkpoint)
    results = translator.translate_detailed(args.text, beam_size=args.beam_size)
    for result in results:
        if result.unknown_words and not result.text:
            raise DataError(
                f"no known Spanish word in {result.source!r} (unknown: {', '.join(result.unknown_words)})"
            )
        print(result.text)
        if result.unknown_words:
            print(f"note: words outside the vocabulary: {', '.join(result.unknown_words)}", file=sys.stderr)
    if args.plot:
        from musicgen.demos.translation.plot import plot_attention

        plot_attention(results[0], args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0
