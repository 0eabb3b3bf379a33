"""Does the input pipeline hide decoding? ``python -m benchmarks.input_pipeline``

Times epochs of the trainer's train step fed by the tf.data pipeline from the audio files
(every crop decoded from disk, as in every epoch of training), alternated with the same number
of steps fed from one batch already in memory, same shapes, same process. Prints the times and
the ratio of the medians (the target: at most 1.1).
"""
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("model", "musicnn-vertical", "Model id.")
flags.DEFINE_string("dataset", "gm", "Dataset (zoo.datasets.parse_dataset form).")
flags.DEFINE_integer("batch_size", 16, "Batch size.")
flags.DEFINE_float("input_seconds", 3.0, "Crop length.")
flags.DEFINE_integer("warmup_steps", 2, "Steps run before timing (tracing, first allocations).")
flags.DEFINE_integer("repeats", 3, "Epochs timed of each kind.")


def main(argv):
    del argv
    import numpy as np
    import tensorflow as tf

    import zoo
    from benchmarks import measure
    from zoo.datasets import open_dataset, parse_dataset
    from zoo.training import trainer
    from zoo.training.backend_steps import make_train_steps
    from zoo.training.optimizers import make_optimizer
    from zoo.training.recipes import resolve_recipe

    data = open_dataset(parse_dataset(FLAGS.dataset), progress=True)
    recipe = resolve_recipe("default", batch_size=FLAGS.batch_size, input_seconds=FLAGS.input_seconds)
    patch = int(round(recipe.input_seconds * data.sample_rate))
    from zoo.training.strategies import make_strategy

    strategy = make_strategy("default")
    model = zoo.load(FLAGS.model, num_classes=len(data.tags), input_seconds=recipe.input_seconds,
                     sample_rate=data.sample_rate)
    optimizer = make_optimizer(recipe.phases[0])
    optimizer.build(model.trainable_variables)
    train_steps = make_train_steps(model, recipe, recipe.batch_size, strategy)
    train_steps.start_phase(optimizer)
    train_steps.start_epoch()
    steps = len(data.split("train")) // recipe.batch_size

    rng = np.random.default_rng(0)
    in_memory = tf.data.Dataset.from_tensors((
        tf.constant(rng.uniform(-0.5, 0.5, (recipe.batch_size, patch)).astype("float32")),
        tf.constant(rng.integers(0, 2, (recipe.batch_size, len(data.tags))).astype("float32")),
    )).cache().repeat()
    memory_iterator = train_steps.in_memory_batches(*next(in_memory.take(1).as_numpy_iterator()))
    for _ in range(FLAGS.warmup_steps):
        train_steps.train(memory_iterator)

    def timed(iterator):
        start = time.perf_counter()
        for _ in range(steps):
            train_steps.train(iterator)
        return time.perf_counter() - start

    files_iterator = trainer._train_batches(train_steps, data, recipe.batch_size, patch, seed=1)
    # Alternate the two so that drifts of the machine's speed hit both alike; medians.
    files_seconds, memory_seconds = [], []
    for _ in range(FLAGS.repeats):
        files_seconds.append(timed(files_iterator))
        memory_seconds.append(timed(memory_iterator))
    files_median, memory_median = float(np.median(files_seconds)), float(np.median(memory_seconds))
    print(f"device: {measure.device_name()}; dense matmul {measure.matmul_gflops():.0f} GFLOP/s")
    print(f"{FLAGS.model}, {data.name} ({len(data.split('train'))} training clips), {steps} steps of "
          f"{recipe.batch_size} x {recipe.input_seconds:g} s, {FLAGS.repeats} epochs of each")
    print(f"epochs from audio files (s):         {', '.join(f'{t:.2f}' for t in files_seconds)}")
    print(f"same steps from in-memory batches (s): {', '.join(f'{t:.2f}' for t in memory_seconds)}")
    print(f"median ratio: {files_median / memory_median:.3f} (target <= 1.1)")
    return 0


if __name__ == "__main__":
    app.run(lambda argv: sys.exit(main(argv)))
