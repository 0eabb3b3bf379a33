"""``zoo-tag``: tag audio files with a pretrained zoo model from the command line.

    zoo-tag song.mp3 other.wav --model musicnn --weights msd --top-k 10 --format json

Any problem (a missing or undecodable file, empty or non-finite audio, an unknown model or
weights) ends the run with exit status 1 and one line on stderr, never a traceback.
"""
import argparse
import csv
import io
import json
import sys

from zoo.tagging import DEFAULT_MODEL

__all__ = ["main"]

PROG = "zoo-tag"


def _table(results):
    lines = []
    for path, tags in results:
        lines.append(str(path))
        width = max(len(t) for t in tags["tag"])
        lines.extend(f"  {t:<{width}}  {score:.4f}" for t, score in zip(tags["tag"], tags["score"]))
    return "\n".join(lines) + "\n"


def _json(results):
    files = [{"file": str(path), "tags": tags.to_dict("records")} for path, tags in results]
    return json.dumps(files, indent=2) + "\n"


def _csv(results):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["file", "tag", "score"])
    for path, tags in results:
        writer.writerows([str(path), t, f"{s:.6f}"] for t, s in zip(tags["tag"], tags["score"]))
    return out.getvalue()


FORMATS = {"table": _table, "json": _json, "csv": _csv}


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse would print the whole usage block too
        raise _UsageError(message)


def _top_k(text):
    if text == "all":
        return None
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer or 'all', got {text!r}")
    return int(text)


def _parser():
    parser = _Parser(prog=PROG, description="Tag audio files (wav, flac, ogg, mp3) with a pretrained model.")
    parser.add_argument("files", nargs="+", metavar="FILE", help="audio files to tag")
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"id or alias (default: {DEFAULT_MODEL})")
    parser.add_argument("--weights", default="mtt", help="pretrained weights: mtt or msd (default: mtt)")
    parser.add_argument("--top-k", type=_top_k, default=5, help="tags per file, or 'all' (default: 5)")
    parser.add_argument("--format", choices=sorted(FORMATS), default="table", help="default: table")
    return parser


def _quiet_tensorflow():
    # TF's Python-side warnings (e.g. tf.function retracing) would clutter the output.
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")


def _one_line(error):
    text = str(error).strip() or type(error).__name__
    return " ".join(text.split())


def _fail(message, status):
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return status


def main(argv=None):
    """Run zoo-tag; returns the exit status (0 ok, 1 bad input, 2 bad command line)."""
    try:
        args = _parser().parse_args(argv)
    except _UsageError as error:
        return _fail(f"{error} (see {PROG} --help)", 2)
    except SystemExit as done:  # --help
        return done.code or 0
    _quiet_tensorflow()
    from zoo.tagging import tag

    try:
        results = [(path, tag(path, args.model, args.weights, top_k=args.top_k)) for path in args.files]
    except (ValueError, KeyError) as error:  # AudioError, unknown model or weights, unfit weights
        return _fail(_one_line(error), 1)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except Exception as error:  # noqa: BLE001 - the promise is one line, never a traceback
        return _fail(f"{type(error).__name__}: {_one_line(error)}", 1)
    sys.stdout.write(FORMATS[args.format](results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
