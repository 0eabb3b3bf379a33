"""The overlap-add ("fold") of per-patch gradients: the input gradient of a convolution of a one-channel map.

TensorFlow's Conv2DBackpropInput is slow on a CPU for a one-channel input (the log-mel map) and
wide kernels such as musicnn's 7x38 and 7x67 timbral filters. Computed instead as one matrix product
(each output position's gradient times the kernel: a kernel-sized patch) and this fold, it gives the
same numbers up to float summation order, several times faster (benchmarks/results/kernels.md).

Applies to: TensorFlow on a CPU, inside ``single_channel_conv``'s custom gradient. Tested equal to
Conv2DBackpropInput through that layer, and to a loop's overlap-add (tests/test_kernel_single_channel_conv.py).
"""
__all__ = ["fold_patches", "fold_input_gradient"]


def _skew_sum(d):
    """out[..., r + j] = sum d[..., r, j]: the rows of [..., R, K] shifted right by their index, summed.

    Pads each row with R zeros and reads the buffer back with rows one element shorter, which
    shifts row r by r. The sum is symmetric in r and j, so the shorter axis is made the rows (the
    padded buffer is then at most twice the input); an axis of unknown length is time, the longer.
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


def fold_input_gradient(upstream, kernel):
    """Input gradient [batch, H, W, 1] of a 'valid' stride-1 convolution of a one-channel map with
    ``kernel`` [KH, KW, 1, F], from ``upstream`` [batch, H - KH + 1, W - KW + 1, F]."""
    import tensorflow as tf

    return fold_patches(tf.einsum("bhwc,ijc->bhwij", upstream, kernel[:, :, 0, :]))[..., None]
