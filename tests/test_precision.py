"""One precision option: bfloat16 products in the fused layer and the sampler, float32 everywhere else."""

from __future__ import annotations

import numpy as np
import pytest

from musicgen.errors import ConfigError
from musicgen.models import precision as precision_module
from musicgen.models.precision import choose_precision
from musicgen.training.config import TrainConfig

tf = pytest.importorskip("tensorflow")


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh"])
def test_bfloat16_products_keep_states_in_float32_and_gradients_close(kind: str) -> None:
    """The fused layer with bfloat16 kernels against float32 automatic differentiation of the
    same arithmetic (Keras's generic loop), within what bfloat16's 8 bits of mantissa allow."""
    import keras

    from musicgen.models import cells
    from musicgen.models.recurrent import Recurrent

    keras.utils.set_random_seed(1)
    make = {"lstm": cells.LSTMCell, "gru": cells.GRUCell, "rnn_tanh": cells.SimpleRNNCell}[kind]
    fused, generic = Recurrent(make(24), return_sequences=True), Recurrent(make(24), return_sequences=True,
                                                                           use_fast_path=False)
    inputs = tf.random.normal([3, 40, 16])
    fused.build(inputs.shape)
    generic.build(inputs.shape)
    generic.set_weights(fused.get_weights())
    fused.product_dtype = "bfloat16"
    results = []
    for layer in (fused, generic):
        with tf.GradientTape() as tape:
            outputs = layer(inputs)
            loss = tf.reduce_sum(outputs * tf.sin(tf.range(24, dtype=tf.float32)))
        results.append((outputs, tape.gradient(loss, layer.trainable_weights)))
    (low, low_gradients), (exact, exact_gradients) = results
    assert low.dtype == tf.float32
    np.testing.assert_allclose(low.numpy(), exact.numpy(), atol=0.03)
    for ours, theirs in zip(low_gradients, exact_gradients, strict=True):
        ours, theirs = ours.numpy(), theirs.numpy()
        assert np.linalg.norm(ours - theirs) <= 0.03 * np.linalg.norm(theirs)


def test_auto_chooses_by_the_device_and_refuses_what_it_cannot_run(monkeypatch, capsys) -> None:
    monkeypatch.setattr(precision_module, "gpu_capability", lambda: None)
    monkeypatch.setattr(precision_module, "cpu_flags", lambda: {"avx2", "avx512_bf16"})
    assert choose_precision("auto") == ("bfloat16", "the CPU multiplies bfloat16 in hardware (avx512_bf16)")
    with pytest.raises(ConfigError, match="--precision float16 needs a GPU"):
        choose_precision("float16")
    monkeypatch.setattr(precision_module, "cpu_flags", lambda: {"avx2"})
    assert choose_precision("auto")[0] == "float32"
    assert choose_precision("bfloat16")[0] == "bfloat16"
    assert "runs emulated" in capsys.readouterr().err
    monkeypatch.setattr(precision_module, "gpu_capability", lambda: (7, 5))
    assert choose_precision("auto")[0] == "float16"
    monkeypatch.setattr(precision_module, "gpu_capability", lambda: (9, 0))
    assert choose_precision("auto")[0] == "bfloat16"


def test_old_records_read_their_precision() -> None:
    assert TrainConfig.from_dict({"mixed_precision": True}).precision == "float16"
    assert TrainConfig.from_dict({"mixed_precision": False}).precision == "float32"
    assert TrainConfig.from_dict({}).precision == "float32"  # what records from before the option ran
    assert TrainConfig().precision == "auto"


def test_sampling_in_bfloat16_repeats_per_seed_and_keeps_the_grammar() -> None:
    import keras

    from musicgen.generation.sampler import Sampler
    from musicgen.models.language import build_language_model
    from musicgen.tokens import Tokenizer, TokenizerConfig
    from musicgen.tokens.grammar import check_tokens

    tokenizer = Tokenizer(TokenizerConfig(velocity_bins=1, min_pitch=48, max_pitch=72, max_tracks=2))
    keras.utils.set_random_seed(2)
    model = build_language_model(tokenizer.vocab_size, "lstm", 32, 2, embedding_dim=8)
    low = Sampler(model, tokenizer, jit_compile=False, precision="bfloat16")
    first = low.sample_tokens(num=3, length=120, seed=4)
    np.testing.assert_array_equal(first, low.sample_tokens(num=3, length=120, seed=4))
    for row in first:
        check_tokens(row, low.grammar)
    exact = Sampler(model, tokenizer, jit_compile=False)
    states = exact.step.initial_states(1)
    ours = low.step.run(first[:1, :40])[0].numpy()
    theirs = exact.step.run(first[:1, :40])[0].numpy()
    np.testing.assert_allclose(ours, theirs, atol=0.05)
    assert states[0][0].dtype == tf.float32
