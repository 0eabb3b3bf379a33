"""A 'valid', stride-1 convolution of a one-channel map with a tall one-column kernel, as matrix products.

Output rows are taken K at a time (K the kernel's taps): block j needs input rows jK..jK+2K-2,
and one [2K - 1, K*F] block-Toeplitz matrix of the kernel, the same for every block, maps them to
the block's K x F outputs. So the forward pass, the input gradient and the kernel gradient are each
one dense matrix product (about twice the convolution's multiply-adds, at matmul speed), where the
backends' convolutions of such kernels run far below it on a CPU.

Applies to: one-column kernels of at least ``MIN_TAPS`` taps (musicnn's 128x1, 64x1 and 32x1
temporal filters): the forward on JAX's CPU, both gradients on TensorFlow's CPU
(``single_channel_conv`` chooses). Tested equal to tf.nn.conv2d, Conv2DBackpropInput and, against a
float64 reference, at least as accurate as Conv2DBackpropFilter (tests/test_kernel_toeplitz.py).
Written in keras.ops: the forward runs on every backend, the gradients inside TensorFlow's custom
gradient, where the map's height may be unknown until it runs.
"""
import functools

import numpy as np
from keras import ops

__all__ = ["MIN_TAPS", "tall_column", "toeplitz_conv", "toeplitz_input_gradient", "toeplitz_kernel_gradient"]

MIN_TAPS = 32  # shorter one-column kernels were as fast or faster as convolutions (benchmarks/results/kernels.md)


def tall_column(kernel_shape):
    """Whether a kernel [KH, KW, in, out] is one column of at least MIN_TAPS taps."""
    return kernel_shape[1] == 1 and kernel_shape[0] >= MIN_TAPS


@functools.lru_cache(maxsize=16)
def _toeplitz_index(taps):
    """[taps, 2 taps - 1] kernel indices: entry (s, u) is u - s where 0 <= u - s < taps, else
    ``taps`` (a zero row appended to the kernel)."""
    s, u = np.arange(taps)[:, None], np.arange(2 * taps - 1)[None, :]
    return np.where((u - s >= 0) & (u - s < taps), u - s, taps).astype(np.int32)


def _toeplitz_matrix(kernel):
    """[2K - 1, K*F]: column (s, f) holds kernel[:, f] from row s, so that a block's input rows
    times it give the block's output rows."""
    taps, filters = kernel.shape[0], kernel.shape[3]
    columns = ops.concatenate([kernel[:, 0, 0, :], ops.zeros((1, filters), kernel.dtype)], axis=0)  # [K + 1, F]
    toeplitz = ops.take(columns, _toeplitz_index(taps), axis=0)  # [K, 2K - 1, F]: (s, u, f) = kernel[u - s, f]
    return ops.reshape(ops.transpose(toeplitz, (1, 0, 2)), (2 * taps - 1, taps * filters))


def _size(x, axis):
    """A dimension of ``x``: the int where it is known, else a scalar tensor (TensorFlow graphs)."""
    return x.shape[axis] if x.shape[axis] is not None else ops.shape(x)[axis]


def _input_windows(inputs, taps, blocks):
    """[N, 2K - 1]: each block's input rows jK..jK+2K-2, for every (batch, column, block) in that
    order, from ``inputs`` [batch, H, W, 1]."""
    columns = ops.transpose(inputs[..., 0], (0, 2, 1))  # [batch, W, H]
    columns = ops.pad(columns, ((0, 0), (0, 0), (0, (blocks + 1) * taps - _size(inputs, 1))))
    heads = ops.reshape(columns[..., : blocks * taps], (-1, taps))
    tails = ops.reshape(columns[..., taps:], (-1, taps))[:, : taps - 1]
    return ops.concatenate([heads, tails], axis=-1)


def _output_blocks(outputs, taps, blocks):
    """[N, K*F]: each block's K output rows x F filters, in ``_input_windows``' order, from
    ``outputs`` [batch, rows, W, F] (the last block zero-padded)."""
    filters = outputs.shape[3]
    by_column = ops.transpose(outputs, (0, 2, 1, 3))  # [batch, W, rows, F]
    by_column = ops.pad(by_column, ((0, 0), (0, 0), (0, blocks * taps - _size(outputs, 1)), (0, 0)))
    return ops.reshape(by_column, (-1, taps * filters))


def _blocks(rows, taps):
    return (rows + taps - 1) // taps


def toeplitz_conv(inputs, kernel):
    """'valid' stride-1 convolution of ``inputs`` [batch, H, W, 1] with a one-column ``kernel``
    [K, 1, 1, F] -> [batch, H - K + 1, W, F]: one matrix product."""
    taps, filters = kernel.shape[0], kernel.shape[3]
    height, width = _size(inputs, 1), inputs.shape[2]
    out_rows = height - taps + 1
    blocks = _blocks(out_rows, taps)
    outputs = ops.matmul(_input_windows(inputs, taps, blocks), _toeplitz_matrix(kernel))  # [N, K*F]
    outputs = ops.reshape(outputs, (-1, width, blocks * taps, filters))[:, :, :out_rows]
    return ops.transpose(outputs, (0, 2, 1, 3))


def toeplitz_input_gradient(upstream, kernel):
    """Input gradient [batch, H, W, 1] of ``toeplitz_conv``, from ``upstream`` [batch, H - K + 1, W, F].

    Each block's K x F gradients spread over its 2K - 1 input rows through the transposed matrix;
    block j lands at rows jK..jK+2K-2, overlapping the next block's first K - 1 rows.
    """
    taps = kernel.shape[0]
    out_rows, width = _size(upstream, 1), upstream.shape[2]
    height = out_rows + taps - 1
    blocks = _blocks(out_rows, taps)
    spread = ops.matmul(_output_blocks(upstream, taps, blocks), ops.transpose(_toeplitz_matrix(kernel)))
    spread = ops.reshape(spread, (-1, blocks, 2 * taps - 1))  # [batch*W, blocks, 2K - 1]
    heads = ops.pad(spread[..., :taps], ((0, 0), (0, 1), (0, 0)))  # block j at block j
    tails = ops.pad(spread[..., taps:], ((0, 0), (1, 0), (0, 1)))  # its last K - 1 rows at block j + 1
    gradient = ops.reshape(heads + tails, (-1, (blocks + 1) * taps))[:, :height]
    return ops.expand_dims(ops.transpose(ops.reshape(gradient, (-1, width, height)), (0, 2, 1)), -1)


def toeplitz_kernel_gradient(inputs, upstream, taps):
    """Kernel gradient [K, 1, 1, F] of ``toeplitz_conv`` with a kernel of ``taps`` taps, from its
    ``inputs`` [batch, H, W, 1] and ``upstream`` [batch, H - K + 1, W, F].

    Every block's input rows times its output rows give all (input row, output row, filter)
    products in one [2K - 1, K*F] matrix product; tap k is the sum of the diagonal u - s = k.
    """
    filters = upstream.shape[3]
    blocks = _blocks(_size(upstream, 1), taps)
    windows = _input_windows(inputs, taps, blocks)
    products = ops.matmul(ops.transpose(windows), _output_blocks(upstream, taps, blocks))
    products = ops.reshape(products, ((2 * taps - 1) * taps, filters))  # row (u, s)
    tap, row = np.meshgrid(np.arange(taps), np.arange(taps), indexing="ij")
    diagonals = ops.take(products, ((tap + row) * taps + row).reshape(-1), axis=0)  # (k, s) -> (u = k + s, s)
    return ops.sum(ops.reshape(diagonals, (taps, taps, filters)), axis=1)[:, None, None, :]
