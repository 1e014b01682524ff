"""The names of a model's building blocks, in a module that imports no TensorFlow.

The command line lists them in ``--help`` before TensorFlow starts; :mod:`musicgen.models.cells`
and :mod:`musicgen.models.language` build what they name.
"""

CELL_KINDS = ("rnn", "irnn", "lstm", "gru")
IMPLEMENTATIONS = ("custom", "keras")
