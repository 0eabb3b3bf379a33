"""Anchor row: the ORIGINAL musicnn graph (MTT_musicnn checkpoint) timed on this machine,
next to our musicnn-vertical-horizontal on the same log-mel patches.

Run by the CLI as ``python -m benchmarks.anchor SPEC.json ROW.json`` in its own process.
"""
import json
import os
import sys

from benchmarks.worker_interrupts import leave_quietly_on_ctrl_c

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
leave_quietly_on_ctrl_c()

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks import measure  # noqa: E402

__all__ = ["ANCHOR_ID", "run"]

ANCHOR_ID = "original-musicnn-graph"
OURS = "musicnn-vertical-horizontal"
PATCH_FRAMES, N_MELS = 187, 96


def _ours_on_log_mel():
    import zoo
    from zoo.models.input_stage import frames_to_samples

    seconds = frames_to_samples(PATCH_FRAMES) / 16000
    model = zoo.load(OURS, weights="mtt", input_stage=False, input_seconds=seconds)
    spec = [tf.TensorSpec([None, PATCH_FRAMES, N_MELS], tf.float32)]
    infer = tf.function(lambda x: model(x, training=False), input_signature=spec)
    return lambda batch: infer(batch).numpy()


def run(spec):
    from pretrained.reference import ReferenceGraph

    rng = np.random.default_rng(0)
    batch = rng.uniform(0, 3, size=(spec["throughput_batch"], PATCH_FRAMES, N_MELS)).astype(np.float32)
    original = ReferenceGraph("MTT_musicnn")
    original_predict = lambda x: original.predict(x, batch_size=len(x))  # noqa: E731
    ours_predict = _ours_on_log_mel()
    max_difference = float(np.abs(original_predict(batch) - ours_predict(batch)).max())
    # Interleave the two so that a busy machine slows both alike.
    rates = {"original": [], "ours": []}
    for _ in range(3):
        rates["original"].append(measure.items_per_s(original_predict, batch))
        rates["ours"].append(measure.items_per_s(ours_predict, batch))
    original_rate, ours_rate = (float(np.median(rates[k])) for k in ("original", "ours"))
    p50, p95 = measure.latency_ms_of(original_predict, batch[:1], repeats=spec["latency_repeats"])
    return {
        "model": ANCHOR_ID,
        "front_end": "vertical-horizontal",
        "back_end": "musicnn",
        "input": "log-mel",
        "latency_ms_p50": p50,
        "latency_ms_p95": p95,
        "throughput_clips_per_s": original_rate,
        "ours_throughput_clips_per_s": ours_rate,
        "speedup_vs_original": ours_rate / original_rate,
        "max_abs_diff_vs_ours": max_difference,
        "peak_memory_mb": measure.peak_rss_mb(),
        "device": measure.device_name(),
    }


def main(argv):
    with open(argv[1]) as f:
        spec = json.load(f)
    row = run(spec)
    with open(argv[2] + ".partial", "w") as f:
        json.dump(row, f)
    os.replace(argv[2] + ".partial", argv[2])


if __name__ == "__main__":
    main(sys.argv)
