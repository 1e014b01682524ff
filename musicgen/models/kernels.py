"""Fused recurrent kernels with hand-written backward passes (TensorFlow only).

:func:`sequence_function` gives, per cell kind, one function that runs a whole sequence,
time-major ``(time, batch, features)``, and returns ``(outputs, *final_states)``, with its
gradient written by hand (``tf.custom_gradient``). Why it is fast on CPU:

- Every gate is kept in its own ``(T, B, units)`` tensor: its input projection over all
  timesteps is one large matrix product before the loop, and nothing ever splits or
  concatenates a wide ``(T, B, 4 * units)`` tensor along its last axis (a strided copy).
- The per-step recurrent product is one product per gate (two half-width blocks for the RNN),
  run in parallel: one (32, 512) x (512, 2048) product is too small for oneDNN's threads.
- The forward loop writes only what the backward pass needs (activated gates, cell states).
  What the backward pass needs that does not depend on the carried gradient is precomputed
  over all timesteps, so its loop only multiplies the carried gradient by precomputed factors
  and by kernels transposed once before it (``transpose_b=True`` inside costs more).
- Both loops run up to 8 timesteps per ``while_loop`` iteration (unrolled); steps are read
  as zero-copy slices and written once each.
- Weight and input gradients are large products over all timesteps after the loop (bias
  sums as ``ones @ values``, faster than a column reduction).

Weight layouts are Keras's: LSTM gates i, f, c, o; GRU z, r, h with ``reset_after=True``
and a ``(2, 3 * units)`` bias ``[input_bias; recurrent_bias]``.

**Precision.** Every product goes through :func:`product`, in the dtype of the weights given:
kernels cast to ``bfloat16`` (inputs, states and biases ``float32``) run the products on
bfloat16 units while gates, cell state and sums over time stay ``float32``; the kernel
gradients come back in the kernels' dtype. With ``float32`` kernels nothing is cast.
"""

from __future__ import annotations

import tensorflow as tf

# Lets the next chunk's reads start while the current one computes.
PARALLEL_ITERATIONS = 2


def _zeros_if_none(gradient, like):
    return tf.zeros_like(like) if gradient is None else gradient


def _flat(values):
    """``(T, B, N) -> (T * B, N)``."""
    return tf.reshape(values, [-1, tf.shape(values)[2]])


def product(a, b, dtype=None, out=None, **options):
    """``a @ b`` computed in ``dtype`` (default: ``b``'s, a weight) and returned in ``out``
    (default: ``a``'s); ``options`` are ``tf.matmul``'s (``transpose_a``, ``transpose_b``)."""
    dtype, out = dtype or b.dtype, out or a.dtype
    a = a if a.dtype == dtype else tf.cast(a, dtype)
    b = b if b.dtype == dtype else tf.cast(b, dtype)
    result = tf.matmul(a, b, **options)
    return result if result.dtype == out else tf.cast(result, out)


def _like(value, weight):
    """``value`` in ``weight``'s dtype: cast once, for several products."""
    return value if value.dtype == weight.dtype else tf.cast(value, weight.dtype)


def _project(inputs, kernel, bias):
    """All timesteps' input projections in one matrix product: (T, B, D) -> (T, B, G)."""
    shape = tf.shape(inputs)
    projected = tf.nn.bias_add(product(_flat(inputs), kernel, out=bias.dtype), bias)
    return tf.reshape(projected, [shape[0], shape[1], tf.shape(kernel)[1]])


def _blocked_matmul(left, column_blocks):
    """``left @ concat(column_blocks)`` as independent products the executor runs in parallel."""
    low = _like(left, column_blocks[0])
    return tf.concat([product(low, block, out=left.dtype) for block in column_blocks], axis=1)


def _shift_in(first, sequence):
    """``[first, sequence[0], ..., sequence[T-2]]``: the previous-step value for every step."""
    return tf.concat([first[tf.newaxis], sequence[:-1]], axis=0)


