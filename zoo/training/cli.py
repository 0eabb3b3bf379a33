"""``zoo-train`` (or ``python -m zoo.training``): train or fine-tune a zoo model.

    zoo-train --model=musicnn --dataset=manifest:my_tags.csv --out=runs/mine --recipe=musicnn
    zoo-train --model=musicnn --weights=mtt --freeze=frontend --dataset=gm --out=runs/ft --epochs=8

Rerunning the same command resumes a killed run after its last finished epoch, and does
nothing for a finished one. Exit status: 0 done, 1 bad input (one line on stderr), 2 bad flags,
130 interrupted.
"""
import logging
import os
import sys

from zoo.host_allocator import tune_host_allocator

# A command-line tool sets its own process up: quiet TensorFlow start-up (before it loads), no
# JAX INFO notes under absl's logging, and JAX's and PyTorch's host allocator.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)
tune_host_allocator()

from absl import flags  # noqa: E402

from zoo.training.strategies import STRATEGY_NAMES  # noqa: E402

__all__ = ["main"]

PROG = "zoo-train"
FLAGS = flags.FlagValues()
flags.DEFINE_string("model", None, "Model id or alias (zoo.list_models()).", flag_values=FLAGS)
flags.DEFINE_string("dataset", None, "gm[:TRAIN,VALID,TEST], mtat:PATH, manifest:PATH.csv or soft:PATH.csv "
                    "(a teacher's scores: docs/distillation.md).", flag_values=FLAGS)
flags.DEFINE_string("out", None, "Output folder (model.keras, history.csv, metrics.json, ...).", flag_values=FLAGS)
flags.DEFINE_string("recipe", "default", "Training recipe: default, musicnn or won2020.", flag_values=FLAGS)
flags.DEFINE_integer("epochs", None, "Epochs (default: the recipe's).", flag_values=FLAGS)
flags.DEFINE_integer("batch_size", None, "Global batch size (default: the recipe's).", flag_values=FLAGS)
flags.DEFINE_float("learning_rate", None, "Learning rate of the first phase; later phases keep their ratio to it "
                   "(default: the recipe's).", flag_values=FLAGS)
flags.DEFINE_float("input_seconds", None, "Training crop / evaluation patch length (default: the recipe's).",
                   flag_values=FLAGS)
flags.DEFINE_string("weights", None, "Pretrained weights to start from (mtt, msd); the head is new.",
                    flag_values=FLAGS)
flags.DEFINE_enum("freeze", None, ["frontend", "backbone", "none"], "Layers held still while training.",
                  flag_values=FLAGS)
flags.DEFINE_enum("strategy", "default", STRATEGY_NAMES,
                  "Distribution strategy of Keras' backend: TensorFlow default|mirrored|multi_worker (reads "
                  "TF_CONFIG), JAX default|data_parallel, PyTorch default.", flag_values=FLAGS)
flags.DEFINE_integer("seed", 0, "Seed for weights, data order and crops.", flag_values=FLAGS)
flags.DEFINE_bool("mixed_precision", False, "float16 compute on GPUs (input stage stays float32).",
                  flag_values=FLAGS)
flags.DEFINE_bool("skip_bad_files", False, "Train on the rest of a manifest with bad files.", flag_values=FLAGS)
flags.DEFINE_string("data_root", None, "Where the gm set is rendered (default: the zoo cache).", flag_values=FLAGS)

REQUIRED = ("model", "dataset", "out")


def _fail(message, status):
    print(f"{PROG}: error: {' '.join(str(message).split())}", file=sys.stderr)
    return status


def _parse(argv):
    FLAGS.unparse_flags()
    FLAGS(argv)
    missing = [f"--{name}" for name in REQUIRED if FLAGS[name].value is None]
    if missing:
        raise flags.Error(f"missing {', '.join(missing)}")


def _input_errors():
    from zoo.audio.decoding import AudioError
    from zoo.models.registry import InvalidOverrideError, UnknownModelError

    return (ValueError, UnknownModelError, InvalidOverrideError, AudioError, FileNotFoundError)


def main(argv=None):
    """Run zoo-train; returns (and, as a console script, exits with) the status."""
    as_script = argv is None
    argv = list(sys.argv if as_script else [PROG] + list(argv))
    if any(arg in ("--help", "-h", "--helpfull") for arg in argv[1:]):
        print(__doc__.strip() + "\n\nflags:\n" + FLAGS.get_help())
        return _exit(0, as_script)
    try:
        _parse(argv)
    except flags.Error as error:
        return _exit(_fail(f"{error} (see {PROG} --help)", 2), as_script)
    try:
        import tensorflow as tf

        tf.get_logger().setLevel("ERROR")
        from zoo.training.trainer import train

        train(FLAGS.model, FLAGS.dataset, out_dir=FLAGS.out, recipe=FLAGS.recipe, epochs=FLAGS.epochs,
                  batch_size=FLAGS.batch_size, learning_rate=FLAGS.learning_rate, weights=FLAGS.weights,
                  freeze=FLAGS.freeze, strategy=FLAGS.strategy,
                  seed=FLAGS.seed, input_seconds=FLAGS.input_seconds, mixed_precision=FLAGS.mixed_precision,
                  skip_bad_files=FLAGS.skip_bad_files, data_root=FLAGS.data_root)
    except KeyboardInterrupt:
        return _exit(_fail("interrupted; rerun the same command to resume after the last finished epoch", 130),
                     as_script)
    except _input_errors() as error:
        return _exit(_fail(error, 1), as_script)
    return _exit(0, as_script)


def _exit(status, as_script):
    if as_script:
        sys.exit(status)
    return status
