"""Cost measurements of one model: latency, throughput, peak memory, training memory (estimated,
and measured where the backend can tell), on Keras' backend (TensorFlow, JAX or PyTorch).

What differs between backends is looked up in tables: how inference is compiled, how the GPU's
peak memory is read and reset, how the machine's matmul rate is measured.
"""
import os
import resource
import time

import keras
import numpy as np

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
    "planned_train_memory_mb",
    "train_step_seconds",
    "matmul_gflops",
    "device_name",
    "write_report",
]

BYTES_PER_FLOAT = 4


def _backend():
    return keras.config.backend()


def _tf_inference(model, samples, jit_compile):
    import tensorflow as tf

    signature = [tf.TensorSpec([None, samples], tf.float32)]
    return tf.function(lambda x: model(x, training=False), input_signature=signature, jit_compile=jit_compile)


def _keras_inference(model, samples, jit_compile):
    from zoo.models.inference_call import inference_function

    return inference_function(model)  # JAX compiles with XLA anyway; jit_compile is TensorFlow's choice


_INFERENCE = {"tensorflow": _tf_inference}


def compiled_inference(model, samples, jit_compile=False):
    """A compiled inference function for [batch, samples] float32 waveforms."""
    return _INFERENCE.get(_backend(), _keras_inference)(model, samples, jit_compile)


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
    clip = np.random.default_rng(0).normal(0.0, 0.1, (1, samples)).astype(np.float32)
    return latency_ms_of(function, clip, warmup, repeats)


def throughput_clips_per_s(function, samples, batch_size=32, warmup=2, repeats=5):
    batch = np.random.default_rng(1).normal(0.0, 0.1, (batch_size, samples)).astype(np.float32)
    return items_per_s(function, batch, warmup, repeats)


