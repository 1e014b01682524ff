"""Generating music from a checkpoint: options, the compiled sampler and its logits processors, steering, primers, infilling and accompaniment."""
