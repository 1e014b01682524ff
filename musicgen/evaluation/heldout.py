"""Score a checkpoint on held-out pieces next to an n-gram baseline.

The model is scored by teacher forcing over whole pieces: each piece runs through
the network in one pass from its BOS (the recurrent state is carried over the whole
piece, as when sampling), and every token after the first is scored exactly once.
Pieces are batched by length and padded at the end, which a causal network cannot
see. The baseline is :class:`musicgen.models.ngram.NGramModel` fitted on the training split,
its order and smoothing chosen on the validation split, scored on the same tokens.

When the data is the checkpoint's own training data, the pieces come from the
checkpoint's ``split.json``, so a test score never includes a training piece.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from musicgen.data.splits import SPLIT_CHOICES, SPLIT_NAMES
from musicgen.errors import ConfigError, DataError
from musicgen.models.likelihood import perplexity, score_pieces
from musicgen.models.ngram import DEFAULT_ORDERS, fit_baseline

MASKED_MASS_LIMIT = 0.05  # more probability than this removed per sampled token: the model breaks the rules

if TYPE_CHECKING:
    from musicgen.data.cache import TokenCache
    from musicgen.tokens import Tokenizer
    from musicgen.training.checkpoint import Checkpoint


def evaluate(
    checkpoint: Checkpoint | str | os.PathLike,
    data: str | os.PathLike | None = None,
    split: str = "test",
    batch_size: int = 8,
    ngram: bool = True,
    orders: tuple[int, ...] = DEFAULT_ORDERS,
    samples: int = 0,
    sample_length: int | None = None,
    temperature: float = 1.0,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Mean NLL (nats/token), perplexity and next-token accuracy of a checkpoint on ``split``.

    ``checkpoint`` is a directory or a loaded :class:`musicgen.training.checkpoint.Checkpoint`;
    ``data`` a music folder or prepared cache (default: the checkpoint's training data).
    With ``ngram`` the result also holds the baseline's ``ngram_nll``, ``ngram_order``,
    ``ngram_smoothing`` and ``ratio`` (nll / ngram_nll). With ``samples > 0`` it holds
    ``samples``: musical figures of that many model samples (and n-gram samples)
    against the split's pieces, see :mod:`musicgen.evaluation.metrics`.
    """
    from musicgen.training.checkpoint import resolve_checkpoint

    if split not in SPLIT_CHOICES:
        raise ConfigError(f"split must be one of {', '.join(SPLIT_CHOICES)}, got {split!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch size must be a positive integer, got {batch_size!r}")
    if not isinstance(samples, int) or samples < 0:
        raise ConfigError(f"--samples must be a non-negative integer, got {samples!r}")
    loaded = resolve_checkpoint(checkpoint)
    streams, source, left_out = split_streams(loaded, data)
    left_out = left_out[split]
    if left_out:
        _say(progress, f"left out {left_out} {split} pieces that {loaded.directory} trained on")
    pieces = [s for s in streams[split] if len(s) >= 2]
    if not pieces:
        raise DataError(f"the {split} split of {source} has no piece of two or more tokens to score")
    _say(progress, f"scoring {len(pieces)} {split} pieces ({sum(len(p) - 1 for p in pieces):,} tokens) from {source}")
    frames = loaded.tokenizer if hasattr(loaded.tokenizer, "frame_targets") else None  # the frames encoding
    scores = score_pieces(loaded.model, pieces, batch_size=batch_size, pad_id=loaded.tokenizer.pad_id,
                          progress=progress, frames=frames)
    total, correct, count = scores.total, scores.correct, scores.count
    nll = total / count
    notes = count_notes(pieces, loaded.tokenizer)
    result: dict[str, Any] = {
        "checkpoint": str(loaded.directory), "data": str(source), "split": split, "pieces": len(pieces),
        "tokens": count, "notes": notes, "nll": nll, "nll_per_note": total / max(notes, 1),
        "perplexity": perplexity(nll), "accuracy": correct / count, "encoding": loaded.tokenizer.config.encoding,
        "training_pieces_left_out": left_out,
        "scoring": "teacher forcing over whole pieces, every token after the first scored once",
    }
    if frames is not None:  # the polyphonic benchmark's figure: nats per frame, every frame of whole pieces
        result.update(frames=scores.frames, nll_per_frame=scores.frame_nll / max(scores.frames, 1),
                      nll_per_frame_unmasked=scores.frame_nll_unmasked / max(scores.frames, 1))
    baseline = None
    if ngram:
        baseline = fit_baseline(streams, loaded.tokenizer.vocab_size, orders, progress)
        result["ngram_nll"] = baseline.model.nll(pieces)
        result["ngram_nll_per_note"] = result["ngram_nll"] * count / max(notes, 1)
        result["ngram_order"] = baseline.model.order
        result["ngram_smoothing"] = baseline.model.smoothing
        result["ngram_validation_nll"] = baseline.validation_nll
        result["ratio"] = nll / result["ngram_nll"]
    if samples:
        result["samples"] = sample_figures(loaded, pieces, samples, sample_length, temperature, seed,
                                           baseline.model if baseline else None, progress, training=streams["train"])
    return result


