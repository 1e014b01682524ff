"""The data a model learns from: folder profiles, the token cache, splits, training windows and their augmentation."""