def _project_blocks(inputs, kernel, bias, count: int):
    """Per-gate input projections: ``count`` tensors ``(T, B, G / count)``.

    Kept apart so that no loop step slices a gate out of a wide tensor and the backward
    pass never splits a ``(T, B, G)`` tensor along its last axis (a strided copy each).
    """
    kernels = tf.split(kernel, count, axis=1)
    biases = tf.split(bias, count, axis=0)
    low = _like(inputs, kernel)  # cast once for every block's projection
    return [_project(low, block, block_bias) for block, block_bias in zip(kernels, biases, strict=True)]


def _transposed_blocks(kernel, count: int):
    """``[K_1^T, ..., K_count^T]`` for the column blocks ``K_j`` of ``kernel``, materialized once.

    The per-step product ``d_preactivation @ recurrent_kernel^T`` with ``transpose_b=True``
    costs more CPU time than the same product against a kernel transposed once up front
    (oneDNN; see docs/benchmarks.md), so backward loops read copies.
    """
    return [tf.transpose(block) for block in tf.split(kernel, count, axis=1)]


def _sum_of_products(lefts, rights):
    """``sum_j lefts[j] @ rights[j]``: independent products the executor runs in parallel."""
    return tf.add_n([product(left, right) for left, right in zip(lefts, rights, strict=True)])


def _weight_gradients(inputs, previous_outputs, d_input_blocks, d_recurrent_blocks, kernel):
    """Input, kernel and recurrent-kernel gradients as large products over all timesteps.

    ``d_input_blocks`` / ``d_recurrent_blocks`` are the gradients of the input and
    recurrent pre-activations, one ``(T, B, G / n)`` tensor per gate block.
    """
    flat_inputs = _flat(inputs)
    flat_previous = _flat(previous_outputs)
    d_input = [_flat(block) for block in d_input_blocks]
    d_recurrent = [_flat(block) for block in d_recurrent_blocks]
    weights = kernel.dtype  # the gradients come back in the kernels' dtype, computed in it
    d_kernel = tf.concat([product(flat_inputs, block, weights, weights, transpose_a=True) for block in d_input],
                         axis=1)
    d_recurrent_kernel = tf.concat(
        [product(flat_previous, block, weights, weights, transpose_a=True) for block in d_recurrent], axis=1
    )
    # Outside a loop, Grappler folds an explicit transpose into the product anyway, so
    # this one states ``transpose_b`` directly (unlike the backward loops' kernels).
    kernel_blocks = tf.split(kernel, len(d_input), axis=1)
    d_inputs = tf.add_n(
        [
            product(block, kernel_block, transpose_b=True)
            for block, kernel_block in zip(d_input, kernel_blocks, strict=True)
        ]
    )
    return tf.reshape(d_inputs, tf.shape(inputs)), d_kernel, d_recurrent_kernel


def _bias_gradient(d_blocks):
    """Column sums over time and batch of every block, concatenated."""
    return tf.concat([_sum_over_time_and_batch(block) for block in d_blocks], axis=0)


def _sum_over_time_and_batch(values):
    """``reduce_sum(values, axis=[0, 1])`` as a ``ones @ values`` product: a column reduction
    is several times slower in TensorFlow on CPU (docs/benchmarks.md)."""
    flat = _flat(values)
    ones = tf.ones([1, tf.shape(flat)[0]], values.dtype)
    return tf.reshape(tf.matmul(ones, flat), [-1])


def _chunk_size(static_length) -> int:
    """Timesteps unrolled per loop iteration: the largest of 8, 4, 2, 1 dividing the length."""
    if static_length is None:
        return 1
    for size in (8, 4, 2):
        if static_length % size == 0:
            return size
    return 1


