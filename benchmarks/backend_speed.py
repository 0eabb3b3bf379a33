"""musicnn's speed on each Keras backend, as ratios to TensorFlow: ``python -m benchmarks.backend_speed``

Times, in one run on this machine, musicnn-vertical-horizontal with the MTT weights: inference on a
batch of 32 3-second waveforms, and one train step of the zoo's trainer (``zoo.training.backend_steps``,
Adam, batch 16 of 3 s). Each backend runs in a process of its own (Keras fixes the backend at
import); the processes take turns for ``--rounds`` rounds so that a drift of the machine's speed
hits every backend alike, and each figure is the median over rounds of per-round medians.
Writes ``--out`` (JSON and a Markdown table).
"""
import json
import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

from zoo.host_allocator import environment  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("backends", ["tensorflow", "jax", "torch"], "Keras backends, the first the reference.")
flags.DEFINE_integer("rounds", 2, "Turns each backend takes.")
flags.DEFINE_integer("repeats", 5, "Timed calls per turn (after warm-up).")
flags.DEFINE_string("out", "benchmarks/results/backend_speed", "Output prefix (.json, .md).")
flags.DEFINE_bool("child", False, "Measure this process's backend and print one JSON line (internal).")

MODEL, WEIGHTS, SECONDS = "musicnn-vertical-horizontal", "mtt", 3.0
INFERENCE_BATCH, TRAIN_BATCH = 32, 16


def _median(values):
    import numpy as np

    return float(np.median(values))


def measure_this_backend(repeats):
    """{inference_s, train_step_s, ...} of this process's backend (the child's side)."""
    import keras
    import numpy as np

    import zoo
    from benchmarks import measure
    from zoo.models.inference_call import inference_function

    rng = np.random.default_rng(0)
    model = zoo.load(MODEL, weights=WEIGHTS, input_seconds=SECONDS)
    samples = int(SECONDS * 16000)
    infer = inference_function(model)
    batch = rng.normal(0.0, 0.1, (INFERENCE_BATCH, samples)).astype(np.float32)
    inference = measure.items_per_s(infer, batch, warmup=2, repeats=repeats)

    step = measure.train_step_seconds(model, TRAIN_BATCH, repeats=repeats)
    return {"backend": keras.config.backend(), "inference_s": INFERENCE_BATCH / inference,
            "train_step_s": step, "device": measure.device_name()}


def _turn(backend, repeats):
    run = subprocess.run([sys.executable, "-m", "benchmarks.backend_speed", "--child", f"--repeats={repeats}"],
                         env=environment(backend, {**os.environ, "KERAS_BACKEND": backend}), capture_output=True,
                         text=True)
    if run.returncode != 0:
        raise SystemExit(f"{backend}: failed\n{run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def _table(results, reference, matmul):
    lines = [f"musicnn ({MODEL}, {WEIGHTS} weights), {results[reference]['device']}, "
             f"dense matmul {matmul:.0f} GFLOP/s (TensorFlow); median of {FLAGS.rounds} rounds x {FLAGS.repeats} calls",
             "", f"| backend | inference, batch {INFERENCE_BATCH} x 3 s | vs {reference} | "
                 f"train step, batch {TRAIN_BATCH} x 3 s | vs {reference} |", "|---|---|---|---|---|"]
    base = results[reference]
    for backend, row in results.items():
        lines.append(f"| {backend} | {row['inference_s'] * 1000:.0f} ms | "
                     f"{row['inference_s'] / base['inference_s']:.2f}x | "
                     f"{row['train_step_s'] * 1000:.0f} ms | {row['train_step_s'] / base['train_step_s']:.2f}x |")
    return "\n".join(lines) + "\n"


def main(argv):
    del argv
    if FLAGS.child:
        print(json.dumps(measure_this_backend(FLAGS.repeats)))
        return 0
    from benchmarks import measure

    turns = {backend: [] for backend in FLAGS.backends}
    for round_index in range(FLAGS.rounds):
        for backend in FLAGS.backends:
            turns[backend].append(_turn(backend, FLAGS.repeats))
            print(f"round {round_index + 1}: {backend} {turns[backend][-1]}", flush=True)
    matmul = measure.matmul_gflops()
    results = {backend: {"inference_s": _median([t["inference_s"] for t in runs]),
                         "train_step_s": _median([t["train_step_s"] for t in runs]),
                         "device": runs[0]["device"], "turns": runs}
               for backend, runs in turns.items()}
    table = _table(results, FLAGS.backends[0], matmul)
    print(table)
    measure.write_report(FLAGS.out, {"matmul_gflops": matmul, "results": results}, table)
    return 0


if __name__ == "__main__":
    app.run(lambda argv: sys.exit(main(argv)))