def count_notes(pieces: list[np.ndarray], tokenizer: Tokenizer) -> int:
    """The notes of token streams: the tokens that complete a note (:attr:`Tokenizer.roles`).

    NLL per note compares encodings fairly: a note costs a different number of tokens in each, and
    a repeated part one token for all its notes (:meth:`Tokenizer.note_count` counts them played).
    """
    return int(sum(tokenizer.note_count(piece) for piece in pieces))


def split_streams(checkpoint: Checkpoint | str | os.PathLike,
                  data: str | os.PathLike | None) -> tuple[dict[str, list[np.ndarray]], Path, dict[str, int]]:
    """Token streams per split of ``data``, the data's path, and how many pieces of each split
    were left out because the checkpoint trained on them.

    ``data`` defaults to the checkpoint's recorded training data. When ``data`` is that
    data, the split is the checkpoint's ``split.json``; otherwise the data's own split. Either
    way a piece whose notes the checkpoint's training pieces played (``split.json``'s
    ``train_content``), or whose file is one of them (its training path ends the piece's
    path), leaves the validation and test splits (and ``all``, but for the checkpoint's own training pieces).
    """
    from musicgen.data.sources import open_data

    recorded = checkpoint.split or {}
    recorded_paths = [Path(p).expanduser().resolve() for p in (recorded.get("source_dir"), recorded.get("cache")) if p]
    if data is None:
        existing = [p for p in recorded_paths if p.exists()]
        if not existing:
            raise ConfigError(
                f"checkpoint {checkpoint.directory} records no training data that exists here; pass DATA "
                "(a music folder or a prepared cache)"
            )
        data = existing[0]
    cache = open_data(data, tokenizer_config=checkpoint.tokenizer.config)
    same = any(Path(p).resolve() in recorded_paths
               for p in (data, cache.directory, cache.manifest.get("source_dir", "")) if p)
    names = SPLIT_NAMES
    by_path = dict(zip(cache.files("all"), cache.streams("all"), strict=True))
    if same and all(isinstance(recorded.get(name), list) for name in names):
        chosen = {name: [p for p in recorded[name] if p in by_path] for name in names}
    else:
        chosen = {name: cache.files(name) for name in names}
    # A piano-roll file's own splits are the benchmark's: its test pieces are scored, twins of training pieces too.
    given = same and cache.manifest.get("split_source") == "file"
    trained = set() if given else _trained_on(checkpoint, cache, chosen["train"] if same else [])
    # Another data set's training split still fits the n-gram, but is scored (``all``) only where new;
    # the checkpoint's own training split is scored as asked (``--split train``, ``all``).
    scored = {name: [path for path in chosen[name] if path not in trained or (same and name == "train")]
              for name in names}
    left_out = {name: len(chosen[name]) - len(scored[name]) for name in names}
    left_out["all"] = sum(left_out.values())
    streams = {name: [by_path[path] for path in (chosen if name == "train" else scored)[name]] for name in names}
    streams["all"] = [by_path[path] for name in names for path in scored[name]]
    return streams, Path(data), left_out


