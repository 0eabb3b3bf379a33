"""Where a train step's time goes, layer by layer: ``python -m benchmarks.training_profile``

For each model (TensorFlow backend, batch 16 of 3 s, training mode) every layer with weights is
timed on its own, on a random input of its real shape: its forward pass, the gradient with respect
to its input and the gradient with respect to its weights, each a separate tf.function (median of
``--repeats`` calls). The rows are summed by kind (convolution forward / input gradient / kernel
gradient, batch norm, dense), next to the whole train step of the zoo's trainer, the input stage,
and the optimizer's update alone. The parts overlap less than a fused step can, so they sum to
more or less than the step; they say which work dominates. Writes ``--out`` (JSON and Markdown).
"""
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("models", ["musicnn-horizontal", "musicnn-vertical-horizontal", "musicnn-sample-level",
                             "musicnn-vertical"], "Model ids.")
flags.DEFINE_integer("batch_size", 16, "Batch size.")
flags.DEFINE_float("input_seconds", 3.0, "Input length.")
flags.DEFINE_integer("repeats", 5, "Timed calls per measurement.")
flags.DEFINE_string("out", "benchmarks/results/training_profile", "Output prefix (.json, .md).")


def _median_seconds(function, *args):
    import numpy as np

    function(*args)  # trace
    times = []
    for _ in range(FLAGS.repeats):
        start = time.perf_counter()
        result = function(*args)
        _ = [np.asarray(t) for t in (result if isinstance(result, (list, tuple)) else [result])]
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _kind(layer):
    import keras

    if isinstance(layer, keras.layers.BatchNormalization):
        return "batch norm"
    if isinstance(layer, keras.layers.Dense):
        return "dense"
    if "conv" in type(layer).__name__.lower():
        return "convolution"
    return type(layer).__name__


def _layer_costs(layer, batch):
    """{forward, input_gradient, weights_gradient} seconds of ``layer`` on a random input."""
    import tensorflow as tf

    shape = (batch, *layer.input.shape[1:])
    x = tf.random.normal(shape, stddev=0.5)
    weights = layer.trainable_variables

    @tf.function
    def forward(x):
        return layer(x, training=True)

    upstream = tf.random.normal((batch, *layer.output.shape[1:]))

    @tf.function
    def input_gradient(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
        return tape.gradient(y, x, output_gradients=upstream)

    @tf.function
    def weights_gradient(x):
        with tf.GradientTape() as tape:
            y = layer(x, training=True)
        return tape.gradient(y, weights, output_gradients=upstream)

    # A gradient's tf.function runs the forward pass too: what it adds is its own cost.
    costs = {"forward": _median_seconds(forward, x)}
    costs["input_gradient"] = max(0.0, _median_seconds(input_gradient, x) - costs["forward"])
    if weights:
        costs["weights_gradient"] = max(0.0, _median_seconds(weights_gradient, x) - costs["forward"])
    return costs


def _optimizer_seconds(model):
    """Adam's update of every trainable weight alone (zero gradients), compiled as in the trainer's
    step: called eagerly, one op at a time, it takes about 10x longer
    (benchmarks/results/training_speed/history.md)."""
    import numpy as np
    import tensorflow as tf

    from zoo.training.optimizers import make_optimizer
    from zoo.training.recipes import resolve_recipe

    optimizer = make_optimizer(resolve_recipe("default").phases[0])
    optimizer.build(model.trainable_variables)
    gradients = [np.zeros(v.shape, np.float32) for v in model.trainable_variables]
    return _median_seconds(tf.function(lambda: optimizer.apply(gradients, model.trainable_variables)))


def profile_model(model_id):
    import keras

    import zoo

    batch = FLAGS.batch_size
    model = zoo.load(model_id, input_seconds=FLAGS.input_seconds)
    rows = []
    for layer in model.layers:
        if not layer.weights or isinstance(layer, keras.layers.InputLayer):
            continue
        costs = _layer_costs(layer, batch)
        rows.append({"layer": layer.name, "kind": _kind(layer), **costs})
    log_mel = model.get_layer("logmel") if any(each.name == "logmel" for each in model.layers) else None
    stage = None
    if log_mel is not None:
        import tensorflow as tf

        cut = keras.Model(model.input, log_mel.output)
        waveforms = tf.random.normal((batch, model.input.shape[1]), stddev=0.1)
        stage = _median_seconds(tf.function(lambda x: cut(x, training=True)), waveforms)
    from benchmarks import measure

    step = measure.train_step_seconds(model, batch, repeats=FLAGS.repeats, warmup=1)
    update = _optimizer_seconds(model)
    return {"model": model_id, "step_seconds": step, "optimizer_seconds": update, "input_stage_seconds": stage,
            "layers": rows}


def _by_kind(record):
    totals = {}
    for row in record["layers"]:
        for part in ("forward", "input_gradient", "weights_gradient"):
            if part in row:
                key = f"{row['kind']} {part.replace('_', ' ')}"
                totals[key] = totals.get(key, 0.0) + row[part]
    return totals


def _markdown(records, device, matmul):
    lines = [f"Train step profile (TensorFlow, batch {FLAGS.batch_size} x {FLAGS.input_seconds:g} s, training mode), "
             f"{device}, dense matmul {matmul:.0f} GFLOP/s; each part timed alone, median of {FLAGS.repeats}", ""]
    for record in records:
        lines += [f"### {record['model']}: whole step {record['step_seconds']:.3f} s", "",
                  "| part | seconds | share of the step |", "|---|---|---|"]
        parts = dict(sorted(_by_kind(record).items(), key=lambda item: -item[1]))
        parts["optimizer update (Adam)"] = record["optimizer_seconds"]
        if record["input_stage_seconds"] is not None:
            parts["input stage (log-mel) forward"] = record["input_stage_seconds"]
        for name, seconds in parts.items():
            lines.append(f"| {name} | {seconds:.3f} | {100 * seconds / record['step_seconds']:.0f}% |")
        top = sorted(record["layers"], key=lambda r: -sum(r.get(p, 0.0) for p in
                                                           ("forward", "input_gradient", "weights_gradient")))[:4]
        lines += ["", "Costliest layers (forward / input gradient / weights gradient, s): " + "; ".join(
            f"{r['layer']} {r['forward']:.3f} / {r['input_gradient']:.3f} / {r.get('weights_gradient', 0.0):.3f}"
            for r in top), ""]
    return "\n".join(lines) + "\n"


def main(argv):
    del argv
    from benchmarks import measure

    records = [profile_model(model_id) for model_id in FLAGS.models]
    table = _markdown(records, measure.device_name(), measure.matmul_gflops())
    print(table)
    measure.write_report(FLAGS.out, records, table)
    return 0


if __name__ == "__main__":
    app.run(lambda argv: sys.exit(main(argv)))