def _time_loop(step, length, sequences, carried, outputs_like, reverse=False):
    """Run ``step(carried, *sequence_slices) -> (carried, written)`` over time.

    ``sequences`` are time-major ``(T, ...)`` tensors read one step at a time; ``written``
    tensors are stacked into ``(T, ...)`` outputs, one per ``(dtype, step_shape)`` entry of
    ``outputs_like``. When the length is known when tracing, each loop iteration runs a
    chunk of up to 8 steps unrolled, which divides the loop's per-iteration control work
    (several graph ops per carried value) by the chunk size.

    Steps are read as slices along the first axis, which TensorFlow hands out without
    copying, and written one per step into ``TensorArray``s stacked once at the end: an
    unstacked ``TensorArray`` reader or a stacked chunk would each copy every value once more.
    """
    chunk = _chunk_size(sequences[0].shape[0])
    chunks = length // chunk
    writers = [tf.TensorArray(dtype, size=length, element_shape=shape) for dtype, shape in outputs_like]
    order = range(chunk - 1, -1, -1) if reverse else range(chunk)

    def body(index, carried, writers):
        first = (chunks - 1 - index if reverse else index) * chunk
        for offset in order:
            carried, written = step(carried, *(sequence[first + offset] for sequence in sequences))
            writers = [w.write(first + offset, value) for w, value in zip(writers, written, strict=True)]
        return index + 1, carried, writers

    _, carried, writers = tf.while_loop(
        lambda index, *_: index < chunks,
        body,
        (tf.constant(0), carried, writers),
        parallel_iterations=PARALLEL_ITERATIONS,
    )
    stacked = []
    for writer, (_, shape) in zip(writers, outputs_like, strict=True):
        stacked.append(writer.stack())
        stacked[-1].set_shape([sequences[0].shape[0], *shape])
    return carried, stacked


def _step_shape(inputs, units):
    return tf.TensorShape([inputs.shape[1], units])


def fused_sequence(forward, backward, jit_compile: bool = False):
    """Wrap ``forward`` / ``backward`` into one function with a hand-written gradient.

    ``forward(*arguments) -> (results, saved)`` where ``results`` are the outputs and
    the final states; ``backward(arguments, results, saved, upstream)``
    returns one gradient per argument. With ``jit_compile`` both run under XLA, which
    fuses each step's element-wise work.
    """
    if jit_compile:
        forward = tf.function(forward, jit_compile=True, autograph=False)
        backward = tf.function(backward, jit_compile=True, autograph=False)

    @tf.custom_gradient
    def sequence(*arguments):
        results, saved = forward(*arguments)

        def gradient(*upstream):
            upstream = [_zeros_if_none(u, r) for u, r in zip(upstream, results, strict=True)]
            return backward(arguments, results, saved, upstream)

        return tuple(results), gradient

    return sequence


# ---------------------------------------------------------------------------- LSTM


def lstm_update(c, pre_i, pre_f, pre_c, pre_o):
    """The LSTM's element-wise step from its gates' pre-activations: ``(h, c, (i, f, g, o))``."""
    i = tf.sigmoid(pre_i)
    f = tf.sigmoid(pre_f)
    g = tf.tanh(pre_c)
    o = tf.sigmoid(pre_o)
    c = f * c + i * g
    return o * tf.tanh(c), c, (i, f, g, o)


def lstm_step(h, c, projected, recurrent):
    """One LSTM step from the per-gate input projections (i, f, c, o) and recurrent blocks.

    Returns ``(h, c, (i, f, g, o))``: the new state and the activated gates (the backward
    pass keeps them; a sampler ignores them).
    """
    low = _like(h, recurrent[0])  # cast once for the four products
    pre = [block + product(low, kernel, out=h.dtype) for block, kernel in zip(projected, recurrent, strict=True)]
    return lstm_update(c, *pre)