def _trained_on(checkpoint: Checkpoint, cache: TokenCache, own_training: list[str]) -> set[str]:
    """The pieces of ``cache`` that the checkpoint trained on: by content, or by file."""
    from musicgen.data.duplicates import fingerprint

    recorded = checkpoint.split or {}
    contents = set(recorded.get("train_content") or [])
    source = Path(cache.manifest.get("source_dir") or cache.directory)
    pieces = dict(zip(cache.files("all"), cache.streams("all"), strict=True))
    contents |= {fingerprint(pieces[path], checkpoint.tokenizer)[0] for path in own_training}
    files = set(recorded.get("train") or [])
    trained = set()
    for entry in cache.pieces:
        path = entry["path"]
        content = entry.get("content") or fingerprint(pieces[path], checkpoint.tokenizer)[0]
        file, _, tune = path.partition("#")
        parts = (source / file).resolve().parts
        suffixes = {"/".join(parts[-count:]) + (f"#{tune}" if tune else "") for count in range(1, len(parts))}
        if content in contents or suffixes & files:
            trained.add(path)
    return trained


def sample_figures(checkpoint: Checkpoint | str | os.PathLike, reference: list[np.ndarray], samples: int, length: int | None,
                   temperature: float, seed: int, ngram_model: Any = None, progress: bool = False,
                   training: list[np.ndarray] | None = None) -> dict:
    """Musical figures of model (and n-gram) samples and of the reference pieces.

    With ``training`` pieces, also the copy check (:mod:`musicgen.evaluation.copying`) of the samples
    and, for comparison, of the held-out reference pieces.
    """
    from musicgen.evaluation import copying, metrics
    from musicgen.generation.sampler import Sampler

    tokenizer = checkpoint.tokenizer
    if length is None:
        length = int(np.median([len(r) for r in reference]))
    if not isinstance(length, int) or length < 2:
        raise ConfigError(f"--sample-length must be an integer of at least 2, got {length!r}")
    _say(progress, f"sampling {samples} pieces of up to {length} tokens")
    sampled = Sampler.from_checkpoint(checkpoint).sample(num=samples, length=length, temperature=temperature, seed=seed)
    rows = sampled.tokens
    reference_notes = [metrics.notes_from_tokens(r, tokenizer) for r in reference]
    figures = {"model": metrics.compare_sets([metrics.notes_from_tokens(r, tokenizer) for r in rows], reference_notes)}
    figures["model"]["masked_mass_mean"] = sampled.masked_mass_mean
    figures["model"]["masked_mass_max"] = sampled.masked_mass_max
    if checkpoint.profile.allowed_tokens:
        figures["model"].update(metrics.keeps_to_the_data(rows, tokenizer, checkpoint.profile))
    if ngram_model is not None:
        drawn = [ngram_model.sample(length, seed=seed + i, prefix=[tokenizer.bos_id], temperature=temperature,
                                    stop_token=tokenizer.eos_id) for i in range(samples)]
        figures["ngram"] = metrics.compare_sets([metrics.notes_from_tokens(r, tokenizer) for r in drawn],
                                                reference_notes)
    figures["reference"] = metrics.compare_sets(reference_notes, reference_notes)
    if training:
        _say(progress, f"checking the samples for copies of the {len(training)} training pieces")
        figures["model"].update(copying.copy_figures(list(rows), training, tokenizer))
        figures["reference"].update(copying.copy_figures(reference, training, tokenizer))
    return figures


