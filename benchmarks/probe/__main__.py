"""python -m benchmarks.probe: frozen scene embeddings of zoo models, probed with a shallow classifier.

Each (model, task) result is kept in --out/results/ the moment it is done, and scores.csv and
results.md are rewritten from them; embeddings are cached in --out/embeddings/ in parts. A rerun
with the same arguments skips what is done, so Ctrl-C or kill -9 loses at most one part of clips.
"""
import argparse
import hashlib
import json
import os
import shlex
import sys
import time

__all__ = ["DEFAULT_MODELS", "main"]

DEFAULT_MODELS = ("musicnn:mtt", "musicnn:msd", "vgg:mtt", "vgg:msd")
DEFAULT_OUT = os.path.join("runs", "probe")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse would print the whole usage block too
        self.exit(2, f"{self.prog}: error: {message}\n")


def _parser():
    parser = _Parser(prog="python -m benchmarks.probe", description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", help="a task folder in HEAR's layout, or a folder of them "
                                        "(default: the zoo's own small task set, rendered here)")
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS),
                        help="comma-separated zoo model names: ID:WEIGHTS, .keras files, run folders "
                             f"(default: {','.join(DEFAULT_MODELS)})")
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})")
    parser.add_argument("--classifier", choices=("mlp", "logistic"), default="mlp",
                        help="HEAR's one-hidden-layer MLP (default) or logistic regression")
    parser.add_argument("--embedding", help="the embeddings a scene embedding joins, e.g. penultimate or "
                                            "max_pool+mean_pool, for every model (default: per back-end)")
    parser.add_argument("--seeds", type=int, default=3, help="classifier seeds per round (default: 3)")
    parser.add_argument("--no-twins", dest="twins", action="store_false",
                        help="leave out the random-weights twin of each model")
    parser.add_argument("--twin-seed", type=int, default=0, help="seed of the twins' initialisation (default: 0)")
    parser.add_argument("--runtime", choices=("keras", "onnx"), default="keras",
                        help="what computes the embeddings (default: keras, on Keras' backend)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def _tasks(args):
    from benchmarks.probe.default_tasks import make_default_tasks
    from benchmarks.probe.tasks import find_tasks
    from zoo.cache import cache_dir

    tasks = find_tasks(args.tasks) if args.tasks else make_default_tasks(cache_dir("probe-tasks"),
                                                                         progress=not args.quiet)
    scene = []
    for task in tasks:
        if task.embedding_type == "event":
            print(f"skipped task {task.name}: an event task (timestamp embeddings and onset metrics); "
                  "the probe evaluates scene tasks", file=sys.stderr)
        else:
            scene.append(task)
    if not scene:
        raise ValueError(f"no scene task in {args.tasks}: the probe evaluates scene tasks only")
    return scene


def _result_path(out, model, task, args, scene):
    from benchmarks.probe.classifiers import CLASSIFIERS_VERSION
    from benchmarks.probe.models import identity

    key = {"model": identity(model.name), "task": task.name, "version": task.version, "classifier": args.classifier,
           "classifiers_version": CLASSIFIERS_VERSION,
           "seeds": args.seeds, "embedding": scene, "files": task.sample_rate}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:20]
    return os.path.join(out, "results", f"{task.name}-{digest}.json")


def _one(model, task, args, scene):
    """Result rows of one model on one task: read back when done before, else computed and kept."""
    from benchmarks.probe.embeddings import task_embeddings
    from benchmarks.probe.evaluation import evaluate
    from zoo.files import atomic_path

    path = _result_path(args.out, model, task, args, scene)
    if os.path.isfile(path):
        try:
            with open(path) as handle:
                return json.load(handle)
        except ValueError:
            pass  # a damaged result: computed again
    embeddings = task_embeddings(model.name, task, cache_dir=os.path.join(args.out, "embeddings"), scene=scene,
                                 runtime=args.runtime, label=model.label, progress=not args.quiet)
    rows = [{"model": model.label, "kind": model.kind, "beside": model.of, "task": task.name, **row,
             "classifier": args.classifier, "embedding": "+".join(embeddings.names),
             "dims": embeddings.vectors.shape[1], "clips_per_second": embeddings.clips_per_second}
            for row in evaluate(task, embeddings, classifier=args.classifier, seeds=tuple(range(args.seeds)))]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with atomic_path(path) as temporary, open(temporary, "w") as handle:
        json.dump(rows, handle, default=float)
    return rows


def _run(args, command):
    from benchmarks.measure import device_name, matmul_gflops
    from benchmarks.probe.models import probe_models
    from benchmarks.probe.report import write_report

    started = time.perf_counter()
    tasks = _tasks(args)
    names = [name.strip() for name in args.models.split(",") if name.strip()]
    scene = tuple(args.embedding.split("+")) if args.embedding else None
    os.makedirs(args.out, exist_ok=True)
    models = probe_models(names, twins_dir=os.path.join(args.out, "twins"), twins=args.twins, seed=args.twin_seed)
    machine = f"{device_name()}, {matmul_gflops():.0f} GFLOP/s dense float32 matmul"
    rows = []
    for model in models:
        for task in tasks:
            rows += _one(model, task, args, scene)
            write_report(rows, args.out, command=command, machine=machine, wall_seconds=time.perf_counter() - started)
    print(open(os.path.join(args.out, "results.md")).read())
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    if args.seeds < 1:
        _parser().error("--seeds must be at least 1")
    from zoo.host_allocator import tune_host_allocator

    tune_host_allocator()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    command = "python -m benchmarks.probe " + " ".join(shlex.quote(a) for a in argv)
    from benchmarks.probe.default_tasks import DefaultTasksError
    from benchmarks.probe.tasks import TaskError
    from zoo.models.model_files import ModelFileError

    try:
        return _run(args, command.strip())
    except KeyboardInterrupt:
        print(f"interrupted: finished results are kept in {args.out}; rerun the same command to go on",
              file=sys.stderr)
        return 130
    except (TaskError, DefaultTasksError, ModelFileError, KeyError, ValueError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"python -m benchmarks.probe: error: {' '.join(str(message).split())}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