def _lstm_forward(inputs, initial_h, initial_c, kernel, recurrent_kernel, bias):
    length = tf.shape(inputs)[0]
    units = recurrent_kernel.shape[0]
    projected = _project_blocks(inputs, kernel, bias, 4)
    recurrent = tf.split(recurrent_kernel, 4, axis=1)
    step_shape = _step_shape(inputs, units)

    def step(carried, *projected_t):
        h, c, gates = lstm_step(*carried, projected_t, recurrent)
        return (h, c), (h, c, *gates)

    (final_h, final_c), (outputs, cells, *gates) = _time_loop(
        step, length, projected, (initial_h, initial_c), [(inputs.dtype, step_shape)] * 6
    )
    return (outputs, final_h, final_c), (cells, *gates)


def _lstm_backward(arguments, results, saved, upstream):
    inputs, initial_h, initial_c, kernel, recurrent_kernel, _ = arguments
    outputs = results[0]
    cells, i, f, g, o = saved
    d_outputs, d_final_h, d_final_c = upstream
    length = tf.shape(inputs)[0]
    units = recurrent_kernel.shape[0]
    tanh_c = tf.tanh(cells)
    # Per step: dc = dc_next * f_next + dh * o * (1 - tanh(c)^2), and the gradient of each
    # gate's pre-activation is dc or dh times a factor precomputed for all steps.
    factors = [
        g * i * (1.0 - i),
        _shift_in(initial_c, cells) * f * (1.0 - f),
        i * (1.0 - g * g),
        tanh_c * o * (1.0 - o),
    ]
    cell_factor = o * (1.0 - tanh_c * tanh_c)
    recurrent_t = _transposed_blocks(recurrent_kernel, 4)
    step_shape = _step_shape(inputs, units)

    def step(carried, d_output_t, factor_i, factor_f, factor_c, factor_o, cell_factor_t, forget_t):
        d_h_next, d_c_next = carried
        d_h = d_output_t + d_h_next
        d_c = d_c_next + d_h * cell_factor_t
        d_gates = (d_c * factor_i, d_c * factor_f, d_c * factor_c, d_h * factor_o)
        d_h_previous = _sum_of_products(d_gates, recurrent_t)
        return (d_h_previous, d_c * forget_t), d_gates

    (d_initial_h, d_initial_c), d_gates = _time_loop(
        step,
        length,
        [d_outputs, *factors, cell_factor, f],
        (d_final_h, d_final_c),
        [(inputs.dtype, step_shape)] * 4,
        reverse=True,
    )
    previous_h = _shift_in(initial_h, outputs)
    d_inputs, d_kernel, d_recurrent_kernel = _weight_gradients(inputs, previous_h, d_gates, d_gates, kernel)
    return d_inputs, d_initial_h, d_initial_c, d_kernel, d_recurrent_kernel, _bias_gradient(d_gates)


# ----------------------------------------------------------------------------- GRU


def gru_folded_bias(bias, units: int):
    """The GRU's input-side bias with the recurrent biases of z and r folded in.

    Those recurrent biases are only ever added to their input projections; the
    candidate's stays inside the step, where the reset gate multiplies it.
    """
    input_bias, recurrent_bias = bias[0], bias[1]
    return tf.concat([input_bias[: 2 * units] + recurrent_bias[: 2 * units], input_bias[2 * units :]], 0)


def gru_update(h, pre_z, pre_r, projected_h, inner_h):
    """The GRU's element-wise step (``reset_after``): ``(h, (z, r, candidate, inner_h))``.

    ``pre_z``/``pre_r`` are the gates' full pre-activations, ``projected_h`` the candidate's
    input projection and ``inner_h`` its recurrent product plus bias, which ``r`` scales.
    """
    z = tf.sigmoid(pre_z)
    r = tf.sigmoid(pre_r)
    candidate = tf.tanh(projected_h + r * inner_h)
    return candidate + z * (h - candidate), (z, r, candidate, inner_h)


