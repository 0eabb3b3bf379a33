"""Benchmarks one model in its own process, so memory figures don't bleed between models.

Run by the CLI as ``python -m benchmarks.worker SPEC.json ROW.json TRAIN_DIR``: trains with
``zoo.train`` into TRAIN_DIR (so a killed benchmark resumes the model's training there), then
measures; writes the result row (and the per-tag table) atomically at the very end, or nothing.
"""
import json
import os
import sys
import time

from benchmarks.worker_interrupts import leave_quietly_on_ctrl_c
from zoo.host_allocator import tune_host_allocator

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
leave_quietly_on_ctrl_c()
tune_host_allocator()  # its parent gave it GLIBC_TUNABLES too; this covers a worker started by hand

import keras  # noqa: E402

import zoo  # noqa: E402
from benchmarks import measure  # noqa: E402
from zoo.models import registry  # noqa: E402
from zoo.models.catalogue import count_flops  # noqa: E402
from zoo.training.run_directory import RunDirectory  # noqa: E402

__all__ = ["run"]



def _train(model_id, spec, train_dir, strategy):
    """Trains through the zoo's trainer (recipe "default", the preset's epochs and batch), from the
    spec's weights where it names some."""
    earlier = RunDirectory(train_dir, writable=False).trained_seconds()  # a killed benchmark's epochs
    rss_before = measure.current_rss_mb()
    measure.reset_gpu_peak()
    start = time.perf_counter()
    result = zoo.train(model_id, spec["dataset"], out_dir=train_dir, recipe="default", epochs=spec["epochs"],
                       batch_size=spec["batch_size"], input_seconds=spec["input_seconds"], strategy=strategy,
                       seed=spec["seed"], weights=spec.get("weights"), verbose=True)
    costs = {
        "train_seconds": earlier + time.perf_counter() - start,
        "train_rss_growth_mb": measure.peak_rss_mb() - rss_before,
        "gpu_train_peak_mb": measure.gpu_peak_mb(),
    }
    return result, costs


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
    """Latency (where the spec times inference) and training memory (estimated; planned by the
    compiler on JAX) at other input lengths (variable-length only)."""
    row = {}
    for seconds in spec["scaling_seconds"]:
        model = zoo.load(model_id, num_classes=len(dataset.tags), input_seconds=seconds,
                         sample_rate=dataset.sample_rate)
        samples = int(seconds * dataset.sample_rate)
        if spec["time_inference"]:
            infer = measure.compiled_inference(model, samples, jit_compile=spec["jit_compile"])
            row[f"latency_ms_{seconds:g}s"] = measure.latency_ms(infer, samples, warmup=2, repeats=5)[0]
        row[f"est_train_vram_mb_{seconds:g}s"] = measure.estimate_train_memory_mb(model, spec["batch_size"])
        planned = measure.planned_train_memory_mb(model, spec["batch_size"], samples)
        if planned is not None:
            row[f"planned_train_memory_mb_{seconds:g}s"] = planned
        keras.backend.clear_session()
    return row


def _measured_train_memory(row):
    """The training step's memory as measured: the GPU's peak during training where there is a
    GPU (a fresh process per model), else JAX's compiler plan of one step; None otherwise."""
    if row["gpu_train_peak_mb"] is not None:
        return row["gpu_train_peak_mb"], "gpu peak"
    planned = row.get("planned_train_memory_mb")
    return (planned, "jax plan") if planned is not None else (None, None)


def run(spec, train_dir):
    from zoo.training.strategies import make_strategy

    # First: MultiWorkerMirroredStrategy must exist before TensorFlow runs any op in the process.
    strategy = make_strategy(spec["strategy"])
    model_id, front, back = registry.resolve(spec["model"])
    result, train_costs = _train(model_id, spec, train_dir, strategy)
    model, dataset = result.model, result.dataset
    clip_samples = int(round(spec["input_seconds"] * dataset.sample_rate))
    row = {
        "model": model_id, "front_end": front.name, "back_end": back.name,
        "input": front.input_kind, "length": back.length_policy,
        "params": model.count_params(), "mflops_per_clip": count_flops(model) / 1e6,
        "est_train_vram_mb": measure.estimate_train_memory_mb(model, spec["batch_size"]),
    }
    row.update(train_costs)
    row.update({k: v for k, v in result.metrics.items() if k.startswith(("roc_auc", "pr_auc"))})
    if spec["time_inference"]:
        row.update(_inference_costs(model, spec, clip_samples))
        row["achieved_gflops"] = row["mflops_per_clip"] * row["throughput_clips_per_s"] / 1e3
    row["planned_train_memory_mb"] = measure.planned_train_memory_mb(model, spec["batch_size"], clip_samples)
    row["measured_train_memory_mb"], row["measured_train_memory_source"] = _measured_train_memory(row)
    if back.length_policy == registry.VARIABLE:
        row.update(_length_scaling(model_id, spec, dataset))
    gpu_peaks = [row["gpu_train_peak_mb"], row.get("gpu_inference_peak_mb")]
    row["peak_memory_mb"] = max(gpu_peaks) if None not in gpu_peaks else measure.peak_rss_mb()
    row["peak_rss_mb"] = measure.peak_rss_mb()
    row["device"] = measure.device_name()
    row["backend"] = keras.config.backend()
    row.update({k: spec[k] for k in ("epochs", "batch_size", "input_seconds", "jit_compile", "strategy")})
    row["weights"] = spec.get("weights") or ""
    return row, result.per_tag


def main(argv):
    spec_path, row_path, train_dir = argv[1], argv[2], argv[3]
    with open(spec_path) as f:
        spec = json.load(f)
    row, per_tag = run(spec, train_dir)
    per_tag.insert(0, "model", row["model"])
    # Per-tag table first, row last: the row's presence is what marks the model finished.
    per_tag.to_csv(row_path + ".tags.partial", index=False)
    os.replace(row_path + ".tags.partial", row_path + ".tags.csv")
    with open(row_path + ".partial", "w") as f:
        json.dump(row, f)
    os.replace(row_path + ".partial", row_path)


if __name__ == "__main__":
    main(sys.argv)
