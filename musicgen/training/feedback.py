"""What ``musicgen train`` tells the user when it ends: is the model any good?

The best model and an n-gram baseline are scored on the same held-out tokens (the
validation pieces, each scored whole from its first token), and the run's history is read
for the usual ways a run goes wrong: a model no better than the n-gram, one that never
left the unigram plateau, a folder too small to learn from scratch, and memorising
(validation loss rising while training loss falls).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from musicgen.tokens import Tokenizer

# Below this many training tokens a model from scratch rarely beats the n-gram; fine-tuning does better.
SMALL_DATA_TOKENS = 100_000
# Memorising: validation loss this share above its best while training loss is below its value then.
RISE_SHARE = 0.05
# Held-out figures from fewer pieces or tokens than these say little.
FEW_PIECES, FEW_TOKENS = 3, 2000
# Training loss below this share of the validation loss: the model knows its training pieces, not music.
OVERFIT_SHARE = 0.6
BASE_HINT = "checkpoints/base"


@dataclass
class Feedback:
    """The end-of-training verdict."""

    model_nll: float
    ngram_nll: float | None
    ngram_order: int | None
    tokens: int  # held-out tokens scored
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the run did, said beside the verdict

    @property
    def ratio(self) -> float | None:
        return self.model_nll / self.ngram_nll if self.ngram_nll else None

    @property
    def verdict(self) -> str:
        ratio = self.ratio
        if ratio is None:
            return "no n-gram baseline to compare with"
        if ratio >= 1.0:
            return "no better than the n-gram baseline"
        if ratio > 0.95:
            return "barely better than the n-gram baseline"
        return f"better than the n-gram baseline ({1 - ratio:.0%} less NLL per token)"

    def lines(self) -> list[str]:
        """The report as printed: figures, verdict, then each warning."""
        head = f"held-out NLL on {self.tokens:,} validation tokens: model {self.model_nll:.4f} nats/token"
        if self.ngram_nll is not None:
            head += f", {self.ngram_order}-gram baseline {self.ngram_nll:.4f} (ratio {self.ratio:.3f})"
        return [head, f"verdict: {self.verdict}", *self.notes, *(f"warning: {warning}" for warning in self.warnings)]

    def to_dict(self) -> dict[str, Any]:
        return {"model_nll": self.model_nll, "ngram_nll": self.ngram_nll, "ngram_order": self.ngram_order,
                "ratio": self.ratio, "tokens": self.tokens, "verdict": self.verdict, "warnings": self.warnings,
                "notes": self.notes}


def assess(model: Any, tokenizer: Tokenizer, train_streams: list, val_streams: list, rows: list[dict],
           state: Any, train_tokens: int, pieces: int, progress: bool = False, base_fits: bool = True,
           held_out: dict[str, tuple[int, int]] | None = None, scratch_reason: str | None = None) -> Feedback:
    """Score ``model`` and the n-gram on ``val_streams`` and read ``rows`` (``history.csv``) for warnings
    (``base_fits`` false: the base model cannot keep this folder, so no warning offers it;
    ``held_out``: each held-out split's pieces and tokens; ``scratch_reason``: why no base model)."""
    from musicgen.models.likelihood import score_model
    from musicgen.models.ngram import fit_baseline

    scored = [stream for stream in val_streams if len(stream) >= 2]
    total, _, count = score_model(model, scored, pad_id=tokenizer.pad_id)
    baseline = fit_baseline({"train": train_streams, "validation": scored}, tokenizer.vocab_size,
                            orders=tuple(range(1, 7)), progress=False)
    ngram_nll = baseline.model.nll(scored)
    feedback = Feedback(total / max(count, 1), ngram_nll if math.isfinite(ngram_nll) else None,
                        baseline.model.order, count)
    feedback.warnings = warnings(feedback, rows, state, train_tokens, pieces, base_fits) + few_held_out(held_out or {})
    if state.base is None and scratch_reason:
        feedback.notes.append(f"trained from scratch: {scratch_reason}")
    return feedback


def few_held_out(held_out: dict[str, tuple[int, int]]) -> list[str]:
    """A warning for each held-out split too small to judge a model by."""
    return [f"the {name} split holds {count} piece{'s' if count != 1 else ''} ({tokens:,} tokens): too few to trust "
            f"figures measured on it (at least {FEW_PIECES} pieces and {FEW_TOKENS:,} tokens); add music"
            for name, (count, tokens) in held_out.items() if count < FEW_PIECES or tokens < FEW_TOKENS]


def warnings(feedback: Feedback, rows: list[dict], state: Any, train_tokens: int, pieces: int,
             base_fits: bool = True) -> list[str]:
    """The warnings that ``feedback``, the history ``rows`` and the run's ``state`` call for."""
    found = []
    from_scratch = state.base is None
    offer_base = from_scratch and base_fits
    if feedback.ratio is not None and feedback.ratio >= 1.0:
        found.append("the model is no better than the n-gram baseline: it has learned no more than which "
                     "tokens follow which; " + ("fine-tune the base model instead (--from " + BASE_HINT + ")"
                                                if offer_base else "train for longer (--max-updates)"))
    if state.unigram_loss is not None and state.best_val_loss is not None \
            and state.best_val_loss > 0.95 * state.unigram_loss:
        found.append(f"the model never left the unigram plateau (best validation loss {state.best_val_loss:.3f} "
                     f"against the unigram's {state.unigram_loss:.3f}); it has learned only how often each "
                     "token occurs, and its samples will be noise")
    if from_scratch and train_tokens < SMALL_DATA_TOKENS:
        found.append(f"{pieces:,} pieces ({train_tokens:,} training tokens) are few to learn music from scratch; "
                     + (f"fine-tuning the pretrained base model usually does better: add --from {BASE_HINT}"
                        if base_fits else "the base model cannot keep this folder's music, so more music is what "
                        "would help most"))
    rising = memorising(rows, offer_base)
    if rising:
        found.append(rising)
    overfit = overfitting(rows)
    if overfit:
        found.append(overfit)
    return found


def overfitting(rows: list[dict]) -> str | None:
    """A warning when, at the best validation, training loss was below :data:`OVERFIT_SHARE` of it."""
    scored = [row for row in rows if row.get("loss") is not None and math.isfinite(row.get("val_loss", math.nan))]
    if not scored:
        return None
    best = min(scored, key=lambda row: row["val_loss"])
    if best["loss"] >= OVERFIT_SHARE * best["val_loss"]:
        return None
    return (f"training loss {best['loss']:.3f} is below {OVERFIT_SHARE:.0%} of validation loss {best['val_loss']:.3f}: "
            "the model knows its training pieces far better than music it has not heard; its samples may copy "
            "them (check with 'musicgen evaluate --samples 8')")


def memorising(rows: list[dict], offer_base: bool = True) -> str | None:
    """A warning when validation loss rose after its best while training loss kept falling."""
    scored = [row for row in rows if row.get("loss") is not None and math.isfinite(row.get("val_loss", math.nan))]
    if len(scored) < 3:
        return None
    best = min(scored, key=lambda row: row["val_loss"])
    last = scored[-1]
    if last is best or last["val_loss"] < best["val_loss"] * (1 + RISE_SHARE) or last["loss"] >= best["loss"]:
        return None
    return (f"the model is memorising its training pieces: validation loss rose from {best['val_loss']:.3f} "
            f"(at {int(best['updates']):,} updates) to {last['val_loss']:.3f} while training loss fell from "
            f"{best['loss']:.3f} to {last['loss']:.3f}; model.keras keeps the best model, and more music"
            + (", more --dropout or fine-tuning a base model that knows the folder's instruments (--from) would help"
               if offer_base else " or more --dropout would help"))