def gru_step(h, projected, recurrent, candidate_bias):
    """One GRU step (``reset_after``) from the per-gate input projections (z, r, h).

    ``projected`` carries :func:`gru_folded_bias`; ``candidate_bias`` is the recurrent
    bias of the candidate block. Returns ``(h, (z, r, candidate, inner_h))``.
    """
    low = _like(h, recurrent[0])  # cast once for the three products
    pre_z = projected[0] + product(low, recurrent[0], out=h.dtype)
    pre_r = projected[1] + product(low, recurrent[1], out=h.dtype)
    inner_h = tf.nn.bias_add(product(low, recurrent[2], out=h.dtype), candidate_bias)
    return gru_update(h, pre_z, pre_r, projected[2], inner_h)


def _gru_forward(inputs, initial_h, kernel, recurrent_kernel, bias):
    length = tf.shape(inputs)[0]
    units = recurrent_kernel.shape[0]
    projected = _project_blocks(inputs, kernel, gru_folded_bias(bias, units), 3)
    recurrent = tf.split(recurrent_kernel, 3, axis=1)
    candidate_bias = bias[1][2 * units :]
    step_shape = _step_shape(inputs, units)

    def step(carried, *projected_t):
        h, saved = gru_step(carried[0], projected_t, recurrent, candidate_bias)
        return (h,), (h, *saved)

    (final_h,), (outputs, *saved) = _time_loop(
        step, length, projected, (initial_h,), [(inputs.dtype, step_shape)] * 5
    )
    return (outputs, final_h), tuple(saved)


def _gru_backward(arguments, results, saved, upstream):
    inputs, initial_h, kernel, recurrent_kernel, _ = arguments
    outputs = results[0]
    z, r, candidate, inner_h = saved
    d_outputs, d_final_h = upstream
    length = tf.shape(inputs)[0]
    units = recurrent_kernel.shape[0]
    step_shape = _step_shape(inputs, units)
    previous_h = _shift_in(initial_h, outputs)
    # Per step, with dh the total gradient of h_t, each recurrent pre-activation's gradient
    # is dh times a precomputed factor; dh_previous = dh * z + sum_j d_j @ R_j^T. The input
    # pre-activations' gradients differ only in the candidate block.
    candidate_factor = (1.0 - z) * (1.0 - candidate * candidate)
    factors = [
        (previous_h - candidate) * z * (1.0 - z),
        candidate_factor * inner_h * r * (1.0 - r),
        candidate_factor * r,
    ]
    recurrent_t = _transposed_blocks(recurrent_kernel, 3)

    def step(carried, d_output_t, factor_z, factor_r, factor_h, z_t):
        (d_h_next,) = carried
        d_h = d_output_t + d_h_next
        d_recurrent = (d_h * factor_z, d_h * factor_r, d_h * factor_h)
        d_h_previous = d_h * z_t + _sum_of_products(d_recurrent, recurrent_t)
        return (d_h_previous,), (*d_recurrent, d_h)

    (d_initial_h,), (d_z, d_r, d_recurrent_h, d_h_all) = _time_loop(
        step,
        length,
        [d_outputs, *factors, z],
        (d_final_h,),
        [(inputs.dtype, step_shape)] * 4,
        reverse=True,
    )
    d_input_blocks = [d_z, d_r, d_h_all * candidate_factor]
    d_recurrent_blocks = [d_z, d_r, d_recurrent_h]
    d_inputs, d_kernel, d_recurrent_kernel = _weight_gradients(
        inputs, previous_h, d_input_blocks, d_recurrent_blocks, kernel
    )
    d_bias = tf.stack([_bias_gradient(d_input_blocks), _bias_gradient(d_recurrent_blocks)])
    return d_inputs, d_initial_h, d_kernel, d_recurrent_kernel, d_bias


# ----------------------------------------------------------------------- SimpleRNN


def rnn_step(h, projected, recurrent_blocks, activate):
    """One simple-RNN step: ``activate(projected + h @ R)``, with ``R`` in column blocks."""
    return activate(projected + _blocked_matmul(h, recurrent_blocks))


