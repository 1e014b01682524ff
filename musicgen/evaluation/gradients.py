"""Gradient diagnostics: how far back in time a recurrent model's gradient reaches.

For a window of tokens ``x_0 .. x_T`` the loss at the last step, ``L_T`` (cross-entropy
of predicting ``x_{T+1}``), depends on every earlier hidden state ``h_k``. Plotting
``||dL_T / dh_k||`` against the distance ``T - k`` shows the vanishing (or exploding)
gradients of Bengio et al. (1994): for a tanh RNN each step back multiplies the gradient
by ``W_hh^T diag(1 - h^2)`` and it decays geometrically, while the LSTM's additive cell
state and the GRU's gated interpolation can carry it much further.

The states measured are all of a layer's recurrent state (``h``; ``h`` and ``c`` for the
LSTM) in every layer, concatenated.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from musicgen.errors import ConfigError, DataError

CELL_COLORS = {"rnn": "tab:red", "irnn": "tab:orange", "lstm": "tab:green", "gru": "tab:blue"}
TABLE_DISTANCES = (0, 1, 2, 5, 10, 20, 50, 100, 150, 200, 300, 500)


def global_gradient_norm(gradients: Iterable[Any]):
    """The L2 norm of all gradients together (``None`` entries and sparse slices allowed)."""
    import tensorflow as tf

    gradients = [gradient for gradient in gradients if gradient is not None]
    if not gradients:
        return tf.constant(0.0)
    return tf.linalg.global_norm(gradients)


def load_token_windows(
    data_dir: str | os.PathLike | None, seq_len: int, num_windows: int, seed: int = 0
) -> tuple[np.ndarray, int]:
    """``num_windows`` windows of ``seq_len + 1`` tokens from MIDI files in ``data_dir``.

    Files are encoded with the default :class:`musicgen.tokens.Tokenizer`, in a
    seeded random order, only until there are enough windows. Returns
    ``(windows (num_windows, seq_len + 1) int32, vocab_size)``.
    """
    from musicgen.music.midi_io import load_midi
    from musicgen.paths import BACH_MIDI_DIR
    from musicgen.tokens import Tokenizer

    data_dir = Path(data_dir) if data_dir is not None else BACH_MIDI_DIR
    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: not a directory of MIDI files")
    files = sorted(path for path in data_dir.rglob("*") if path.suffix.lower() in (".mid", ".midi"))
    if not files:
        raise DataError(f"{data_dir}: no .mid or .midi files found")
    rng = np.random.default_rng(seed)
    tokenizer = Tokenizer()
    windows: list[np.ndarray] = []
    for index in rng.permutation(len(files)):
        ids = tokenizer.encode(load_midi(files[index]))
        if len(ids) < seq_len + 1:
            continue
        start = int(rng.integers(0, len(ids) - seq_len))
        windows.append(ids[start : start + seq_len + 1])
        if len(windows) == num_windows:
            return np.stack(windows).astype("int32"), tokenizer.vocab_size
    raise DataError(
        f"{data_dir}: only {len(windows)} of {len(files)} pieces are longer than "
        f"{seq_len + 1} tokens and {num_windows} windows were asked for; use a shorter --seq-len"
    )


def gradient_norms_by_distance(model, windows: np.ndarray) -> np.ndarray:
    """Mean over windows of ``||dL_T / dh_k||``, indexed by the distance ``T - k``.

    ``model`` comes from :func:`musicgen.models.language.build_language_model`; ``windows`` are
    ``(n, steps + 1)`` int tokens: ``steps`` inputs, then the target of the last one, whose
    loss is ``L_T``. Returns ``steps`` norms. Runs the model's weights step by step
    through :class:`musicgen.models.stepping.StepNetwork`, adding a zero "probe" to each
    state so one backward pass yields the gradient at every step.
    """
    import tensorflow as tf

    from musicgen.models.stepping import StepNetwork

    windows = np.asarray(windows, dtype="int32")
    if windows.ndim != 2 or windows.shape[1] < 2:
        raise ConfigError(f"windows must be (count, length >= 2) tokens, got shape {windows.shape}")
    stepper = StepNetwork(model)
    inputs, target = tf.constant(windows[:, :-1]), tf.constant(windows[:, -1])
    steps = inputs.shape[1]
    probes = []
    with tf.GradientTape() as tape:
        states = stepper.initial_states(windows.shape[0])
        for k in range(steps):
            _, states = stepper.step(inputs[:, k], states)
            probe = tf.nest.map_structure(tf.zeros_like, states)
            tape.watch(probe)
            states = tf.nest.map_structure(tf.add, states, probe)
            probes.append(probe)
        logits = stepper.output_logits(states[-1][0])
        # Summed, not averaged, so each window's row holds that window's own gradient.
        loss = tf.reduce_sum(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=target, logits=logits)
        )
    gradients = tape.gradient(loss, probes, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    norms = np.stack(
        [
            np.sqrt(sum(np.sum(np.square(np.asarray(part)), axis=-1) for part in tf.nest.flatten(gradient)))
            for gradient in gradients
        ]
    )  # (steps, windows), indexed by k
    return norms.mean(axis=1)[::-1].astype("float64")


def _train_briefly(model, windows: np.ndarray, steps: int, seed: int) -> float:
    """A few Adam steps on the windows; returns the final training loss."""
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(1e-3, clipnorm=1.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    rng = np.random.default_rng(seed)
    loss = float("nan")
    for _ in range(steps):
        batch = windows[rng.integers(0, len(windows), size=min(16, len(windows)))]
        loss = float(model.train_on_batch(batch[:, :-1], batch[:, 1:]))
    return loss


def gradient_report(
    cells: Sequence[str],
    data_dir: str | os.PathLike | None = None,
    seq_len: int = 200,
    num_windows: int = 8,
    units: int = 128,
    embedding_dim: int = 64,
    num_layers: int = 1,
    train_steps: int = 0,
    recurrent_scale: float | None = None,
    implementation: str = "custom",
    seed: int = 0,
    windows: np.ndarray | None = None,
    vocab_size: int | None = None,
    progress: bool = False,
) -> dict:
    """Measure gradient norm against distance for each cell kind; returns the JSON table.

    Each cell gets a freshly initialised model (seeded the same), optionally trained for
    ``train_steps`` steps on the same windows. ``recurrent_scale`` multiplies every
    recurrent kernel after initialisation (below 1: small weights whose gradients vanish;
    above 1: large ones that can explode). ``windows``/``vocab_size`` may be given
    directly instead of reading ``data_dir``. ``implementation`` only changes how the
    brief training runs (the measurement always steps the weights itself). ``progress`` shows a bar on stderr.
    """
    import keras
    from tqdm import tqdm

    from musicgen.models.architecture import CELL_KINDS
    from musicgen.models.language import build_language_model

    cells = list(dict.fromkeys(cells))
    for kind in cells:
        if kind not in CELL_KINDS:
            raise ConfigError(f"unknown cell kind {kind!r}; choose from {', '.join(CELL_KINDS)} or all")
    if seq_len < 1 or num_windows < 1 or train_steps < 0:
        raise ConfigError("seq_len and windows must be positive and train_steps non-negative")
    if windows is None:
        windows, vocab_size = load_token_windows(data_dir, seq_len, num_windows, seed)
        source = str(data_dir) if data_dir is not None else "bundled Bach chorales"
    else:
        windows = np.asarray(windows, dtype="int32")
        source = "given windows"
        if vocab_size is None:
            vocab_size = int(windows.max()) + 1
    report: dict = {
        "data": source,
        "seq_len": int(windows.shape[1] - 1),
        "windows": int(windows.shape[0]),
        "units": units,
        "embedding_dim": embedding_dim,
        "num_layers": num_layers,
        "train_steps": train_steps,
        "recurrent_scale": recurrent_scale,
        "implementation": implementation,
        "seed": seed,
        "distance": list(range(windows.shape[1] - 1)),
        "cells": {},
    }
    for kind in tqdm(cells, desc="cells", unit="cell", disable=not progress, file=sys.stderr):
        keras.utils.set_random_seed(seed)
        model = build_language_model(
            vocab_size, cell=kind, units=units, num_layers=num_layers,
            embedding_dim=embedding_dim, implementation=implementation,
        )
        if recurrent_scale is not None:
            for layer in model.layers:
                if layer.name.startswith("rnn_"):
                    kernel = layer.cell.recurrent_kernel
                    kernel.assign(kernel * recurrent_scale)
        entry: dict = {}
        if train_steps:
            entry["train_loss"] = _train_briefly(model, windows, train_steps, seed)
        norms = gradient_norms_by_distance(model, windows)
        entry["norm"] = [float(value) for value in norms]
        report["cells"][kind] = entry
    return report


def format_table(report: dict) -> str:
    """A short text table: gradient norm at a few distances, one column per cell."""
    kinds = list(report["cells"])
    distances = [d for d in TABLE_DISTANCES if d < len(report["distance"])]
    lines = ["distance " + "".join(f"{kind:>12}" for kind in kinds)]
    for distance in distances:
        values = "".join(f"{report['cells'][kind]['norm'][distance]:>12.3e}" for kind in kinds)
        lines.append(f"{distance:>8} {values}")
    return "\n".join(lines)


def plot_report(report: dict, path: str | os.PathLike) -> Path:
    """Write a log-scale plot of gradient norm against distance (PNG, atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    from musicgen.fileio import atomic_path

    figure, axes = pyplot.subplots(figsize=(7, 4.5))
    distance = np.asarray(report["distance"])
    for kind, entry in report["cells"].items():
        # A norm of exactly 0 is float32 underflow: leave it out rather than plot -inf.
        norms = np.asarray(entry["norm"], dtype="float64")
        underflow = np.flatnonzero(norms <= 0.0)
        label = kind if not underflow.size else f"{kind} (0 from distance {underflow[0]})"
        axes.plot(distance, np.where(norms > 0.0, norms, np.nan), label=label, color=CELL_COLORS.get(kind))
    axes.set_yscale("log")
    axes.set_xlabel("distance T - k (steps back from the loss)")
    axes.set_ylabel("mean ||dL_T / dh_k||")
    trained = f", trained {report['train_steps']} steps" if report["train_steps"] else ", at initialisation"
    axes.set_title(f"Gradient reach, {report['units']} units{trained}")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    path = Path(path)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=120)
    pyplot.close(figure)
    return path
