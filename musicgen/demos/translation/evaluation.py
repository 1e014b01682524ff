"""Scoring a translator on a split: corpus BLEU, chrF and teacher-forced token accuracy."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import musicgen.demos.translation.data as data
from musicgen import paths
from musicgen.demos.translation.translator import Translator
from musicgen.errors import ConfigError, DataError


def evaluate_translator(
    checkpoint: str | Path | Translator = paths.TRANSLATION_CHECKPOINT,
    data_dir: str | Path = paths.TRANSLATION_DATA_DIR,
    split: str = "test",
    beam_size: int = 1,
    limit: int | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Corpus BLEU and chrF (sacrebleu) and token accuracy on ``split``, same length rule as training."""
    import sacrebleu

    translator = checkpoint if isinstance(checkpoint, Translator) else Translator.load(checkpoint)
    if split not in ("train", "validation", "test"):
        raise ConfigError(f"split must be train, validation or test, got {split!r}")
    pairs = data.load_splits(data_dir, translator.model.max_tokens)[split]
    if limit is not None:  # an evenly spaced sample: the file is sorted by length
        if limit < 1:
            raise ConfigError(f"--limit must be at least 1, got {limit}")
        pairs = pairs[:: max(1, len(pairs) // limit)][:limit]
    if not pairs:
        raise DataError(f"{data_dir}: no {split} pairs with at most {translator.model.max_tokens} tokens")
    started = time.monotonic()
    hypotheses = translator.translate([pair.source for pair in pairs], beam_size=beam_size, progress=progress)
    references = [[pair.target for pair in pairs]]
    return {
        "bleu": round(sacrebleu.corpus_bleu(hypotheses, references).score, 2),
        "chrf": round(sacrebleu.corpus_chrf(hypotheses, references).score, 2),
        "token_accuracy": round(translator.token_accuracy(pairs), 4),
        "sentences": len(pairs),
        "split": split,
        "beam_size": beam_size,
        "max_tokens": translator.model.max_tokens,
        "seconds": round(time.monotonic() - started, 1),
    }
