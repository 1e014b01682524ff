"""Loading a trained translator and translating with it (greedy or beam search).

A notebook user calls the same functions as ``musicgen translate``::

    from musicgen.demos.translation import Translator

    translator = Translator.load("checkpoints/translate")
    translator.translate(["Hace mucho frío aquí."], beam_size=4)
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

import musicgen.demos.translation.data as data
from musicgen import paths
from musicgen.errors import CheckpointError, ConfigError, DataError

MODEL_FILE = "model.keras"
INPUT_LENGTH_FACTOR = 3  # translate inputs up to this many times the training sentence length


@dataclass
class Translation:
    """One translated sentence with what went into it."""

    source: str
    text: str
    source_tokens: list[str]
    target_tokens: list[str]
    attention: np.ndarray  # (len(target_tokens) + 1, len(source_tokens)); last row: </s>
    unknown_words: list[str]


class Translator:
    """A trained model with its vocabularies: ``Translator.load(dir).translate([...])``."""

    def __init__(self, model):
        from musicgen.demos.translation.decoding import StepFunctions

        self.model = model
        self.source_index = {token: i for i, token in enumerate(model.source_vocabulary)}
        self.target_index = {token: i for i, token in enumerate(model.target_vocabulary)}
        self.steps = StepFunctions(model)

    @classmethod
    def load(cls, checkpoint_dir: str | Path = paths.TRANSLATION_CHECKPOINT) -> Translator:
        """Load ``checkpoint_dir/model.keras`` with ``safe_mode=True``; ``CheckpointError`` if unusable."""
        from musicgen.demos.translation.model import Seq2SeqTranslator

        path = Path(checkpoint_dir)
        path = path if path.suffix == ".keras" else path / MODEL_FILE
        if not path.is_file():
            raise CheckpointError(f"{path}: no such file; train one with 'musicgen translate train'")
        try:
            model = keras.saving.load_model(path, compile=False, safe_mode=True)
        except Exception as error:  # Keras raises many types for a damaged archive
            raise CheckpointError(f"{path}: not a loadable translation model ({type(error).__name__}: {error})") from error
        if not isinstance(model, Seq2SeqTranslator):
            raise CheckpointError(f"{path}: holds a {type(model).__name__}, not a translation model")
        return cls(model)

    @property
    def max_input_tokens(self) -> int:
        return INPUT_LENGTH_FACTOR * self.model.max_tokens

    def translate(
        self, texts: str | Sequence[str], beam_size: int = 1, batch_size: int = 128, progress: bool = False
    ) -> list[str]:
        """English translations of Spanish ``texts`` (empty or all-unknown input gives "")."""
        return [result.text for result in self.translate_detailed(texts, beam_size, batch_size, progress)]

    def translate_detailed(
        self, texts: str | Sequence[str], beam_size: int = 1, batch_size: int = 128, progress: bool = False
    ) -> list[Translation]:
        """Translations with tokens, attention weights and the unknown source words.

        Sentences are decoded in batches of similar length (the result does not depend
        on the batching); ``progress`` shows a progress bar on stderr.
        """
        from musicgen.demos.translation.decoding import beam_search_decode, greedy_decode

        texts = [texts] if isinstance(texts, str) else list(texts)
        if beam_size < 1:
            raise ConfigError(f"beam size must be at least 1, got {beam_size}")
        tokenized = [data.tokenize(text) for text in texts]
        for text, tokens in zip(texts, tokenized, strict=True):
            if len(tokens) > self.max_input_tokens:
                raise DataError(
                    f"input has {len(tokens)} words and marks, more than the {self.max_input_tokens} "
                    f"this model translates (it was trained on sentences of up to "
                    f"{self.model.max_tokens}); split it into sentences: {text[:60]!r}..."
                )
        results: list[Translation | None] = [None] * len(texts)
        todo = []
        for index, (text, tokens) in enumerate(zip(texts, tokenized, strict=True)):
            unknown = [token for token in tokens if token not in self.source_index]
            if not any(token in self.source_index and token.isalnum() for token in tokens):
                results[index] = Translation(text, "", tokens, [], np.zeros((0, len(tokens))), unknown)
            else:
                todo.append(index)
        todo.sort(key=lambda index: len(tokenized[index]))
        starts = range(0, len(todo), batch_size)
        if progress:
            from tqdm import tqdm

            starts = tqdm(starts, desc="translating", unit="batch", file=sys.stderr)
        for start in starts:
            chunk = todo[start : start + batch_size]
            source = data.pad_batch([data.encode_tokens(tokenized[i], self.source_index) for i in chunk])
            max_length = 2 * source.shape[1] + 10
            if beam_size == 1:
                decoded = greedy_decode(self.steps, source, max_length)
            else:
                decoded = beam_search_decode(self.steps, source, max_length, beam_size)
            for index, output in zip(chunk, decoded, strict=True):
                results[index] = self._finish(texts[index], tokenized[index], output)
        return results  # type: ignore[return-value]

    def _finish(self, text: str, tokens: list[str], output) -> Translation:
        """Ids to words; an unknown output word copies the most attended source word."""
        original = data.tokenize(text, lowercase=False)
        words = []
        for step, token_id in enumerate(output.ids):
            word = self.model.target_vocabulary[token_id]
            if token_id == data.UNK_ID and len(original) == len(tokens):
                word = original[int(np.argmax(output.attention[step, : len(tokens)]))]
            words.append(word)
        unknown = [token for token in tokens if token not in self.source_index]
        attention = output.attention[:, : len(tokens)]
        return Translation(text, data.detokenize(words, self.model.truecase), tokens, words, attention, unknown)

    def token_accuracy(self, pairs: Sequence[data.Pair], batch_size: int = 256) -> float:
        """Teacher-forced next-token accuracy over the target tokens and ``</s>``."""
        sources, targets = data.encode_pairs(pairs, self.source_index, self.target_index)
        correct = total = 0
        for start in range(0, len(sources), batch_size):
            (source, decoder_input), decoder_target, weights = data.teacher_forcing_batch(
                sources[start : start + batch_size], targets[start : start + batch_size]
            )
            logits = self.steps.forward(source, decoder_input)
            predicted = np.argmax(np.asarray(logits), axis=-1)
            correct += int(((predicted == decoder_target) * weights).sum())
            total += int(weights.sum())
        return correct / max(total, 1)
