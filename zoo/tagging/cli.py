"""``zoo-tag``: tag audio files and whole folders with a pretrained zoo model.

    zoo-tag song.mp3 other.wav --model musicnn --weights msd --top-k 10 --format json
    zoo-tag ~/Music --format jsonl --output tags.jsonl --resume
    zoo-tag ~/Music --output tags.jsonl --format jsonl --embeddings penultimate,taggram --embeddings_dir emb/
    zoo-tag ~/Music --plot pictures/ --format timeline --output timeline.csv

Folders are searched recursively for .wav .flac .ogg .mp3 (any letter case), in a stable order.
Each file's record is written the moment it is done; a bad file gets an error record and one
line on stderr, and the run goes on. Exit status: 0 every file tagged, 1 any file failed, 2 bad
command line (folders holding no audio file included), 130 interrupted (everything written so
far is kept).
"""
import argparse
import csv
import io
import json
import os
import sys

from zoo.files import CacheEntryError
from zoo.host_allocator import tune_host_allocator
from zoo.tagging.analyser import DEFAULT_MODEL
from zoo.tagging.runtimes import CALIBRATED, DEFAULT_RUNTIME, RUNTIME_ALIASES, RUNTIMES, CalibratedRuntime, runtime_name

__all__ = ["main"]

PROG = "zoo-tag"


class _Table:
    def __init__(self, stream):
        self.stream = stream

    def write(self, record):
        lines = [record["file"]]
        if "error" in record:
            lines.append(f"  error: {record['error']}")
        else:
            width = max((len(t["tag"]) for t in record["tags"]), default=0)
            lines += [f"  {t['tag']:<{width}}  {t['score']:.4f}" for t in record["tags"]]
        self.stream.write("\n".join(lines) + "\n")

    def close(self):
        pass


class _Csv:
    """CSV, one row per file and tag; an error record is one row with its error."""

    HEADER = ["file", "tag", "score", "error"]

    def __init__(self, stream, header=True):
        self.stream, self.header = stream, header

    def rows(self, record):
        return ([record["file"], t["tag"], f"{t['score']:.6f}", ""] for t in record["tags"])

    def write(self, record):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        if self.header:
            writer.writerow(self.HEADER)
            self.header = False
        if "error" in record:
            writer.writerow([record["file"], *[""] * (len(self.HEADER) - 2), record["error"]])
        else:
            writer.writerows(self.rows(record))
        self.stream.write(out.getvalue())

    def close(self):
        pass


class _Timeline(_Csv):
    """CSV of each patch's start and end (s) with its top tags: one row per patch and tag."""

    HEADER = ["file", "start", "end", "tag", "score", "error"]

    def rows(self, record):
        return ([record["file"], f"{p['start']:.3f}", f"{p['end']:.3f}", t["tag"], f"{t['score']:.6f}", ""]
                for p in record["patches"] for t in p["tags"])


class _JsonLines:
    def __init__(self, stream):
        self.stream = stream

    def write(self, record):
        self.stream.write(json.dumps(record) + "\n")

    def close(self):
        pass


class _JsonArray:
    """One JSON array of every record, written when the run ends (a JSON array cannot grow)."""

    def __init__(self, stream):
        self.stream, self.records = stream, []

    def write(self, record):
        self.records.append(record)

    def close(self):
        self.stream.write(json.dumps(self.records, indent=2) + "\n")


# Format -> writer of records to a text stream (``header``: whether a CSV header is due).
FORMATS = {
    "table": lambda stream, header: _Table(stream),
    "csv": lambda stream, header: _Csv(stream, header),
    "json": lambda stream, header: _JsonArray(stream),
    "jsonl": lambda stream, header: _JsonLines(stream),
    "timeline": lambda stream, header: _Timeline(stream, header),
}


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
    parser = _Parser(prog=PROG,
                     description="Tag audio files and folders (wav, flac, ogg, mp3) with a pretrained model.")
    parser.add_argument("files", nargs="+", metavar="PATH", help="audio files or folders (searched recursively)")
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"id or alias (default: {DEFAULT_MODEL})")
    parser.add_argument("--weights", default="mtt", help="pretrained weights: mtt or msd (default: mtt)")
    parser.add_argument("--top-k", type=_top_k, default=5, help="tags per file, or 'all' (default: 5)")
    parser.add_argument("--format", choices=sorted(FORMATS), default="table",
                        help="default: table; timeline: CSV of every patch's start, end and top tags")
    parser.add_argument("--output", metavar="FILE", help="append records to FILE (default: standard output)")
    parser.add_argument("--resume", action="store_true",
                        help="skip files that --output (jsonl) already has tags for; failed ones are retried")
    parser.add_argument("--embeddings", type=lambda text: [n for n in text.split(",") if n], default=[],
                        help="also save these per file (e.g. penultimate,max_pool,taggram) as .npz")
    parser.add_argument("--embeddings_dir", metavar="DIR", help="where the .npz files go (mirrors the folders)")
    parser.add_argument("--plot", metavar="DIR",
                        help="also draw each file's taggram (its top tags over time) as a PNG under DIR (mirrors the "
                             "folders)")
    parser.add_argument("--runtime", choices=sorted([*RUNTIMES, *RUNTIME_ALIASES]), default=DEFAULT_RUNTIME,
                        help=f"what scores the patches (default: {DEFAULT_RUNTIME}: with its conversion cached, a run "
                             "never imports TensorFlow; onnx-int8 and keras-bf16 are faster and agree less, see "
                             "docs/tagging.md; the tflite runtimes give tag scores only)")
    parser.add_argument("--calibration", metavar="FILE_OR_FOLDER", action="append",
                        help=f"calibrate {' or '.join(CALIBRATED)} on this audio instead of rendered General-MIDI "
                             "clips (repeatable; converted once per calibration set)")
    return parser


