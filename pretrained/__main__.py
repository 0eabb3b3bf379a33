"""``python -m pretrained convert``: fetch musicnn's checkpoints and convert them ahead of time.

Useful before going offline, or to fill a cache directory (``ZOO_CACHE_DIR``) that CI keeps.
"""
import argparse
import sys
import time

from pretrained.musicnn import CHECKPOINTS, ConversionError, convert, find_checkpoint
from pretrained.source import PretrainedSourceError
from zoo.files import CacheEntryError

__all__ = ["convert_all", "main"]


def _parser():
    parser = argparse.ArgumentParser(prog="python -m pretrained", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    convert = commands.add_parser("convert", help="convert musicnn's four checkpoints to .weights.h5")
    convert.add_argument("--source", help="local musicnn 0.1.0 wheel or folder of checkpoint folders "
                                          "(default: $ZOO_MUSICNN_WHEEL, else download with pip)")
    convert.add_argument("--force", action="store_true", help="convert again even if cached")
    convert.add_argument("--only", nargs="+", choices=[c.name for c in CHECKPOINTS],
                         help="checkpoints to convert (default: all)")
    return parser


def convert_all(source=None, force=False, only=None, log=print):
    checkpoints = [find_checkpoint(name) for name in only] if only else CHECKPOINTS
    for i, checkpoint in enumerate(checkpoints, start=1):
        started = time.perf_counter()
        path = convert(checkpoint, source=source, force=force)
        log(f"[{i}/{len(checkpoints)}] {checkpoint.name} -> {checkpoint.model_id} weights "
            f"{checkpoint.weights!r}: {path} ({time.perf_counter() - started:.1f} s)")


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        convert_all(args.source, args.force, args.only)
    except (PretrainedSourceError, ConversionError, CacheEntryError) as error:
        print(f"python -m pretrained: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
