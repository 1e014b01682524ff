"""A model's test NLL against the n-gram for each corpus, and its samples' figures against each corpus.

    python scripts/experiments/per_corpus.py --checkpoint checkpoints/base --cache /work/cache/base48 \
        --samples 8 --bars 8 --json per_corpus.json

The test pieces of the checkpoint's cache are grouped by corpus (a corpus is a set of STYLE
labels: ``pop909``, every ``groove-*``, every ``nottingham-*``, music21's folk collections, its
Bach chorales, and the rest of music21's corpus). Each group is scored by teacher forcing (nats
per note) next to the n-gram baseline fitted on the training split (order and smoothing chosen
on validation), so no training piece is ever scored. Then ``--samples`` pieces of ``--bars``
bars are generated with one STYLE of each corpus, as ``musicgen generate --style`` writes them,
and their figures (:mod:`musicgen.evaluation.music_figures`: notes per bar, pitched polyphony,
pitch-class entropy, drum consistency, parallel fifths and octaves per bar) are set against the
same corpus's test pieces, decoded from their tokens.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from pathlib import Path

from musicgen.data.cache import load_cache
from musicgen.evaluation.heldout import count_notes
from musicgen.evaluation.music_figures import mean_figures
from musicgen.generation.options import GenerationOptions
from musicgen.generation.session import generate_files
from musicgen.models.likelihood import score_model
from musicgen.models.ngram import fit_baseline
from musicgen.music import midi_io
from musicgen.training.checkpoint import load_checkpoint

FOLK = ("airdsAirs", "ryansMammoth", "miscFolk", "essenFolksong")
BAND = ("freedoom", "simutrans", "openmsx", "lakh-reggae")


def corpus_of(style: str) -> str:
    """The corpus a STYLE label belongs to."""
    if style.startswith(("groove", "nottingham")):
        return style.split("-")[0]
    if style in FOLK:
        return "music21 folk"
    if style in BAND:
        return "band"
    return style if style in ("pop909", "bach", "openewld", "palestrina") else "music21 other"


def ngram_scores(cache, groups: dict[str, list[int]], vocab_size: int, saved: Path | None) -> dict[str, float]:
    """The n-gram's total NLL (nats) on each group's test pieces, fitted on the training split
    with its order and smoothing chosen on validation; read from ``saved`` when it exists, else
    written there (it depends on the cache alone, not on the model)."""
    if saved is not None and saved.is_file():
        return json.loads(saved.read_text())
    baseline = fit_baseline({"train": cache.streams("train"), "validation": cache.streams("validation")},
                            vocab_size, progress=True)
    streams, result = cache.streams("test"), {"order": baseline.model.order}
    for name, indices in groups.items():
        pieces = [streams[index] for index in indices if len(streams[index]) >= 2]
        result[name] = baseline.model.nll(pieces) * sum(len(piece) - 1 for piece in pieces)
    if saved is not None:
        saved.write_text(json.dumps(result))
    return result


def scores(loaded, cache, ngram: dict[str, float], groups: dict[str, list[int]]) -> dict[str, dict]:
    """Nats per note of the model and the n-gram on each group's test pieces."""
    tokenizer, streams = loaded.tokenizer, cache.streams("test")
    result = {}
    everything = [index for members in groups.values() for index in members]
    ngram = {**ngram, "all": sum(ngram[name] for name in groups)}
    for name, indices in {**groups, "all": everything}.items():
        pieces = [streams[index] for index in indices if len(streams[index]) >= 2]
        total, _, count = score_model(loaded.model, pieces, batch_size=8, pad_id=tokenizer.pad_id, progress=False)
        notes = max(count_notes(pieces, tokenizer), 1)
        ngram_total = ngram[name]
        result[name] = {"pieces": len(pieces), "tokens": count, "notes": notes, "model_nll_per_note": total / notes,
                        "ngram_nll_per_note": ngram_total / notes, "ratio": total / ngram_total,
                        "model_nll": total / count, "ngram_nll": ngram_total / count}
        print(f"{name}: {len(pieces)} pieces, model {total / notes:.3f} against the n-gram's "
              f"{ngram_total / notes:.3f} nats per note ({total / ngram_total:.3f}x)", flush=True)
    return result


def sample_figures(loaded, cache, groups: dict[str, list[int]], samples: int, bars: int, seed: int) -> dict:
    """Each corpus's commonest test STYLE sampled, and its figures against that corpus's test pieces."""
    tokenizer, streams, stats = loaded.tokenizer, cache.streams("test"), cache.stats("test")
    result = {}
    for name, indices in groups.items():
        style = Counter(stats[index]["style"] for index in indices).most_common(1)[0][0]
        with tempfile.TemporaryDirectory() as out:
            generate_files(loaded, GenerationOptions(style=style, num=samples, bars=bars, seed=seed, out_dir=out))
            sampled = [midi_io.read_piece(path) for path in sorted(Path(out).glob("*.mid"))]
        real = [tokenizer.decode_piece(streams[index]) for index in indices[:64]]
        result[name] = {"style": style, "samples": mean_figures(sampled), "real": mean_figures(real)}
        print(f"{name} ({style}): samples {_line(result[name]['samples'])}; real {_line(result[name]['real'])}",
              flush=True)
    return result


def _line(figures: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:.2f}" for name, value in figures.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="checkpoints/base", help="none: only the n-gram baseline")
    parser.add_argument("--cache", required=True, help="the prepared cache the checkpoint was trained on")
    parser.add_argument("--samples", type=int, default=8, help="samples per corpus (default 8)")
    parser.add_argument("--bars", type=int, default=8, help="bars per sample (default 8)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--baseline", type=Path, help="the n-gram's figures: read if the file exists, else written")
    args = parser.parse_args(argv)
    cache = load_cache(args.cache)
    groups: dict[str, list[int]] = {}
    for index, stats in enumerate(cache.stats("test")):
        groups.setdefault(corpus_of(stats["style"]), []).append(index)
    ngram = ngram_scores(cache, groups, cache.tokenizer.vocab_size, args.baseline)
    if args.checkpoint == "none":  # the baseline alone, saved for later runs
        return 0
    loaded = load_checkpoint(args.checkpoint)
    if cache.tokenizer_config != loaded.tokenizer.config:
        parser.error(f"{args.cache} was not encoded with {args.checkpoint}'s tokenizer")
    result = {"checkpoint": args.checkpoint, "cache": args.cache, "ngram_order": ngram.pop("order"),
              "scores": scores(loaded, cache, ngram, groups)}
    if args.samples:
        result["figures"] = sample_figures(loaded, cache, groups, args.samples, args.bars, args.seed)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
