"""Benchmarks one model in its own process, so memory figures don't bleed between models.

Run by the CLI as ``python -m benchmarks.worker SPEC.json ROW.json``; writes the result row
(and the per-tag table) atomically at the very end, or nothing at all.
"""
import json
import os
import signal
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Ctrl-C reaches the whole process group, maybe while TensorFlow is still importing: leave
# quietly with 130 (the CLI reports the interruption), never with a traceback.
signal.signal(signal.SIGINT, lambda signum, frame: sys.exit(130))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import zoo  # noqa: E402
from benchmarks import measure  # noqa: E402
from benchmarks.datasets import open_dataset  # noqa: E402
from zoo.training.metrics import per_tag_scores, summarise  # noqa: E402
from zoo import registry  # noqa: E402
from zoo.describe import count_flops  # noqa: E402

__all__ = ["run"]

RECALIBRATION_BATCHES = 16
STRATEGIES = {
    "default": tf.distribute.get_strategy,
    "mirrored": tf.distribute.MirroredStrategy,
    "multi_worker": tf.distribute.MultiWorkerMirroredStrategy,  # reads TF_CONFIG
}


def _clip_samples(spec, dataset):
    return int(round(spec["input_seconds"] * dataset.sample_rate))


def _train(model, spec, dataset, clip_samples):
    from zoo.datasets.pipeline import make_dataset

    train = make_dataset(dataset, "train", spec["batch_size"], clip_samples=clip_samples,
                         shuffle=True, seed=spec["seed"], repeat=False)
    valid = make_dataset(dataset, "valid", spec["batch_size"], clip_samples=clip_samples,
                         shuffle=False, seed=spec["seed"], repeat=False)
    rss_before = measure.current_rss_mb()
    measure.reset_gpu_peak()
    start = time.perf_counter()
    model.fit(train, validation_data=valid, epochs=spec["epochs"], verbose=2 if not sys.stdout.isatty() else 1)
    _recalibrate_batch_norm(model, train.take(RECALIBRATION_BATCHES))
    return {
        "train_seconds": time.perf_counter() - start,
        "train_rss_growth_mb": measure.peak_rss_mb() - rss_before,
        "gpu_train_peak_mb": measure.gpu_peak_mb(),
    }


def _recalibrate_batch_norm(model, batches):
    """Re-estimate every BN's moving statistics as the plain average over ``batches``.

    A benchmark trains for a few dozen steps, too few for momentum-0.99 moving averages to
    forget their initial values, and evaluation uses those averages. So, after training (no
    weight changes), BN layers see training batches with dropout off and momentum k/(k+1)
    at the k-th batch, i.e. a cumulative mean (as torch.optim.swa_utils.update_bn does).
    """
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    dropouts = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    momenta, rates = [n.momentum for n in norms], [d.rate for d in dropouts]
    for dropout in dropouts:
        dropout.rate = 0.0
    try:
        for k, (waveforms, _) in enumerate(batches):
            for norm in norms:
                norm.momentum = k / (k + 1)
            model(waveforms, training=True)
    finally:
        for norm, momentum in zip(norms, momenta):
            norm.momentum = momentum
        for dropout, rate in zip(dropouts, rates):
            dropout.rate = rate


def _patch_scores(model, waveforms, clip_samples):
    """Mean score over the non-overlapping clip-length patches of each full waveform."""
    patches = waveforms.shape[1] // clip_samples
    cut = waveforms[:, : patches * clip_samples].reshape(-1, clip_samples)
    scores = model.predict(cut, batch_size=32, verbose=0)
    return scores.reshape(len(waveforms), patches, -1).mean(axis=1)


def _evaluate(model, spec, dataset, clip_samples):
    from zoo.datasets.pipeline import make_dataset

    test = make_dataset(dataset, "test", spec["batch_size"], clip_samples=None, shuffle=False, repeat=False)
    labels, scores = [], []
    for waveforms, batch_labels in test:
        scores.append(_patch_scores(model, waveforms.numpy(), clip_samples))
        labels.append(batch_labels.numpy())
    per_tag = per_tag_scores(np.concatenate(labels), np.concatenate(scores), dataset.tags, dataset.tag_groups)
    return summarise(per_tag), per_tag


