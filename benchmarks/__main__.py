"""python -m benchmarks: accuracy, latency and memory of zoo models on a tagging dataset.

Each model runs in its own subprocess (benchmarks.worker); its row is appended to
--out/results.csv the moment it finishes. Rerunning with the same --out skips finished
models; Ctrl-C stops the model in progress and keeps every finished row.
"""
import fnmatch
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from absl import app, flags

from benchmarks.presets import PRESETS
from zoo import host_allocator
from zoo.training.strategies import STRATEGY_NAMES

FLAGS = flags.FLAGS
flags.DEFINE_enum("preset", "default", sorted(PRESETS), "Models, data size and training length.")
flags.DEFINE_list("models", None, "Model ids or globs (overrides the preset's models).")
flags.DEFINE_string("dataset", "gm", "'gm' (rendered here from General MIDI), 'mtat:PATH' or 'manifest:PATH.csv'.")
flags.DEFINE_string("out", None, "Output directory (default runs/<preset>).")
flags.DEFINE_integer("epochs", None, "Training epochs (default: the preset's).")
flags.DEFINE_integer("batch_size", None, "Training batch size (default: the preset's).")
flags.DEFINE_float("input_seconds", 3.0, "Model input length in seconds.")
flags.DEFINE_enum("strategy", "default", STRATEGY_NAMES, "Distribution strategy of Keras' backend (zoo-train's).")
flags.DEFINE_bool("jit_compile", False, "Compile training and inference with XLA.")
flags.DEFINE_string("data_root", None, "Where datasets are rendered/cached (default: the zoo cache).")
flags.DEFINE_integer("seed", 0, "Seed of the data (rendering, manifest split) and of the first training run.")
flags.DEFINE_string("weights", None, "Registered weights every model starts from (e.g. mtt-distilled): every layer "
                    "but the head, which is new for the dataset's tags; default: random init.")
flags.DEFINE_integer("seeds", None, "Training runs per model, seeds seed..seed+N-1, same data (default: the preset's).")


def _selected_models(patterns, preset):
    from zoo.models import registry

    if not patterns:
        return list(preset.models)
    ids = registry.list_models() + sorted(registry.ALIASES)
    chosen = []
    for pattern in patterns:
        matches = fnmatch.filter(ids, pattern) if any(c in pattern for c in "*?[") else [pattern]
        if not matches:
            raise ValueError(f"--models: {pattern!r} matches no model id")
        chosen += [registry.resolve(m).model_id for m in matches]  # resolve raises with close matches
    return list(dict.fromkeys(chosen))


def _dataset_spec(preset):
    from zoo.datasets import parse_dataset

    text = FLAGS.dataset
    if text == "gm":  # the preset's clip counts
        text = "gm:" + ",".join(str(n) for n in preset.clips)
    return parse_dataset(text, seed=FLAGS.seed, data_root=FLAGS.data_root)


def _worker_spec(model_id, seed, preset, dataset):
    return {
        "model": model_id,
        "dataset": dataset,
        "epochs": FLAGS.epochs or preset.epochs,
        "batch_size": FLAGS.batch_size or preset.batch_size,
        "input_seconds": FLAGS.input_seconds,
        "strategy": FLAGS.strategy,
        "jit_compile": FLAGS.jit_compile,
        "seed": seed,
        "weights": FLAGS.weights,
        # Latency and throughput are the architecture's, not the seed's: timed on the first seed.
        "time_inference": seed == FLAGS.seed,
        "scaling_seconds": list(preset.scaling_seconds),
        "latency_repeats": preset.latency_repeats,
        "throughput_batch": 32,
    }


def _run_in_subprocess(module, spec, workdir, *extra_args, env=None):
    """Runs `python -m module SPEC ROW [extra_args]`; returns the row (dict) or None if it failed."""
    spec_path = os.path.join(workdir, "spec.json")
    row_path = os.path.join(workdir, "row.json")
    with open(spec_path, "w") as f:
        json.dump(spec, f)
    environ = {**os.environ, **(env or {})}
    child = subprocess.Popen([sys.executable, "-m", module, spec_path, row_path, *extra_args],
                             env=host_allocator.environment(environ.get("KERAS_BACKEND"), environ))
    try:
        code = child.wait()
    except KeyboardInterrupt:
        child.terminate()
        child.wait()
        raise
    if code != 0 or not os.path.exists(row_path):
        return None
    with open(row_path) as f:
        return json.load(f)


def _benchmark_model(model_id, spec, store, matmul_gflops):
    import pandas as pd

    # The model's training run lives in --out, so a benchmark killed mid-training resumes it.
    train_dir = os.path.join(store.out_dir, "training", model_id, f"seed-{spec['seed']}")
    with tempfile.TemporaryDirectory(prefix="zoo-bench-") as workdir:
        row = _run_in_subprocess("benchmarks.worker", spec, workdir, train_dir)
        if row is None:
            return None
        per_tag = pd.read_csv(os.path.join(workdir, "row.json.tags.csv"))
    row["machine_matmul_gflops"] = matmul_gflops
    row["seed"] = spec["seed"]
    per_tag.insert(1, "seed", spec["seed"])
    store.append(row, per_tag)
    return row


def _summary_line(row):
    timed = (f"p50 {row['latency_ms_p50']:.1f} ms  {row['throughput_clips_per_s']:.1f} clips/s  "
             if "latency_ms_p50" in row else "")
    return (f"ROC-AUC {row['roc_auc']:.3f}  PR-AUC {row['pr_auc']:.3f}  {timed}"
            f"peak {row['peak_memory_mb']:,.0f} MB  est. train {row['est_train_vram_mb']:,.0f} MB"
            + (f"  measured train {row['measured_train_memory_mb']:,.0f} MB ({row['measured_train_memory_source']})"
               if row.get("measured_train_memory_mb") is not None else ""))


