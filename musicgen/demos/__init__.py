"""Demos of the same recurrent cells on text: sentiment (many-to-one) and translation (seq2seq)."""
