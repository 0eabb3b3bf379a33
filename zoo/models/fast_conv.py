"""A Conv2D for one-channel inputs (the log-mel map) whose input gradient is fast on CPU.

Profiling a training step of musicnn-vertical-horizontal on 2 CPU cores: TensorFlow's
Conv2DBackpropInput for a one-channel input with 7x38, 7x67, 128x1 ... kernels took most of
the step (1.3 s of it for the 7x67 branch alone at batch 16), although the forward and the
kernel gradient are fast. The gradient is needed because the input batch norm before these
convolutions has trainable parameters. Here it is computed as one matrix product (the
per-position kernel patches) and an overlap-add "fold", which is 6x faster for the same
numbers (up to float summation order).

Tall one-column kernels (musicnn's 128x1, 64x1, 32x1 temporal filters) take another route: their
input gradient is a matrix product with a block-Toeplitz matrix of the kernel (``toeplitz_input_gradient``),
measured against the fold at batch 16 of 3 s: 0.033 s against 0.092 s (128x1), 0.023 against 0.046
(64x1), 0.014 against 0.022 (32x1), equal at 16x1, slower below (2-core AMD EPYC, 2026-12-02).
Their kernel gradient is one such product too (``toeplitz_kernel_gradient``): measured alone against
TensorFlow's Conv2DBackpropFilter 0.035 against 0.051 s (128x1), 0.020 against 0.029 (64x1), 0.013
against 0.014 (32x1); in musicnn-horizontal's whole train step, alternating in one process, 0.434
-> 0.370 s (median of 10, faster in 10 of 10; 2026-12-03). Against a float64 reference it is the
more accurate of the two (largest error 7.7e-4 against 2.0e-2 on musicnn's 128x1 map at batch 16).

On JAX the same tall one-column kernels take their forward pass as a block-Toeplitz matrix
product too (``toeplitz_conv``, keras.ops, so autodiff's gradients are matrix products as well):
at batch 32 of 3 s (188 x 96 log-mel, 8 filters, 'valid') XLA:CPU's convolution took 0.056 /
0.064 / 0.045 s for 128x1 / 64x1 / 32x1, the Toeplitz product 0.007 / 0.006 / 0.012 s. PyTorch's
oneDNN convolution was faster than the product there (0.008 against 0.018 s at 128x1), so it
keeps keras' Conv2D, as do other kernels (2-core AMD EPYC, 2026-12-03).

All are CPU kernels, chosen on a machine where the backend computes on the CPU
(``zoo.models.compute_device``): with a GPU the layer is keras' Conv2D and cuDNN keeps its own
kernels. The fast gradient is TensorFlow's (tf.custom_gradient), so the module imports TensorFlow
only when a TensorFlow graph calls it.
"""
import functools

import keras

from zoo.models.compute_device import backend_computes_on_cpu, cpu_kernels_apply

__all__ = ["SingleChannelConv2D", "fold_patches", "toeplitz_conv", "toeplitz_input_gradient", "toeplitz_kernel_gradient"]

TOEPLITZ_MIN_HEIGHT = 32  # one-column kernels this tall or taller: the Toeplitz route (measured above)
TOEPLITZ_FORWARD_BACKENDS = ("jax",)  # where the Toeplitz forward beat the backend's convolution (above)


def _skew_sum(d):
    """out[..., r + j] = sum d[..., r, j]: overlap-add of rows shifted by their index.

    Pads each row with R zeros, then reinterprets the buffer with rows one element shorter,
    which shifts row r right by r, then sums the rows ([..., R, K] -> [..., R + K - 1]).
    The sum is symmetric in r and j, so the shorter axis is made the rows: the padded
    buffer is then at most twice the input. An axis of unknown length is time, the longer.
    """
    import tensorflow as tf

    rows_static, taps_static = d.shape[-2], d.shape[-1]
    if rows_static is None or (taps_static is not None and rows_static > taps_static):
        d = tf.linalg.matrix_transpose(d)
    shape = tf.shape(d)
    lead, rows, taps = shape[:-2], shape[-2], shape[-1]
    d = tf.pad(d, tf.concat([tf.zeros([tf.rank(d) - 1, 2], tf.int32), [[0, rows]]], 0))
    flat = tf.reshape(d, tf.concat([lead, [rows * (taps + rows)]], 0))[..., : rows * (taps + rows - 1)]
    return tf.reduce_sum(tf.reshape(flat, tf.concat([lead, [rows, taps + rows - 1]], 0)), axis=-2)