def _runtime(args):
    """The runtime name, or the int8 runtime calibrated on the user's files."""
    if args.calibration:
        return CalibratedRuntime(runtime_name(args.runtime), files=tuple(args.calibration))
    return args.runtime


def _check_arguments(args):
    """One line for a bad combination or name, before any file is read."""
    from zoo.tagging.analyser import check_embeddings, pretrained_model

    if args.resume and (not args.output or args.format != "jsonl"):
        raise _UsageError("--resume reads --output as JSON lines: give --output FILE and --format jsonl")
    if args.embeddings and not args.embeddings_dir:
        raise _UsageError("--embeddings needs --embeddings_dir DIR")
    layers = sorted(set(args.embeddings) - {"taggram"})
    if args.calibration and runtime_name(args.runtime) not in CALIBRATED:
        raise _UsageError(f"--calibration applies to --runtime {' or '.join(CALIBRATED)}, not {args.runtime}")
    if layers and not RUNTIMES[runtime_name(args.runtime)].gives_embeddings:
        raise _UsageError(f"--embeddings {','.join(layers)} need --runtime onnx or keras (runtime {args.runtime} "
                          "computes the tag scores only)")
    pretrained_model(args.model, args.weights)  # unknown names and unusable model files: one line, exit 2
    check_embeddings(args.model, args.embeddings)  # a ValueError: one line, exit 2


def _one_line(error):
    text = str(error).strip() or type(error).__name__
    return " ".join(text.split())


def _fail(message, status):
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return status


class _Progress:
    """A tqdm bar on a terminal's stderr: files, audio hours, x real time, ETA."""

    def __init__(self, total):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, unit="file", desc=PROG, file=sys.stderr) if sys.stderr.isatty() else None

    def __call__(self, summary):
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(f"{summary.audio_seconds / 3600:.2f} h audio, "
                                     f"{summary.real_time_factor:.1f}x real time")

    def close(self):
        if self.bar is not None:
            self.bar.close()


class _Shown:
    """Standard output for file names that are not UTF-8 (os.fsdecode keeps their bytes as lone
    surrogates, which a UTF-8 stream refuses): those bytes are shown as \\xNN."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        try:
            raw = text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            raw = text.encode("utf-8", "replace")
        self.stream.write(raw.decode("utf-8", "backslashreplace"))


def _open_output(args):
    """(text stream, whether a CSV header is due, closer). An output file keeps the bytes of file
    names that are not UTF-8 as they are on disk (JSON escapes them anyway)."""
    if not args.output:
        return sys.stdout, True, lambda: None
    fresh = not os.path.exists(args.output) or os.path.getsize(args.output) == 0
    stream = open(args.output, "a", encoding="utf-8", errors="surrogateescape")
    return stream, fresh, stream.close


def _run(args):
    from zoo.tagging.library import AUDIO_EXTENSIONS, done_files, find_audio, tag_library

    files = find_audio(args.files)
    if not files:  # every argument was a folder, and none holds audio
        return _fail(f"no audio files ({' '.join(AUDIO_EXTENSIONS)}) found under {', '.join(args.files)}", 2)
    skip = done_files(args.output) if args.resume else frozenset()
    stream, header, close = _open_output(args)
    writer = FORMATS[args.format](_Shown(stream) if stream is sys.stdout else stream, header)

    def on_record(record):
        writer.write(record)
        stream.flush()
        if stream is not sys.stdout:
            os.fsync(stream.fileno())  # a kill after this leaves the record on disk
        if "error" in record:
            message = record["error"] if record["file"] in record["error"] else f"{record['file']}: {record['error']}"
            print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)

    progress = _Progress(len(files))
    try:
        summary = tag_library(files, on_record, model=args.model, weights=args.weights, top_k=args.top_k,
                              embeddings=args.embeddings, embeddings_dir=args.embeddings_dir, skip=skip,
                              progress=progress, runtime=_runtime(args), plot_dir=args.plot,
                              timeline=args.format == "timeline")
    finally:
        progress.close()
        writer.close()
        stream.flush()
        close()
    print(f"{PROG}: {summary.line()}", file=sys.stderr)
    return 1 if summary.failed else 0


def main(argv=None):
    """Run zoo-tag; returns the exit status (0 all tagged, 1 any file failed, 2 bad command line)."""
    # A command-line tool sets its own process up: quiet TensorFlow start-up (before it loads) and
    # JAX's and PyTorch's host allocator.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    tune_host_allocator()
    try:
        args = _parser().parse_args(argv)
    except _UsageError as error:
        return _fail(f"{error} (see {PROG} --help)", 2)
    except SystemExit as done:  # --help
        return done.code or 0
    try:
        _check_arguments(args)
    except _UsageError as error:
        return _fail(f"{error} (see {PROG} --help)", 2)
    except (ValueError, KeyError) as error:  # unknown model or weights
        return _fail(_one_line(error), 2)
    try:
        return _run(args)
    except KeyboardInterrupt:
        return _fail("interrupted; every record written so far is kept (rerun with --resume to go on)", 130)
    except OSError as error:  # the output file cannot be written
        return _fail(_one_line(error), 1)
    except CacheEntryError as error:  # a damaged cached conversion that cannot be made again here
        return _fail(_one_line(error), 1)


if __name__ == "__main__":
    sys.exit(main())