def _inference_costs(model, spec, clip_samples):
    measure.reset_gpu_peak()
    infer = measure.compiled_inference(model, clip_samples, jit_compile=spec["jit_compile"])
    p50, p95 = measure.latency_ms(infer, clip_samples, repeats=spec["latency_repeats"])
    throughput = measure.throughput_clips_per_s(infer, clip_samples, batch_size=spec["throughput_batch"])
    return {
        "latency_ms_p50": p50,
        "latency_ms_p95": p95,
        "throughput_clips_per_s": throughput,
        "gpu_inference_peak_mb": measure.gpu_peak_mb(),
    }


def _length_scaling(model_id, spec, dataset):
    """Latency and estimated training memory at other input lengths (variable-length only)."""
    row = {}
    for seconds in spec["scaling_seconds"]:
        model = zoo.load(model_id, num_classes=len(dataset.tags), input_seconds=seconds,
                         sample_rate=dataset.sample_rate)
        samples = int(seconds * dataset.sample_rate)
        infer = measure.compiled_inference(model, samples, jit_compile=spec["jit_compile"])
        row[f"latency_ms_{seconds:g}s"] = measure.latency_ms(infer, samples, warmup=2, repeats=5)[0]
        row[f"est_train_vram_mb_{seconds:g}s"] = measure.estimate_train_memory_mb(model, spec["batch_size"])
        keras.backend.clear_session()
    return row


def run(spec):
    keras.utils.set_random_seed(spec["seed"])
    dataset = open_dataset(spec["dataset"], progress=False)
    model_id, front, back = registry.resolve(spec["model"])
    clip_samples = _clip_samples(spec, dataset)
    with STRATEGIES[spec["strategy"]]().scope():
        model = zoo.load(model_id, num_classes=len(dataset.tags), tag_names=list(dataset.tags),
                         input_seconds=spec["input_seconds"], sample_rate=dataset.sample_rate)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy",
                      jit_compile=spec["jit_compile"])
    row = {
        "model": model_id, "front_end": front.name, "back_end": back.name,
        "input": front.input_kind, "length": back.length_policy,
        "params": model.count_params(), "mflops_per_clip": count_flops(model) / 1e6,
        "est_train_vram_mb": measure.estimate_train_memory_mb(model, spec["batch_size"]),
    }
    row.update(_train(model, spec, dataset, clip_samples))
    accuracy, per_tag = _evaluate(model, spec, dataset, clip_samples)
    row.update(accuracy)
    row.update(_inference_costs(model, spec, clip_samples))
    row["achieved_gflops"] = row["mflops_per_clip"] * row["throughput_clips_per_s"] / 1e3
    if back.length_policy == registry.VARIABLE:
        row.update(_length_scaling(model_id, spec, dataset))
    gpu_peaks = [row["gpu_train_peak_mb"], row["gpu_inference_peak_mb"]]
    row["peak_memory_mb"] = max(gpu_peaks) if None not in gpu_peaks else measure.peak_rss_mb()
    row["peak_rss_mb"] = measure.peak_rss_mb()
    row["device"] = measure.device_name()
    row.update({k: spec[k] for k in ("epochs", "batch_size", "input_seconds", "jit_compile", "strategy")})
    return row, per_tag


def main(argv):
    spec_path, row_path = argv[1], argv[2]
    with open(spec_path) as f:
        spec = json.load(f)
    row, per_tag = run(spec)
    per_tag.insert(0, "model", row["model"])
    # Per-tag table first, row last: the row's presence is what marks the model finished.
    per_tag.to_csv(row_path + ".tags.partial", index=False)
    os.replace(row_path + ".tags.partial", row_path + ".tags.csv")
    with open(row_path + ".partial", "w") as f:
        json.dump(row, f)
    os.replace(row_path + ".partial", row_path)


if __name__ == "__main__":
    main(sys.argv)