def fold_patches(patch_grads):
    """[batch, H', W', KH, KW] gradients of every kernel-sized patch -> [batch, H'+KH-1, W'+KW-1]."""
    import tensorflow as tf

    by_width = tf.transpose(patch_grads, [0, 1, 3, 2, 4])  # [b, H', KH, W', KW]
    folded_width = _skew_sum(by_width)  # [b, H', KH, W]
    by_height = tf.transpose(folded_width, [0, 3, 1, 2])  # [b, W, H', KH]
    return tf.transpose(_skew_sum(by_height), [0, 2, 1])  # [b, H, W]


@functools.lru_cache(maxsize=16)
def _toeplitz_index(taps):
    """[taps, 2 taps - 1] rows of kernel indices: entry (s, u) is u - s where 0 <= u - s < taps,
    else ``taps`` (a zero row appended to the kernel)."""
    import numpy as np

    s, u = np.arange(taps)[:, None], np.arange(2 * taps - 1)[None, :]
    return np.where((u - s >= 0) & (u - s < taps), u - s, taps).astype(np.int32)


def _upstream_blocks(upstream, taps):
    """(batch, W, blocks, [batch*W*blocks, K*F]): ``upstream`` [batch, rows, W, F] cut into blocks of
    K output rows (the last zero-padded), one block of a column per row of the matrix."""
    import tensorflow as tf

    filters = upstream.shape[3]
    shape = tf.shape(upstream)
    batch, rows, width = shape[0], shape[1], shape[2]
    blocks = (rows + taps - 1) // taps
    upstream = tf.pad(upstream, [[0, 0], [0, blocks * taps - rows], [0, 0], [0, 0]])
    upstream = tf.transpose(tf.reshape(upstream, [batch, blocks, taps, width, filters]), [0, 3, 1, 2, 4])
    return batch, width, blocks, tf.reshape(upstream, [-1, taps * filters])


def toeplitz_input_gradient(upstream, kernel, input_height):
    """Input gradient of a 'valid' stride-1 convolution of a 1-channel [batch, H, W, 1] input with a
    one-column kernel [K, 1, 1, F], from ``upstream`` [batch, H - K + 1, W, F].

    Output rows are taken K at a time: block j's K x F gradients spread over 2K - 1 input rows
    through one [K*F, 2K-1] Toeplitz matrix of the kernel (the same for every block), so the whole
    gradient is one dense matrix product (about twice the convolution's multiply-adds, at matmul
    speed); block j lands at rows jK..jK+2K-2, overlapping the next block's first K - 1 rows.
    """
    import tensorflow as tf

    taps, filters = kernel.shape[0], kernel.shape[3]
    columns = tf.concat([kernel[:, 0, 0, :], tf.zeros([1, filters], kernel.dtype)], 0)  # [K + 1, F]
    toeplitz = tf.transpose(tf.gather(columns, _toeplitz_index(taps)), [0, 2, 1])  # [K, F, 2K - 1]
    toeplitz = tf.reshape(toeplitz, [taps * filters, 2 * taps - 1])
    batch, width, blocks, upstream = _upstream_blocks(upstream, taps)
    spread = tf.matmul(upstream, toeplitz)  # [batch*W*blocks, 2K - 1]
    spread = tf.reshape(spread, [batch * width, blocks, 2 * taps - 1])
    heads = tf.pad(spread[..., :taps], [[0, 0], [0, 1], [0, 0]])  # block j at block j
    tails = tf.pad(spread[..., taps:], [[0, 0], [1, 0], [0, 1]])  # its last K - 1 rows at block j + 1
    gradient = tf.reshape(heads + tails, [batch * width, (blocks + 1) * taps])[:, :input_height]
    return tf.transpose(tf.reshape(gradient, [batch, width, input_height]), [0, 2, 1])[..., None]


