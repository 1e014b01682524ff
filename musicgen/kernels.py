"""Fused recurrent kernels with hand-written backward passes (TensorFlow only).

:func:`sequence_function` gives, per cell kind, one function that runs a whole sequence,
time-major ``(time, batch, features)``, and returns ``(outputs, *final_states)``, with its
gradient written by hand (``tf.custom_gradient``). Why it is fast on CPU:

- The input projection of every timestep is one large matrix product before the loop.
- The forward loop does one recurrent matrix product and a few fused element-wise ops
  per step, writing only what the backward pass needs (activated gates, cell states).
- Everything element-wise that the backward pass needs and that does not depend on
  the carried gradient is precomputed over all timesteps at once, so the backward loop
  only multiplies the carried gradient by precomputed factors and does the one
  recurrent product ``d_preactivation @ recurrent_kernel^T`` per step, against a copy of
  the kernel transposed once before the loop (``transpose_b=True`` inside the loop cost
  about twice the CPU time).
- Both loops run up to 8 timesteps per ``while_loop`` iteration (unrolled), dividing the
  loop's per-iteration graph overhead and TensorArray traffic by 8.
- The weight gradients (kernel, recurrent kernel, bias) and the input gradient are
  single large matrix products over all timesteps after the loop.

Weight layouts are Keras's: LSTM gates i, f, c, o; GRU z, r, h with ``reset_after=True``
and a ``(2, 3 * units)`` bias ``[input_bias; recurrent_bias]``.
"""

from __future__ import annotations

import tensorflow as tf

# Lets the next chunk's reads start while the current one computes.
PARALLEL_ITERATIONS = 2


def _zeros_if_none(gradient, like):
    return tf.zeros_like(like) if gradient is None else gradient


def _project(inputs, kernel, bias):
    """All timesteps' input projections in one matrix product: (T, B, D) -> (T, B, G)."""
    shape = tf.shape(inputs)
    flat = tf.reshape(inputs, [-1, shape[2]])
    projected = tf.matmul(flat, kernel) + bias
    return tf.reshape(projected, [shape[0], shape[1], tf.shape(kernel)[1]])


def _transposed(recurrent_kernel):
    """``recurrent_kernel^T``, materialized once before a backward loop.

    The per-step product ``d_preactivation @ recurrent_kernel^T`` with ``transpose_b=True``
    measured about 1.9x the CPU time of the same product against a kernel transposed once
    up front (oneDNN, 32 x 2048 by 2048 x 512, 256 steps), so the loop reads a copy.
    """
    return tf.transpose(recurrent_kernel)


def _shift_in(first, sequence):
    """``[first, sequence[0], ..., sequence[T-2]]``: the previous-step value for every step."""
    return tf.concat([first[tf.newaxis], sequence[:-1]], axis=0)