def format_report(result: dict[str, Any]) -> str:
    """Human-readable lines of an :func:`evaluate` result."""
    lines = [
        f"checkpoint {result['checkpoint']} on the {result['split']} split of {result['data']}: "
        f"{result['pieces']} pieces, {result['tokens']:,} tokens",
        f"  model   NLL {result['nll']:.4f} nats/token, {result['nll_per_note']:.3f} nats/note  "
        f"perplexity {result['perplexity']:.2f}  accuracy {result['accuracy']:.3f}",
    ]
    if "nll_per_frame" in result:
        lines.append(f"  model   NLL {result['nll_per_frame']:.4f} nats/frame over {result['frames']:,} frames (the "
                     f"grammar's mask; {result['nll_per_frame_unmasked']:.4f} without it)")
    if result.get("training_pieces_left_out"):
        lines.insert(1, f"  left out {result['training_pieces_left_out']} {result['split']} pieces the checkpoint "
                        "trained on (same notes, or the same file)")
    if "ngram_nll" in result:
        lines.append(
            f"  n-gram  NLL {result['ngram_nll']:.4f} nats/token, {result['ngram_nll_per_note']:.3f} nats/note  "
            f"perplexity {perplexity(result['ngram_nll']):.2f}  "
            f"({result['ngram_smoothing']}, order {result['ngram_order']}, chosen on validation: "
            f"{result['ngram_validation_nll']:.4f})"
        )
        lines.append(f"  ratio model/n-gram NLL {result['ratio']:.3f}")
    if "samples" in result:
        from musicgen.evaluation.metrics import format_table

        lines.append("musical figures (pitch-class distances against the split's pieces):")
        lines.extend("  " + line for line in format_table(result["samples"]).splitlines())
        model = result["samples"]["model"]
        lines.append(f"  the grammar and the data's constraints removed {model['masked_mass_mean']:.2%} of the "
                     f"probability per sampled step on average, {model['masked_mass_max']:.2%} at most")
        if "longest_shared_notes_max" in model:
            reference = result["samples"]["reference"]
            lines.append("copy check against the training pieces (samples; held-out pieces for comparison):")
            lines.append(
                f"  longest run of notes shared with a training piece: mean {model['longest_shared_notes_mean']:.1f}, "
                f"most {model['longest_shared_notes_max']} (held out: {reference['longest_shared_notes_mean']:.1f}, "
                f"{reference['longest_shared_notes_max']})")
            lines.append(
                f"  longest run of bars shared: mean {model['longest_shared_bars_mean']:.1f}, most "
                f"{model['longest_shared_bars_max']} (held out: {reference['longest_shared_bars_mean']:.1f}, "
                f"{reference['longest_shared_bars_max']})")
            lines.append(
                f"  8-note pitch n-grams found in the training data: {model['pitch_8grams_in_training']:.0%}, "
                f"interval n-grams: {model['interval_8grams_in_training']:.0%} (held out: "
                f"{reference['pitch_8grams_in_training']:.0%}, {reference['interval_8grams_in_training']:.0%})")
        if "instruments_per_piece" in model:
            lines.append(
                f"  instruments per sampled piece {model['instruments_per_piece']:.1f} (at most "
                f"{model['most_instruments']}; the data's most {model['data_most_instruments']}), "
                f"{model['instruments_not_in_data']} not in the data, {model['notes_longer_than_in_data']} of "
                f"{model['notes']} notes longer than their instrument's longest in the data"
            )
    return "\n".join(lines + [f"warning: {warning}" for warning in report_warnings(result)])


def report_warnings(result: dict[str, Any]) -> list[str]:
    """What makes an :func:`evaluate` result less than it seems: too few pieces scored, samples
    that the grammar had to force."""
    from musicgen.training.feedback import FEW_PIECES, FEW_TOKENS

    found = []
    if result["pieces"] < FEW_PIECES or result["tokens"] < FEW_TOKENS:
        found.append(f"the {result['split']} split holds {result['pieces']} pieces ({result['tokens']:,} tokens): too "
                     f"few to trust these figures (at least {FEW_PIECES} pieces and {FEW_TOKENS:,} tokens)")
    mass = result.get("samples", {}).get("model", {}).get("masked_mass_mean")
    if mass is not None and mass > MASKED_MASS_LIMIT:
        found.append(f"sampling removed {mass:.1%} of the model's probability per token (a good model needs under "
                     f"{MASKED_MASS_LIMIT:.0%}): its samples are forced more than chosen")
    return found


def _say(progress: bool, message: str) -> None:
    if progress:
        print(message, file=sys.stderr, flush=True)