def toeplitz_kernel_gradient(inputs, upstream, taps):
    """Kernel gradient [K, 1, 1, F] of a 'valid' stride-1 convolution of a 1-channel [batch, H, W, 1]
    input with a one-column kernel of K taps, from ``upstream`` [batch, H - K + 1, W, F].

    Output rows are taken K at a time as in ``toeplitz_input_gradient``: block j's input rows
    jK..jK+2K-2 times its K x F upstream rows give every (input row, output row, filter) product
    of the block in one dense matrix product [2K - 1, K*F] for all blocks; the kernel's tap k is
    the sum of its diagonal u - s = k.
    """
    import numpy as np
    import tensorflow as tf

    filters = upstream.shape[3]
    batch, width, blocks, upstream = _upstream_blocks(upstream, taps)
    columns = tf.transpose(inputs[..., 0], [0, 2, 1])  # [batch, W, H]
    columns = tf.pad(columns, [[0, 0], [0, 0], [0, (blocks + 1) * taps - tf.shape(columns)[2]]])
    heads = tf.reshape(columns[..., : blocks * taps], [batch, width, blocks, taps])
    tails = tf.reshape(columns[..., taps:], [batch, width, blocks, taps])[..., : taps - 1]
    windows = tf.reshape(tf.concat([heads, tails], -1), [-1, 2 * taps - 1])
    products = tf.reshape(tf.matmul(windows, upstream, transpose_a=True), [2 * taps - 1, taps, filters])
    tap, row = np.meshgrid(np.arange(taps), np.arange(taps), indexing="ij")
    diagonals = np.stack([tap + row, row], -1).astype(np.int32)  # [K, K, 2]: (u, s) = (k + s, s)
    return tf.reduce_sum(tf.gather_nd(products, diagonals), axis=1)[:, None, None, :]


def _toeplitz_matrix(kernel):
    """[2K - 1, K*F]: column (s, f) holds kernel[:, f] from row s, so that input rows jK..jK+2K-2
    times it give output rows jK..jK+K-1 of a 'valid' convolution (the transpose of the input
    gradient's matrix)."""
    taps, filters = kernel.shape[0], kernel.shape[3]
    ops = keras.ops
    columns = ops.concatenate([kernel[:, 0, 0, :], ops.zeros((1, filters), kernel.dtype)], axis=0)  # [K + 1, F]
    toeplitz = ops.take(columns, _toeplitz_index(taps), axis=0)  # [K, 2K - 1, F]: (s, u, f) = kernel[u - s, f]
    return ops.reshape(ops.transpose(toeplitz, (1, 0, 2)), (2 * taps - 1, taps * filters))


