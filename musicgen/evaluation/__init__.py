"""Judging a model: held-out likelihood against the n-gram, sample figures, copying, control hit rates and gradient reach."""