def _prepare_dataset(spec):
    from zoo.datasets import open_dataset

    start = time.perf_counter()
    dataset = open_dataset(spec, progress=True)
    print(f"dataset {dataset.name}: {len(dataset.annotations)} clips, {len(dataset.tags)} tags "
          f"({time.perf_counter() - start:.0f} s)", flush=True)


class _Progress:
    """Jobs done and left, elapsed, and the time left at this run's mean time per job."""

    def __init__(self, total, finished_before):
        self.total, self.start = total, time.perf_counter()
        self.done_before, self.done_now, self.seconds = len(finished_before), 0, 0.0

    def done(self, seconds):
        self.done_now += 1
        self.seconds += seconds

    def line(self):
        done = min(self.total, self.done_before + self.done_now)
        left = self.total - done
        elapsed = (time.perf_counter() - self.start) / 60
        eta = f"~{left * self.seconds / self.done_now / 60:.0f} min left" if self.done_now else "time left unknown"
        return f"progress: {done}/{self.total} runs done, {left} left; {elapsed:.0f} min elapsed, {eta}"


def _default_out(preset):
    """runs/PRESET on TensorFlow, runs/PRESET-BACKEND on the others (results of two backends
    never resume into each other)."""
    import keras

    backend = keras.config.backend()
    return os.path.join("runs", preset if backend == "tensorflow" else f"{preset}-{backend}")


def _anchor(store, preset, matmul_gflops):
    from benchmarks.anchor import ANCHOR_ID

    if (ANCHOR_ID, FLAGS.seed) in store.finished():
        return
    spec = {"throughput_batch": 32, "latency_repeats": preset.latency_repeats, "jit_compile": FLAGS.jit_compile}
    with tempfile.TemporaryDirectory(prefix="zoo-anchor-") as workdir:
        # The original graph is TensorFlow's, and ours is timed next to it on the same backend.
        row = _run_in_subprocess("benchmarks.anchor", spec, workdir, env={"KERAS_BACKEND": "tensorflow"})
    if row is None:
        print(f"{ANCHOR_ID}: failed (see above)", flush=True)
        return
    row["machine_matmul_gflops"] = matmul_gflops
    row["seed"] = FLAGS.seed
    store.append(row)
    print(f"{ANCHOR_ID}: original graph {row['throughput_clips_per_s']:.1f} patches/s; "
          f"ours {row['ours_throughput_clips_per_s']:.1f} -> {row['speedup_vs_original']:.2f}x", flush=True)


def main(argv):
    del argv
    from benchmarks import measure
    from benchmarks.results import ResultsStore

    preset = PRESETS[FLAGS.preset]
    models = _selected_models(FLAGS.models, preset)
    dataset = _dataset_spec(preset)
    store = ResultsStore(FLAGS.out or _default_out(FLAGS.preset))
    _prepare_dataset(dataset)
    matmul_gflops = measure.matmul_gflops()
    print(f"device: {measure.device_name()}; dense matmul {matmul_gflops:.0f} GFLOP/s", flush=True)
    seeds = range(FLAGS.seed, FLAGS.seed + (FLAGS.seeds or preset.seeds))
    jobs = [(model_id, seed) for seed in seeds for model_id in models]  # every model once before any twice
    progress = _Progress(len(jobs), set(jobs) & store.finished())
    failed = []
    try:
        for i, (model_id, seed) in enumerate(jobs, start=1):
            label = f"[{i}/{len(jobs)}] {model_id} seed {seed}"
            if (model_id, seed) in store.finished():
                print(f"{label}: already in {store.csv_path}, skipped", flush=True)
                continue
            print(f"{label} ...", flush=True)
            start = time.perf_counter()
            row = _benchmark_model(model_id, _worker_spec(model_id, seed, preset, dataset), store, matmul_gflops)
            progress.done(time.perf_counter() - start)
            if row is None:
                failed.append(f"{model_id} (seed {seed})")
                print(f"{label}: FAILED (see above); no row written", flush=True)
            else:
                print(f"{label}: {_summary_line(row)}", flush=True)
                store.write_report(f"Benchmark ({FLAGS.preset} preset, {FLAGS.dataset} dataset, in progress)")
            print(progress.line(), flush=True)
        if preset.anchor and not FLAGS.models:
            _anchor(store, preset, matmul_gflops)
    except KeyboardInterrupt:
        print("\ninterrupted: finished models are kept; rerun with the same --out to resume", flush=True)
        store.write_report(f"Benchmark ({FLAGS.preset} preset, interrupted)")
        return 130
    store.write_report(f"Benchmark ({FLAGS.preset} preset, {FLAGS.dataset} dataset)")
    print(f"results: {store.csv_path}; {progress.line()}; dense matmul {matmul_gflops:.0f} GFLOP/s", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def run():
    # Ctrl-C (SIGINT to the process group) stops cleanly, even when started from a shell that
    # left SIGINT ignored (a background job of a non-interactive shell): the workers handle it too.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    def _main(argv):
        from zoo import UnknownModelError

        try:
            sys.exit(main(argv))
        except (ValueError, UnknownModelError) as error:
            print(f"error: {error}", file=sys.stderr)
            sys.exit(2)

    app.run(_main)


if __name__ == "__main__":
    run()