def toeplitz_conv(inputs, kernel):
    """'valid' stride-1 convolution of a 1-channel [batch, H, W, 1] input with a one-column kernel
    [K, 1, 1, F] -> [batch, H - K + 1, W, F], in keras.ops (shapes known when traced, as on JAX).

    Output rows are taken K at a time: block j needs input rows jK..jK+2K-2, and one
    [2K - 1, K*F] Toeplitz matrix of the kernel (the same for every block) maps them to the
    block's K x F outputs, so the whole convolution is one dense matrix product (about twice the
    multiply-adds, at matmul speed).
    """
    ops = keras.ops
    taps, filters = kernel.shape[0], kernel.shape[3]
    batch, height, width = inputs.shape[0], inputs.shape[1], inputs.shape[2]
    out_height = height - taps + 1
    blocks = -(-out_height // taps)
    rows = ops.transpose(inputs[..., 0], (0, 2, 1))  # [batch, W, H]
    rows = ops.pad(rows, ((0, 0), (0, 0), (0, (blocks + 1) * taps - height)))
    heads = ops.reshape(rows[..., : blocks * taps], (batch, width, blocks, taps))
    tails = ops.reshape(rows[..., taps:], (batch, width, blocks, taps))[..., : taps - 1]
    windows = ops.reshape(ops.concatenate([heads, tails], axis=-1), (-1, 2 * taps - 1))
    outputs = ops.matmul(windows, _toeplitz_matrix(kernel))  # [batch*W*blocks, K*F]
    outputs = ops.reshape(outputs, (batch, width, blocks * taps, filters))[:, :, :out_height]
    return ops.transpose(outputs, (0, 2, 1, 3))


def _toeplitz_conv_padded(inputs, kernel, padding):
    if padding == "same":
        top, bottom = _same_padding(kernel.shape[0])
        inputs = keras.ops.pad(inputs, ((0, 0), (top, bottom), (0, 0), (0, 0)))
    return toeplitz_conv(inputs, kernel)


def _tall_column(kernel_shape):
    return kernel_shape[1] == 1 and kernel_shape[0] >= TOEPLITZ_MIN_HEIGHT


def _fold_input_gradient(upstream, kernel, input_height):
    import tensorflow as tf

    return fold_patches(tf.einsum("bhwc,ijc->bhwij", upstream, kernel[:, :, 0, :]))[..., None]


def _input_gradient(kernel_shape):
    """The input-gradient route for a kernel [KH, KW, 1, F] (measured: module docstring)."""
    return toeplitz_input_gradient if _tall_column(kernel_shape) else _fold_input_gradient


def _backprop_filter_gradient(x, upstream, kernel):
    import tensorflow as tf

    return tf.raw_ops.Conv2DBackpropFilter(
        input=x, filter_sizes=tf.shape(kernel), out_backprop=upstream, strides=[1, 1, 1, 1], padding="VALID"
    )


def _toeplitz_kernel_gradient(x, upstream, kernel):
    return toeplitz_kernel_gradient(x, upstream, kernel.shape[0])


def _kernel_gradient(kernel_shape):
    """The kernel-gradient route for a kernel [KH, KW, 1, F] (measured: module docstring)."""
    return _toeplitz_kernel_gradient if _tall_column(kernel_shape) else _backprop_filter_gradient


def _same_padding(size):
    before = (size - 1) // 2  # TensorFlow's SAME for stride 1
    return before, size - 1 - before


def _single_channel_conv(inputs, kernel, padding):
    import tensorflow as tf

    kernel_h, kernel_w = kernel.shape[0], kernel.shape[1]
    if padding == "same":
        (top, bottom), (left, right) = _same_padding(kernel_h), _same_padding(kernel_w)
        inputs = tf.pad(inputs, [[0, 0], [top, bottom], [left, right], [0, 0]])

    input_gradient = _input_gradient(tuple(kernel.shape))
    kernel_gradient = _kernel_gradient(tuple(kernel.shape))

    @tf.custom_gradient
    def valid_conv(x, k):
        def gradient(dy):
            dx = input_gradient(dy, k, tf.shape(x)[1])
            dk = kernel_gradient(x, dy, k)
            return dx, dk

        return tf.nn.conv2d(x, k, strides=1, padding="VALID"), gradient

    # A plain tensor, not the variable: custom_gradient then hands its gradient back to autodiff.
    return valid_conv(inputs, tf.convert_to_tensor(kernel))


@keras.saving.register_keras_serializable(package="zoo")
class SingleChannelConv2D(keras.layers.Conv2D):
    """keras Conv2D (same weights, same outputs) with fast CPU kernels for 1-channel input.

    Stride 1, no dilation, channels_last, 'valid' or 'same' padding, on a machine where the
    backend computes on the CPU: on TensorFlow a fast input gradient for every kernel, on JAX the
    Toeplitz forward for tall one-column kernels; otherwise keras' own convolution.
    """

    def convolution_op(self, inputs, kernel):
        plain = (
            inputs.shape[-1] == 1
            and tuple(self.strides) == (1, 1)
            and tuple(self.dilation_rate) == (1, 1)
            and self.data_format == "channels_last"
            and self.groups == 1
        )
        if plain and cpu_kernels_apply():
            return _single_channel_conv(inputs, kernel, self.padding)
        if plain and _toeplitz_forward_applies(inputs, kernel):
            return _toeplitz_conv_padded(inputs, kernel, self.padding)
        return super().convolution_op(inputs, kernel)


def _toeplitz_forward_applies(inputs, kernel):
    """A tall one-column kernel, on a backend where the product won (module docstring), computing
    on the CPU, with the input's shape known (as JAX traces it)."""
    return (keras.config.backend() in TOEPLITZ_FORWARD_BACKENDS
            and _tall_column(tuple(kernel.shape))
            and None not in tuple(inputs.shape)[:3]
            and backend_computes_on_cpu())