def peak_rss_mb(pid="self"):
    """Peak resident set size (MB) of this process, or of process ``pid``, so far.

    Read from /proc's VmHWM, which starts afresh at exec. getrusage's ru_maxrss does not on
    Linux: a child inherits its parent's high-water mark (benchmarks/results/code_choices.md).
    ru_maxrss is the fallback
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


class _TensorFlowGpu:
    @staticmethod
    def _device():
        import tensorflow as tf

        gpus = tf.config.list_logical_devices("GPU")
        return gpus[0].name.replace("/device:", "") if gpus else None

    def name(self):
        import tensorflow as tf

        gpu = tf.config.list_physical_devices("GPU")
        return tf.config.experimental.get_device_details(gpu[0]).get("device_name", gpu[0].name) if gpu else None

    def reset(self):
        import tensorflow as tf

        if self._device():
            tf.config.experimental.reset_memory_stats(self._device())

    def peak_mb(self):
        import tensorflow as tf

        return tf.config.experimental.get_memory_info(self._device())["peak"] / 2**20 if self._device() else None


class _JaxGpu:
    """JAX keeps no resettable peak: one fresh process per measurement (the benchmark's workers)."""

    @staticmethod
    def _device():
        import jax

        gpus = [d for d in jax.devices() if d.platform == "gpu"]
        return gpus[0] if gpus else None

    def name(self):
        return self._device().device_kind if self._device() else None

    def reset(self):
        pass

    def peak_mb(self):
        device = self._device()
        return device.memory_stats()["peak_bytes_in_use"] / 2**20 if device else None


class _TorchGpu:
    def name(self):
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None

    def reset(self):
        import torch

        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()

    def peak_mb(self):
        import torch

        return torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None


_GPUS = {"tensorflow": _TensorFlowGpu(), "jax": _JaxGpu(), "torch": _TorchGpu()}


def reset_gpu_peak():
    _GPUS[_backend()].reset()


def gpu_peak_mb():
    """Peak GPU memory the backend allocated since the last reset, or None without a GPU."""
    return _GPUS[_backend()].peak_mb()


def device_name():
    gpu = _GPUS[_backend()].name()
    if gpu:
        return f"GPU {gpu}"
    import platform

    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            model = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
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
        for output in keras.tree.flatten(layer.output):
            shape = output.shape[1:]
            if None in shape:
                raise ValueError(f"estimate needs a fixed input length; {layer.name} has {output.shape}")
            activations += int(np.prod(shape)) * batch_size
    floats = weights + trainable * (1 + optimizer_slots) + activations
    return floats * BYTES_PER_FLOAT / 2**20


def _tf_matmul(a, b):
    import tensorflow as tf

    a, b = tf.constant(a), tf.constant(b)
    matmul = tf.function(lambda: tf.matmul(a, b))
    return lambda: matmul().numpy()


def _jax_matmul(a, b):
    import jax

    a, b = jax.device_put(a), jax.device_put(b)
    matmul = jax.jit(lambda x, y: x @ y)
    return lambda: matmul(a, b).block_until_ready()


def _torch_matmul(a, b):
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    a, b = torch.from_numpy(a).to(device), torch.from_numpy(b).to(device)

    def matmul():
        product = a @ b
        if device == "cuda":
            torch.cuda.synchronize()
        return product

    return matmul


_MATMULS = {"tensorflow": _tf_matmul, "jax": _jax_matmul, "torch": _torch_matmul}


def matmul_gflops(n=2048, repeats=10):
    """The machine's dense float32 matmul rate on Keras' backend, the reference for achieved GFLOP/s."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(2))
    matmul = _MATMULS[_backend()](a, b)
    matmul()
    start = time.perf_counter()
    for _ in range(repeats):
        matmul()
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def planned_train_memory_mb(model, batch_size, samples):
    """JAX only (None elsewhere): the compiler's plan of one jitted train step of ``model`` on
    [batch_size, samples] waveforms, in MB: arguments (weights, optimizer slots, batch) + outputs +
    temporaries, less the outputs that reuse donated argument buffers (counted once).
    ``compiled.memory_analysis()`` (XLA's buffer assignment): what the step needs at its peak
    on the device it was compiled for, CPU included, without running it."""
    if _backend() != "jax":
        return None
    from zoo.training.backend_steps import JaxSteps
    from zoo.training.optimizers import make_optimizer
    from zoo.training.recipes import resolve_recipe
    from zoo.training.strategies import SingleDevice

    recipe = resolve_recipe("default", batch_size=batch_size)
    optimizer = make_optimizer(recipe.phases[0])
    optimizer.build(model.trainable_variables)
    steps = JaxSteps(model, recipe, batch_size, SingleDevice())
    steps.start_phase(optimizer)
    waveforms = np.zeros((batch_size, samples), np.float32)
    labels = np.zeros((batch_size, model.output_shape[-1]), np.float32)
    plan = steps.compiled_step(waveforms, labels).memory_analysis()
    total = (plan.argument_size_in_bytes + plan.output_size_in_bytes + plan.temp_size_in_bytes
             - plan.alias_size_in_bytes)
    return total / 2**20


def train_step_seconds(model, batch_size, repeats=5, warmup=2):
    """Median seconds of the zoo trainer's step (``zoo.training.backend_steps``, recipe "default",
    Adam) on one batch of random waveforms held in memory: the step without the input pipeline."""
    from zoo.training.backend_steps import make_train_steps
    from zoo.training.optimizers import make_optimizer
    from zoo.training.recipes import resolve_recipe
    from zoo.training.strategies import make_strategy

    rng = np.random.default_rng(0)
    waveforms = rng.normal(0.0, 0.1, (batch_size, model.input_shape[1])).astype(np.float32)
    labels = (rng.uniform(size=(batch_size, model.output_shape[-1])) > 0.8).astype(np.float32)
    recipe = resolve_recipe("default", batch_size=batch_size)
    optimizer = make_optimizer(recipe.phases[0])
    optimizer.build(model.trainable_variables)
    steps = make_train_steps(model, recipe, batch_size, make_strategy("default"))
    steps.start_phase(optimizer)

    iterator = steps.in_memory_batches(waveforms, labels)
    steps.start_epoch()
    for _ in range(warmup):  # compilation, first allocations
        steps.train(iterator)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        steps.train(iterator)  # returns the loss as a Python float: the step has finished
        times.append(time.perf_counter() - start)
    steps.end_of_steps()
    return float(np.median(times))


def write_report(prefix, payload, markdown):
    """PREFIX.json and PREFIX.md, each replaced atomically."""
    import json

    os.makedirs(os.path.dirname(prefix) or ".", exist_ok=True)
    for suffix, text in ((".json", json.dumps(payload, indent=2)), (".md", markdown)):
        with open(prefix + suffix + ".partial", "w") as handle:
            handle.write(text)
        os.replace(prefix + suffix + ".partial", prefix + suffix)
