"""``python -m pretrained``: musicnn's checkpoints ahead of time, and distillation onto any zoo model.

    python -m pretrained convert                 # fetch + convert musicnn's four checkpoints
    python -m pretrained corpus                  # the Debian music corpus: packages, licences, hours, split
    python -m pretrained distil --student maxpool-vertical-horizontal --teacher musicnn:mtt \\
        --out runs/distil/maxpool-vertical-horizontal --epochs 8 --freeze frontend
    python -m pretrained publish runs/distil/maxpool-vertical-horizontal   # into the mtt-distilled weights
    python -m pretrained cards                   # docs/mtt-distilled.md from the published cards

``convert`` is useful before going offline, or to fill a cache directory (``ZOO_CACHE_DIR``) that
CI keeps. ``distil`` resumes a killed run when given the same command again (docs/distillation.md).
Exit status: 0 done, 1 one line on stderr, 2 bad arguments, 130 interrupted.
"""
import argparse
import os
import sys
import time

from pretrained.musicnn import CHECKPOINTS, ConversionError, convert, find_checkpoint
from pretrained.source import PretrainedSourceError
from zoo.files import CacheEntryError

__all__ = ["convert_all", "main"]

PROG = "python -m pretrained"


def _corpus_arguments(parser):
    from pretrained.distillation.corpus import HELD_OUT, PACKAGES

    parser.add_argument("--packages", nargs="+", default=None, metavar="PACKAGE",
                        help=f"Debian packages of the corpus (default: {' '.join(p.name for p in PACKAGES)})")
    parser.add_argument("--held-out", nargs="+", default=list(HELD_OUT), metavar="PACKAGE",
                        help=f"packages kept for the evaluation, never trained on (default: {' '.join(HELD_OUT)})")
    parser.add_argument("--root", default="/", help="where the packages are installed (default: /)")


def _parser():
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    convert = commands.add_parser("convert", help="convert musicnn's four checkpoints to .weights.h5")
    convert.add_argument("--source", help="local musicnn 0.1.0 wheel or folder of checkpoint folders "
                                          "(default: $ZOO_MUSICNN_WHEEL, else download with pip)")
    convert.add_argument("--force", action="store_true", help="convert again even if cached")
    convert.add_argument("--only", nargs="+", choices=[c.name for c in CHECKPOINTS],
                         help="checkpoints to convert (default: all)")
    corpus = commands.add_parser("corpus", help="list the distillation corpus: packages, licences, hours, split")
    _corpus_arguments(corpus)
    corpus.add_argument("--out", help="also write the track manifest to this CSV")
    distil = commands.add_parser("distil", help="train a zoo model on a teacher's scores over the corpus")
    distil.add_argument("--student", required=True, help="zoo model id or alias (python -m zoo.describe)")
    distil.add_argument("--teacher", default="musicnn:mtt", help="ID:WEIGHTS of registered weights")
    distil.add_argument("--out", required=True, help="run folder (resumable: give the same command again)")
    distil.add_argument("--epochs", type=int, default=None, help="epochs (default: the recipe's, 8)")
    distil.add_argument("--batch-size", type=int, default=None, help="global batch (default: the recipe's, 16)")
    distil.add_argument("--learning-rate", type=float, default=None,
                        help="the first phase's learning rate (default: the recipe's, 1e-3)")
    distil.add_argument("--recipe", default="default", help="zoo.training recipe (default: default)")
    distil.add_argument("--freeze", choices=["frontend"], default=None,
                        help="hold the front-end still (it starts from the teacher's)")
    distil.add_argument("--frontend", choices=["teacher", "random"], default=None,
                        help="where the front-end starts: musicnn's MTT front-end (default for the "
                             "vertical-horizontal students) or random weights (default for the others)")
    distil.add_argument("--seed", type=int, default=0, help="weights, data order and the validation tracks")
    distil.add_argument("--runtime", default="onnx", help="the teacher's tagging runtime (default: onnx)")
    distil.add_argument("--cache-dir", default=None,
                        help="where archive members and the teacher's scores are cached (default: the zoo cache)")
    _corpus_arguments(distil)
    publish = commands.add_parser("publish", help="ship distilled students as mtt-distilled weights (float16 "
                                                  "kernels, a model card each)")
    publish.add_argument("runs", nargs="+", metavar="RUN", help="run folders of `distil`")
    cards = commands.add_parser("cards", help="write the model-card page of the mtt-distilled weights")
    cards.add_argument("--out", default=None, help="the page (default: docs/mtt-distilled.md of this checkout)")
    cards.add_argument("--probe", action="append", default=None,
                       help="scores.csv of python -m benchmarks.probe on the students (repeatable: a later file's "
                            "scores of a student replace an earlier's)")
    cards.add_argument("--fine-tuning", default=None, help="gain.csv of python -m benchmarks.fine_tuning_gain")
    return parser


def convert_all(source=None, force=False, only=None, log=print):
    checkpoints = [find_checkpoint(name) for name in only] if only else CHECKPOINTS
    for i, checkpoint in enumerate(checkpoints, start=1):
        started = time.perf_counter()
        path = convert(checkpoint, source=source, force=force)
        log(f"[{i}/{len(checkpoints)}] {checkpoint.name} -> {checkpoint.model_id} weights "
            f"{checkpoint.weights!r}: {path} ({time.perf_counter() - started:.1f} s)")


def _corpus(args):
    from pretrained.distillation.corpus import build_corpus, corpus_table, markdown, write_corpus

    corpus = build_corpus(args.packages, args.held_out, root=args.root)
    print(markdown(corpus_table(corpus)))
    if args.out:
        write_corpus(corpus, args.out)
        print(f"{len(corpus)} tracks: {args.out}")


def _distil(args):
    # A command-line tool sets its process up before Keras loads, as zoo-train does.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from zoo.host_allocator import tune_host_allocator

    tune_host_allocator()
    from pretrained.distillation.command import distil

    distil(args.student, args.out, teacher=args.teacher, epochs=args.epochs, batch_size=args.batch_size,
           learning_rate=args.learning_rate,
           freeze=args.freeze, frontend=args.frontend, recipe=args.recipe, seed=args.seed, packages=args.packages,
           held_out=args.held_out, root=args.root, cache_root=args.cache_dir, runtime=args.runtime)


def _publish(args):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from pretrained.distillation.publish import publish

    for run in args.runs:
        publish(run)
    _cards(argparse.Namespace(out=None, probe=None, fine_tuning=None))


def _cards(args):
    from pretrained.distillation.model_cards import PAGE, add_evaluations, write_page
    from pretrained.mtt_distilled import read_cards, write_cards

    if args.probe or args.fine_tuning:
        write_cards(add_evaluations(read_cards(), args.probe, args.fine_tuning))
    print(f"model cards: {write_page(args.out or PAGE)}")


COMMANDS = {"convert": lambda args: convert_all(args.source, args.force, args.only), "corpus": _corpus,
            "distil": _distil, "publish": _publish, "cards": _cards}


def _errors():
    """What a user's input can go wrong with: each is one line, exit status 1."""
    from pretrained.distillation.licences import LicenceError
    from pretrained.distillation.packages import MissingPackageError
    from zoo.audio.decoding import AudioError
    from zoo.models.registry import InvalidOverrideError, UnknownModelError

    return (PretrainedSourceError, ConversionError, CacheEntryError, MissingPackageError, LicenceError, AudioError,
            UnknownModelError, InvalidOverrideError, ValueError, FileNotFoundError)


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; give the same command again to resume", file=sys.stderr)
        return 130
    except _errors() as error:
        print(f"{PROG}: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