def rnn_blocks(units: int) -> int:
    """Column blocks of the vanilla RNN's recurrent product: two half-width ones, which the
    executor runs in parallel (measured in docs/benchmarks.md), or one when ``units`` is odd."""
    return 2 if units % 2 == 0 else 1


ACTIVATIONS = {"tanh": tf.tanh, "relu": tf.nn.relu}


def _simple_rnn_functions(activate, derivative):
    def forward(inputs, initial_h, kernel, recurrent_kernel, bias):
        units = recurrent_kernel.shape[0]
        projected = _project(inputs, kernel, bias)
        recurrent_blocks = tf.split(recurrent_kernel, rnn_blocks(units), axis=1)

        def step(carried, projected_t):
            h = rnn_step(carried[0], projected_t, recurrent_blocks, activate)
            return (h,), (h,)

        (final_h,), (outputs,) = _time_loop(
            step,
            tf.shape(inputs)[0],
            [projected],
            (initial_h,),
            [(inputs.dtype, _step_shape(inputs, units))],
        )
        return (outputs, final_h), ()

    def backward(arguments, results, saved, upstream):
        inputs, initial_h, kernel, recurrent_kernel, _ = arguments
        outputs = results[0]
        d_outputs, d_final_h = upstream
        units = recurrent_kernel.shape[0]
        blocks = rnn_blocks(units)
        recurrent_t = _transposed_blocks(recurrent_kernel, blocks)

        def step(carried, d_output_t, output_t):
            (d_h_next,) = carried
            # The activation's derivative in the loop, from h_t still in cache: cheaper
            # than two passes over (T, B, units) tensors before it.
            d_pre = (d_output_t + d_h_next) * derivative(output_t)
            return (_sum_of_products(tf.split(d_pre, blocks, axis=1), recurrent_t),), (d_pre,)

        (d_initial_h,), (d_pre,) = _time_loop(
            step,
            tf.shape(inputs)[0],
            [d_outputs, outputs],
            (d_final_h,),
            [(inputs.dtype, _step_shape(inputs, units))],
            reverse=True,
        )
        previous_h = _shift_in(initial_h, outputs)
        d_inputs, d_kernel, d_recurrent_kernel = _weight_gradients(
            inputs, previous_h, [d_pre], [d_pre], kernel
        )
        return d_inputs, d_initial_h, d_kernel, d_recurrent_kernel, _bias_gradient([d_pre])

    return forward, backward


_FUNCTIONS = {
    "lstm": (_lstm_forward, _lstm_backward),
    "gru": (_gru_forward, _gru_backward),
    "rnn_tanh": _simple_rnn_functions(ACTIVATIONS["tanh"], lambda h: 1.0 - h * h),
    "rnn_relu": _simple_rnn_functions(ACTIVATIONS["relu"], lambda h: tf.cast(h > 0, h.dtype)),
}
_SEQUENCES = {}


def sequence_function(kind: str, jit_compile: bool = False):
    """The fused sequence function for ``kind`` (``lstm``, ``gru``, ``rnn_tanh``, ``rnn_relu``).

    Arguments, time-major, in one dtype (or the kernel and recurrent kernel in a lower one, in
    which the products run; see the module docstring):
    ``lstm(inputs, h, c, kernel, recurrent_kernel, bias) -> (outputs, final_h, final_c)``;
    ``gru(inputs, h, kernel, recurrent_kernel, bias (2, 3U)) -> (outputs, final_h)``;
    ``rnn_*(inputs, h, kernel, recurrent_kernel, bias) -> (outputs, final_h)``.
    """
    key = (kind, jit_compile)
    if key not in _SEQUENCES:
        if kind not in _FUNCTIONS:
            raise ValueError(f"no fused kernel for {kind!r}; expected one of {sorted(_FUNCTIONS)}")
        forward, backward = _FUNCTIONS[kind]
        _SEQUENCES[key] = fused_sequence(forward, backward, jit_compile)
    return _SEQUENCES[key]
