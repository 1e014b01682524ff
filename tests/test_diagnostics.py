"""Gradient diagnostics: the measurement itself, the report, the plot and the command."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from musicgen.cli import main
from musicgen.errors import ConfigError, DataError
from musicgen.evaluation import gradients
from musicgen.models import language

VOCAB = 11


def _windows(count=2, length=61, seed=0):
    return np.random.default_rng(seed).integers(0, VOCAB, size=(count, length)).astype("int32")


def test_small_recurrent_weights_make_the_tanh_rnn_gradient_vanish():
    report = gradients.gradient_report(
        ["rnn", "lstm"], seq_len=60, units=8, embedding_dim=4,
        recurrent_scale=0.5, windows=_windows(), vocab_size=VOCAB,
    )
    assert report["seq_len"] == 60 and report["windows"] == 2
    assert report["distance"] == list(range(60))
    assert set(report["cells"]) == {"rnn", "lstm"}
    for entry in report["cells"].values():
        assert len(entry["norm"]) == 60 and all(np.isfinite(entry["norm"]))
    rnn = report["cells"]["rnn"]["norm"]
    assert rnn[0] > 0.0
    assert rnn[50] < 1e-6 * rnn[0]
    json.dumps(report)  # plain JSON types only


def test_norm_at_distance_zero_matches_the_softmax_gradient():
    keras.utils.set_random_seed(1)
    model = language.build_language_model(VOCAB, cell="gru", units=6, num_layers=1, embedding_dim=3)
    windows = _windows(count=3, length=9, seed=2)
    norms = gradients.gradient_norms_by_distance(model, windows)
    assert norms.shape == (8,)
    # dL/dh_T = (softmax(logits_T) - onehot(target)) @ W_out^T, per window.
    logits = np.asarray(model(windows[:, :-1]))[:, -1]
    probabilities = np.exp(logits - logits.max(-1, keepdims=True))
    probabilities /= probabilities.sum(-1, keepdims=True)
    probabilities[np.arange(3), windows[:, -1]] -= 1.0
    expected = np.linalg.norm(probabilities @ np.asarray(model.get_layer("logits").kernel).T, axis=-1)
    np.testing.assert_allclose(norms[0], expected.mean(), rtol=1e-4)


def test_report_is_reproducible_and_rejects_unknown_cells():
    options = dict(seq_len=12, units=4, embedding_dim=3, windows=_windows(length=13), vocab_size=VOCAB)
    first = gradients.gradient_report(["irnn"], **options)
    assert first == gradients.gradient_report(["irnn"], **options)
    with pytest.raises(ConfigError, match="unknown cell kind 'elman'"):
        gradients.gradient_report(["elman"], **options)


def test_global_gradient_norm_handles_none_and_sparse_gradients():
    dense = tf.constant([[3.0, 0.0], [0.0, 4.0]])
    sparse = tf.IndexedSlices(tf.constant([[12.0, 0.0]]), tf.constant([1]), tf.constant([4, 2]))
    assert float(gradients.global_gradient_norm([dense, None, sparse])) == pytest.approx(13.0)
    assert float(gradients.global_gradient_norm([None])) == 0.0


def test_windows_come_from_the_bundled_chorales():
    windows, vocab_size = gradients.load_token_windows(None, seq_len=30, num_windows=2, seed=0)
    assert windows.shape == (2, 31) and windows.dtype == np.int32
    assert 0 <= windows.min() and windows.max() < vocab_size


def test_windows_errors_name_the_problem(tmp_path):
    with pytest.raises(DataError, match="no .mid or .midi files"):
        gradients.load_token_windows(tmp_path, seq_len=10, num_windows=1)
    with pytest.raises(DataError, match="not a directory"):
        gradients.load_token_windows(tmp_path / "missing", seq_len=10, num_windows=1)


def test_diagnose_gradients_command_writes_json_and_png(tmp_path, capsys):
    out = tmp_path / "report"
    code = main([
        "diagnose", "gradients", "--cell", "rnn", "--cell", "gru", "--seq-len", "12",
        "--windows", "2", "--units", "4", "--embedding-dim", "3", "--out", str(out),
    ])
    assert code == 0
    report = json.loads((out / "gradients.json").read_text())
    assert sorted(report["cells"]) == ["gru", "rnn"] and len(report["cells"]["gru"]["norm"]) == 12
    assert (out / "gradients.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert printed.splitlines()[0].split() == ["distance", "rnn", "gru"]
    assert main(["diagnose", "gradients", "--seq-len", "0", "--out", str(out)]) == 2
    assert "--seq-len must be at least 1" in capsys.readouterr().err