def _weight_gradients(inputs, previous_outputs, d_input_pre, d_recurrent_pre, kernel):
    """Input, kernel and recurrent-kernel gradients as single products over all timesteps."""
    input_dim = tf.shape(inputs)[2]
    units = tf.shape(previous_outputs)[2]
    flat_inputs = tf.reshape(inputs, [-1, input_dim])
    flat_d_input = tf.reshape(d_input_pre, [-1, tf.shape(d_input_pre)[2]])
    flat_previous = tf.reshape(previous_outputs, [-1, units])
    flat_d_recurrent = tf.reshape(d_recurrent_pre, [-1, tf.shape(d_recurrent_pre)[2]])
    d_kernel = tf.matmul(flat_inputs, flat_d_input, transpose_a=True)
    d_recurrent_kernel = tf.matmul(flat_previous, flat_d_recurrent, transpose_a=True)
    d_inputs = tf.reshape(tf.matmul(flat_d_input, kernel, transpose_b=True), tf.shape(inputs))
    return d_inputs, d_kernel, d_recurrent_kernel


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
    (several graph ops per carried value) and its reads and writes by the chunk size.
    """
    chunk = _chunk_size(sequences[0].shape[0])
    chunks = length // chunk

    def chunked(tensor):
        return tf.reshape(tensor, tf.concat([[chunks, chunk], tf.shape(tensor)[1:]], axis=0))

    readers = [
        tf.TensorArray(s.dtype, size=chunks, element_shape=[chunk, *s.shape[1:]]).unstack(
            chunked(s)
        )
        for s in sequences
    ]
    writers = [
        tf.TensorArray(dtype, size=chunks, element_shape=[chunk, *shape])
        for dtype, shape in outputs_like
    ]
    order = range(chunk - 1, -1, -1) if reverse else range(chunk)

    def body(t, carried, writers):
        index = chunks - 1 - t if reverse else t
        slices = [tf.unstack(reader.read(index), num=chunk) for reader in readers]
        written_steps = [None] * chunk
        for offset in order:
            carried, written_steps[offset] = step(carried, *(s[offset] for s in slices))
        written = [tf.stack(values) for values in zip(*written_steps, strict=True)]
        writers = [w.write(index, value) for w, value in zip(writers, written, strict=True)]
        return t + 1, carried, writers

    _, carried, writers = tf.while_loop(
        lambda t, *_: t < chunks,
        body,
        (tf.constant(0), carried, writers),
        parallel_iterations=PARALLEL_ITERATIONS,
    )
    stacked = []
    for writer, (_, shape) in zip(writers, outputs_like, strict=True):
        value = writer.stack()
        stacked.append(tf.reshape(value, tf.concat([[length], tf.shape(value)[2:]], axis=0)))
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


def _lstm_forward(inputs, initial_h, initial_c, kernel, recurrent_kernel, bias):
    length = tf.shape(inputs)[0]
    units = recurrent_kernel.shape[0]
    # tanh(x) = 2 * sigmoid(2x) - 1: scaling the cell-gate columns by 2 lets one sigmoid
    # activate all four gates at once.
    ones = tf.ones([units], kernel.dtype)
    scale = tf.concat([ones, ones, 2.0 * ones, ones], axis=0)
    projected = _project(inputs, kernel * scale, bias * scale)
    scaled_recurrent = recurrent_kernel * scale
    step_shape = _step_shape(inputs, units)

    def step(carried, projected_t):
        h, c = carried
        gates = tf.sigmoid(projected_t + tf.matmul(h, scaled_recurrent))
        i, f, g, o = tf.split(gates, 4, axis=1)
        c = f * c + i * (2.0 * g - 1.0)
        h = o * tf.tanh(c)
        return (h, c), (h, c, gates)

    (final_h, final_c), (outputs, cells, gates) = _time_loop(
        step,
        length,
        [projected],
        (initial_h, initial_c),
        [(inputs.dtype, step_shape)] * 2
        + [(inputs.dtype, tf.TensorShape([inputs.shape[1], 4 * units]))],
    )
    return (outputs, final_h, final_c), (cells, gates)


def _lstm_backward(arguments, results, saved, upstream):
    inputs, initial_h, initial_c, kernel, recurrent_kernel, _ = arguments
    outputs = results[0]
    cells, gates = saved
    d_outputs, d_final_h, d_final_c = upstream
    length = tf.shape(inputs)[0]
    units = recurrent_kernel.shape[0]
    i, f, g_sigmoid, o = tf.split(gates, 4, axis=2)
    g = 2.0 * g_sigmoid - 1.0
    previous_c = _shift_in(initial_c, cells)
    tanh_c = tf.tanh(cells)
    # Per step: dc = dc_next * f_next + dh * o * (1 - tanh(c)^2) and
    # d_preactivation = [dc, dc, dc, dh] * factors, factors precomputed for all steps.
    factors = tf.concat(
        [g * i * (1.0 - i), previous_c * f * (1.0 - f), i * (1.0 - g * g), tanh_c * o * (1.0 - o)],
        axis=2,
    )
    cell_factor = o * (1.0 - tanh_c * tanh_c)
    recurrent_kernel_t = _transposed(recurrent_kernel)

    def step(carried, d_output_t, factors_t, cell_factor_t, forget_t):
        d_h_next, d_c_next = carried
        d_h = d_output_t + d_h_next
        d_c = d_c_next + d_h * cell_factor_t
        d_pre = tf.concat([d_c, d_c, d_c, d_h], axis=1) * factors_t
        d_h_previous = tf.matmul(d_pre, recurrent_kernel_t)
        return (d_h_previous, d_c * forget_t), (d_pre,)

    (d_initial_h, d_initial_c), (d_pre,) = _time_loop(
        step,
        length,
        [d_outputs, factors, cell_factor, f],
        (d_final_h, d_final_c),
        [(inputs.dtype, tf.TensorShape([inputs.shape[1], 4 * units]))],
        reverse=True,
    )
    previous_h = _shift_in(initial_h, outputs)
    d_inputs, d_kernel, d_recurrent_kernel = _weight_gradients(
        inputs, previous_h, d_pre, d_pre, kernel
    )
    d_bias = tf.reduce_sum(d_pre, axis=[0, 1])
    return d_inputs, d_initial_h, d_initial_c, d_kernel, d_recurrent_kernel, d_bias


# ----------------------------------------------------------------------------- GRU


def _gru_forward(inputs, initial_h, kernel, recurrent_kernel, bias):
    length = tf.shape(inputs)[0]
    units = recurrent_kernel.shape[0]
    projected = _project(inputs, kernel, bias[0])
    recurrent_bias = bias[1]
    step_shape = _step_shape(inputs, units)

    def step(carried, projected_t):
        (h,) = carried
        inner = tf.matmul(h, recurrent_kernel) + recurrent_bias
        zr = tf.sigmoid(projected_t[:, : 2 * units] + inner[:, : 2 * units])
        inner_h = inner[:, 2 * units :]
        candidate = tf.tanh(projected_t[:, 2 * units :] + zr[:, units:] * inner_h)
        h = candidate + zr[:, :units] * (h - candidate)
        return (h,), (h, zr, candidate, inner_h)

    (final_h,), (outputs, zr, candidate, inner_h) = _time_loop(
        step,
        length,
        [projected],
        (initial_h,),
        [(inputs.dtype, step_shape), (inputs.dtype, tf.TensorShape([inputs.shape[1], 2 * units]))]
        + [(inputs.dtype, step_shape)] * 2,
    )
    return (outputs, final_h), (zr, candidate, inner_h)


def _gru_backward(arguments, results, saved, upstream):
    inputs, initial_h, kernel, recurrent_kernel, _ = arguments
    outputs = results[0]
    zr, candidate, inner_h = saved
    d_outputs, d_final_h = upstream
    length = tf.shape(inputs)[0]
    units = recurrent_kernel.shape[0]
    step_shape = _step_shape(inputs, units)
    z, r = zr[..., :units], zr[..., units:]
    previous_h = _shift_in(initial_h, outputs)
    # Per step, with dh the total gradient of h_t: d_recurrent_pre = [dh, dh, dh] * factors,
    # dh_previous = dh * z + d_recurrent_pre @ R^T; d_input_pre differs only in its h block.
    candidate_factor = (1.0 - z) * (1.0 - candidate * candidate)
    factors = tf.concat(
        [
            (previous_h - candidate) * z * (1.0 - z),
            candidate_factor * inner_h * r * (1.0 - r),
            candidate_factor * r,
        ],
        axis=2,
    )
    recurrent_kernel_t = _transposed(recurrent_kernel)

    def step(carried, d_output_t, factors_t, z_t):
        (d_h_next,) = carried
        d_h = d_output_t + d_h_next
        d_recurrent_pre = tf.concat([d_h, d_h, d_h], axis=1) * factors_t
        d_h_previous = d_h * z_t + tf.matmul(d_recurrent_pre, recurrent_kernel_t)
        return (d_h_previous,), (d_recurrent_pre, d_h)

    (d_initial_h,), (d_recurrent_pre, d_h_all) = _time_loop(
        step,
        length,
        [d_outputs, factors, z],
        (d_final_h,),
        [(inputs.dtype, tf.TensorShape([inputs.shape[1], 3 * units])), (inputs.dtype, step_shape)],
        reverse=True,
    )
    d_input_pre = tf.concat([d_recurrent_pre[..., : 2 * units], d_h_all * candidate_factor], axis=2)
    d_inputs, d_kernel, d_recurrent_kernel = _weight_gradients(
        inputs, previous_h, d_input_pre, d_recurrent_pre, kernel
    )
    d_bias = tf.stack(
        [tf.reduce_sum(d_input_pre, axis=[0, 1]), tf.reduce_sum(d_recurrent_pre, axis=[0, 1])]
    )
    return d_inputs, d_initial_h, d_kernel, d_recurrent_kernel, d_bias


# ----------------------------------------------------------------------- SimpleRNN


def _simple_rnn_functions(activate, derivative):
    def forward(inputs, initial_h, kernel, recurrent_kernel, bias):
        units = recurrent_kernel.shape[0]
        projected = _project(inputs, kernel, bias)

        def step(carried, projected_t):
            (h,) = carried
            h = activate(projected_t + tf.matmul(h, recurrent_kernel))
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
        recurrent_kernel_t = _transposed(recurrent_kernel)

        def step(carried, d_output_t, factor_t):
            (d_h_next,) = carried
            d_pre = (d_output_t + d_h_next) * factor_t
            return (tf.matmul(d_pre, recurrent_kernel_t),), (d_pre,)

        (d_initial_h,), (d_pre,) = _time_loop(
            step,
            tf.shape(inputs)[0],
            [d_outputs, derivative(outputs)],
            (d_final_h,),
            [(inputs.dtype, _step_shape(inputs, units))],
            reverse=True,
        )
        previous_h = _shift_in(initial_h, outputs)
        d_inputs, d_kernel, d_recurrent_kernel = _weight_gradients(
            inputs, previous_h, d_pre, d_pre, kernel
        )
        d_bias = tf.reduce_sum(d_pre, axis=[0, 1])
        return d_inputs, d_initial_h, d_kernel, d_recurrent_kernel, d_bias

    return forward, backward


_FUNCTIONS = {
    "lstm": (_lstm_forward, _lstm_backward),
    "gru": (_gru_forward, _gru_backward),
    "rnn_tanh": _simple_rnn_functions(tf.tanh, lambda h: 1.0 - h * h),
    "rnn_relu": _simple_rnn_functions(tf.nn.relu, lambda h: tf.cast(h > 0, h.dtype)),
}
_SEQUENCES = {}


def sequence_function(kind: str, jit_compile: bool = False):
    """The fused sequence function for ``kind`` (``lstm``, ``gru``, ``rnn_tanh``, ``rnn_relu``).

    Arguments, all time-major and in one dtype:
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
