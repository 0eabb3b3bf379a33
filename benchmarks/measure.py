"""Cost measurements of one model: latency, throughput, peak memory, estimated training memory."""
import resource
import time

import numpy as np
import tensorflow as tf

__all__ = [
    "compiled_inference",
    "latency_ms",
    "latency_ms_of",
    "items_per_s",
    "throughput_clips_per_s",
    "peak_rss_mb",
    "current_rss_mb",
    "gpu_peak_mb",
    "reset_gpu_peak",
    "estimate_train_memory_mb",
    "matmul_gflops",
    "device_name",
]

BYTES_PER_FLOAT = 4


def compiled_inference(model, samples, jit_compile=False):
    """A traced inference function for [batch, samples] float32 waveforms."""
    signature = [tf.TensorSpec([None, samples], tf.float32)]
    return tf.function(lambda x: model(x, training=False), input_signature=signature, jit_compile=jit_compile)


def _timed_calls(function, batch, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        np.asarray(function(batch))  # waits for the result, tensor or array
        times.append(time.perf_counter() - start)
    return np.array(times)


def latency_ms_of(function, example, warmup=5, repeats=30):
    """(p50, p95) in milliseconds of ``function(example)``, after warm-up."""
    _timed_calls(function, example, warmup)
    times = _timed_calls(function, example, repeats) * 1000
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def items_per_s(function, batch, warmup=2, repeats=5):
    """len(batch) / median time of ``function(batch)``, after warm-up."""
    _timed_calls(function, batch, warmup)
    return len(batch) / float(np.median(_timed_calls(function, batch, repeats)))


def latency_ms(function, samples, warmup=5, repeats=30):
    """(p50, p95) of batch-1 inference on a [1, samples] waveform in milliseconds."""
    clip = tf.random.normal([1, samples], stddev=0.1, seed=0)
    return latency_ms_of(function, clip, warmup, repeats)


def throughput_clips_per_s(function, samples, batch_size=32, warmup=2, repeats=5):
    batch = tf.random.normal([batch_size, samples], stddev=0.1, seed=1)
    return items_per_s(function, batch, warmup, repeats)


def peak_rss_mb(pid="self"):
    """Peak resident set size (MB) of this process, or of process ``pid``, so far.

    Read from /proc's VmHWM, which starts afresh at exec. getrusage's ru_maxrss does not on
    Linux: a child inherits its parent's high-water mark, so a 2 MB /bin/true spawned by a
    300 MB Python process reports 313 MB (measured 2026-11-27). ru_maxrss is the fallback
    where there is no /proc.
    """
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    if pid != "self":
        return float("nan")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb():
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def _gpu():
    gpus = tf.config.list_logical_devices("GPU")
    return gpus[0].name if gpus else None


def reset_gpu_peak():
    if _gpu():
        tf.config.experimental.reset_memory_stats(_gpu().replace("/device:", ""))


def gpu_peak_mb():
    """Peak GPU memory allocated by TensorFlow since the last reset, or None without a GPU."""
    if not _gpu():
        return None
    return tf.config.experimental.get_memory_info(_gpu().replace("/device:", ""))["peak"] / 2**20


def device_name():
    gpu = tf.config.list_physical_devices("GPU")
    if gpu:
        details = tf.config.experimental.get_device_details(gpu[0])
        return f"GPU {details.get('device_name', gpu[0].name)}"
    import os
    import platform

    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            model = next(l.split(":", 1)[1].strip() for l in info if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"CPU {model} x{os.cpu_count()} ({platform.machine()})"


def estimate_train_memory_mb(model, batch_size, optimizer_slots=2):
    """Memory a training step needs: weights, gradients, optimizer slots, kept activations.

    Activations: every layer output of the forward graph is kept for the backward pass
    (an upper bound; frameworks free some). Adam keeps two slots per weight. float32.
    """
    weights = sum(int(np.prod(w.shape)) for w in model.weights)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    activations = 0
    for layer in model.layers:
        for output in tf.nest.flatten(layer.output):
            shape = output.shape[1:]
            if None in shape:
                raise ValueError(f"estimate needs a fixed input length; {layer.name} has {output.shape}")
            activations += int(np.prod(shape)) * batch_size
    floats = weights + trainable * (1 + optimizer_slots) + activations
    return floats * BYTES_PER_FLOAT / 2**20


def matmul_gflops(n=2048, repeats=10):
    """The machine's dense float32 matmul rate, as the reference for achieved GFLOP/s."""
    a = tf.random.normal([n, n])
    b = tf.random.normal([n, n])
    matmul = tf.function(lambda: tf.matmul(a, b))
    matmul().numpy()
    start = time.perf_counter()
    for _ in range(repeats):
        matmul().numpy()
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9
