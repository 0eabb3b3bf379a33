"""How close zoo-train's epochs run to the machine: ``python -m benchmarks.training_speed``

For each model: ``zoo.train`` (recipe "default") for ``--epochs`` epochs of the GM set
(``--clips`` train,valid,test; batch 16, 3 s crops, validation included, one process per model so
that nothing carries over), then the same train step on one batch held in memory. Each epoch's
share of the bound is

    bound = (3 x forward FLOPs x training crops + forward FLOPs x validation patches) / matmul rate

(a train step costs about three forward passes: forward, input gradients, kernel gradients), with
the dense float32 matmul rate measured in the same run. The epoch's time is split into the train
steps (input pipeline included), validation, and checkpointing, from the trainer's own timers
(history.csv), and the pure step time shows what the input pipeline adds. Writes ``--out`` (JSON and
a Markdown table).
"""
import json
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("models", ["musicnn-horizontal", "musicnn-vertical-horizontal", "musicnn-sample-level"],
                  "Model ids.")
flags.DEFINE_integer("epochs", 3, "Epochs per model.")
flags.DEFINE_list("clips", ["160", "32", "16"], "GM clips: train, valid, test.")
flags.DEFINE_integer("batch_size", 16, "Batch size.")
flags.DEFINE_float("input_seconds", 3.0, "Training crop and evaluation patch length.")
flags.DEFINE_integer("step_repeats", 5, "Pure steps timed after the epochs.")
flags.DEFINE_string("data_root", None, "Where the GM set is rendered (default: the zoo cache).")
flags.DEFINE_string("out", "benchmarks/results/training_speed/latest", "Output prefix (.json, .md).")
flags.DEFINE_string("child", None, "Internal: measure this model in this process, write JSON to --child_out.")
flags.DEFINE_string("child_out", None, "Internal.")

GM_CLIP_SECONDS = 10.0  # zoo.datasets.gm renders 10 s clips


def _dataset():
    return f"gm:{','.join(FLAGS.clips)}"


def measure_model(model_id, out_dir):
    """One model's epochs and pure step (the child's side)."""
    import pandas as pd

    import zoo
    from benchmarks import measure
    from zoo.models.catalogue import count_flops
    from zoo.training.recipes import resolve_recipe

    recipe = resolve_recipe("default", epochs=FLAGS.epochs, batch_size=FLAGS.batch_size,
                            input_seconds=FLAGS.input_seconds)
    result = zoo.train(model_id, _dataset(), out_dir=out_dir, recipe="default", epochs=FLAGS.epochs,
                       batch_size=FLAGS.batch_size, input_seconds=FLAGS.input_seconds, data_root=FLAGS.data_root,
                       verbose=True)
    data = result.dataset
    history = pd.read_csv(os.path.join(out_dir, "history.csv"))
    forward_flops = count_flops(result.model)
    train_clips = len(data.split("train")) // recipe.batch_size * recipe.batch_size
    valid_patches = len(data.split("valid")) * int(GM_CLIP_SECONDS // recipe.input_seconds)
    return {
        "model": model_id,
        "forward_gflops_per_clip": forward_flops / 1e9,
        "train_crops_per_epoch": train_clips,
        "valid_patches_per_epoch": valid_patches,
        "epoch_bound_gflop": (3 * forward_flops * train_clips + forward_flops * valid_patches) / 1e9,
        "epochs": history.to_dict("records"),
        "pure_step_seconds": measure.train_step_seconds(result.model, recipe.batch_size, FLAGS.step_repeats, warmup=1),
        "steps_per_epoch": train_clips // recipe.batch_size,
    }


def _child(model_id):
    with tempfile.TemporaryDirectory(prefix="zoo-training-speed-") as out_dir:
        record = measure_model(model_id, out_dir)
    with open(FLAGS.child_out, "w") as handle:
        json.dump(record, handle)
    return 0


def _run_model(model_id, workdir):
    record_path = os.path.join(workdir, f"{model_id}.json")
    command = [sys.executable, "-m", "benchmarks.training_speed", f"--child={model_id}", f"--child_out={record_path}",
               *[arg for arg in sys.argv[1:] if not arg.startswith(("--child", "--out"))]]
    if subprocess.run(command).returncode != 0:
        raise SystemExit(f"{model_id}: failed (see above)")
    with open(record_path) as handle:
        return json.load(handle)


def _share_rows(record, matmul_gflops):
    rows = []
    bound_seconds = record["epoch_bound_gflop"] / matmul_gflops
    for epoch in record["epochs"]:
        row = {"model": record["model"], "epoch": int(epoch["epoch"]), "seconds": epoch["seconds"],
               "share_of_bound": bound_seconds / epoch["seconds"], "bound_seconds": bound_seconds}
        for part in ("steps_seconds", "validation_seconds", "checkpoint_seconds"):
            if part in epoch:
                row[part] = epoch[part]
        rows.append(row)
    return rows


def _markdown(records, rows, matmul_gflops, device):
    lines = [f"zoo-train epochs against the matmul bound: {device}, dense matmul {matmul_gflops:.0f} GFLOP/s "
             f"(TensorFlow, same run); {_dataset()}, batch {FLAGS.batch_size}, {FLAGS.input_seconds:g} s crops, "
             "validation included", "",
             "| model | epoch | seconds | steps | validation | checkpoint | bound s | share of bound |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        parts = [f"{row[p]:.1f}" if p in row else "–" for p in ("steps_seconds", "validation_seconds",
                                                                 "checkpoint_seconds")]
        lines.append(f"| {row['model']} | {row['epoch']} | {row['seconds']:.1f} | {' | '.join(parts)} | "
                     f"{row['bound_seconds']:.1f} | {100 * row['share_of_bound']:.0f}% |")
    lines += ["", "| model | forward GFLOP per 3 s clip | pure step (in memory) | steps per epoch | "
                  "3 x forward bound per step | pure step's share |", "|---|---|---|---|---|---|"]
    for record in records:
        step_bound = 3 * record["forward_gflops_per_clip"] * FLAGS.batch_size / matmul_gflops
        lines.append(f"| {record['model']} | {record['forward_gflops_per_clip']:.2f} | "
                     f"{record['pure_step_seconds']:.2f} s | "
                     f"{record['steps_per_epoch']} | {step_bound:.2f} s | "
                     f"{100 * step_bound / record['pure_step_seconds']:.0f}% |")
    return "\n".join(lines) + "\n"


def main(argv):
    del argv
    if FLAGS.child:
        return _child(FLAGS.child)
    from benchmarks import measure

    matmul_before = measure.matmul_gflops()
    with tempfile.TemporaryDirectory(prefix="zoo-training-speed-") as workdir:
        records = [_run_model(model_id, workdir) for model_id in FLAGS.models]
    matmul_gflops = (matmul_before + measure.matmul_gflops()) / 2  # the machine drifts: both ends of the run
    rows = [row for record in records for row in _share_rows(record, matmul_gflops)]
    table = _markdown(records, rows, matmul_gflops, measure.device_name())
    print(table)
    payload = {"matmul_gflops": matmul_gflops, "device": measure.device_name(), "dataset": _dataset(),
               "records": records, "epochs": rows}
    measure.write_report(FLAGS.out, payload, table)
    return 0


if __name__ == "__main__":
    app.run(lambda argv: sys.exit(main(argv)))
