"""``zoo-demo``: a local page to try a model: upload audio, see its tags and taggram.

    zoo-demo                                   # musicnn (MagnaTagATune) on http://127.0.0.1:8000
    zoo-demo --model vgg --weights msd --port 8080
    zoo-demo --model runs/ft                   # a zoo-train run folder or .keras file of your own

Needs the demo extra (``pip install -e '.[demo]'``: Starlette, uvicorn, python-multipart). It
listens on 127.0.0.1 (this machine only) unless ``--host`` says otherwise, scores with ONNX
Runtime as zoo-tag does, and prints one line per upload. Exit status: 0 after Ctrl-C, 1 when it
cannot start (the port is taken, the model cannot be loaded), 2 for a bad command line.
"""
import argparse
import ipaddress
import os
import socket
import sys
import time

from zoo.host_allocator import tune_host_allocator
from zoo.tagging.analyser import DEFAULT_MODEL
from zoo.tagging.runtimes import DEFAULT_RUNTIME, RUNTIME_ALIASES, RUNTIMES

__all__ = ["DEFAULT_PORT", "main"]

PROG = "zoo-demo"
DEFAULT_PORT = 8000
DEFAULT_MAX_UPLOAD_MB = 100.0
_EXTRA = ("starlette", "uvicorn", "python_multipart")


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not argparse's usage block
        raise _UsageError(message)


def _positive(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = 0
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
        return value

    return parse


def _port(text):
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 to 65535 (0: any free port), got {text!r}")
    return int(text)


def _parser():
    parser = _Parser(prog=PROG, description="A local web page to try a tagging model: upload audio (wav, flac, ogg, "
                                            "mp3), see its top tags, its taggram and its JSON record.")
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help=f"id or alias with registered weights (ID:WEIGHTS names both), a .keras file or a "
                             "zoo-train run folder, chosen when the page opens; the page also offers every registered "
                             f"weights entry (default: {DEFAULT_MODEL})")
    parser.add_argument("--weights", default="mtt", help="pretrained weights of --model: mtt or msd (default: mtt)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"default: {DEFAULT_PORT}")
    parser.add_argument("--max-upload-mb", type=_positive(float), default=DEFAULT_MAX_UPLOAD_MB,
                        help=f"larger uploads are refused with a message (default: {DEFAULT_MAX_UPLOAD_MB:g})")
    parser.add_argument("--top-k", type=_positive(int), default=10, help="tags shown and drawn (default: 10)")
    parser.add_argument("--runtime", choices=sorted([*RUNTIMES, *RUNTIME_ALIASES]), default=DEFAULT_RUNTIME,
                        help=f"what scores the patches (default: {DEFAULT_RUNTIME}, as zoo-tag)")
    return parser


def _fail(message, status):
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return status


def _say(line):
    print(f"{PROG}: {line}", file=sys.stderr, flush=True)


def _one_line(error):
    return " ".join(str(error).split()) or type(error).__name__


def _missing_extra():
    """The demo extra's modules that do not import, if any."""
    missing = []
    for module in _EXTRA:
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    return missing


def _listening_socket(host, port):
    """A socket bound to (host, port) and listening, so that the port is taken (or the error
    known) before the server starts, and requests wait in its queue meanwhile."""
    family, kind, protocol, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    listener = socket.socket(family, kind, protocol)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(address)
        listener.listen(128)
    except OSError:
        listener.close()
        raise
    return listener


def _is_loopback(host):
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _serve(args):
    import uvicorn

    from zoo.demo.app import make_app
    from zoo.demo.choices import model_choices
    from zoo.demo.tagger import Tagger

    start = time.perf_counter()
    try:
        choices, default = model_choices(args.model, args.weights)
    except (ValueError, KeyError) as error:
        return _fail(_one_line(error), 2)
    tagger = Tagger(choices, top_k=args.top_k, runtime=args.runtime)
    try:
        tagger.analyser(default)  # loads (the first time: converts) the model before the page opens
    except Exception as error:  # noqa: BLE001 - a model that cannot be loaded here: one line
        return _fail(f"cannot load {args.model}: {_one_line(error)}", 1)
    try:
        listener = _listening_socket(args.host, args.port)
    except OSError as error:
        return _fail(f"cannot listen on {args.host}:{args.port}: {_one_line(error)}", 1)
    host, port = listener.getsockname()[:2]
    app = make_app(tagger, choices, default, max_upload_bytes=int(args.max_upload_mb * 1e6), on_result=_say)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, server_header=False,
                                           timeout_graceful_shutdown=5))
    if not _is_loopback(args.host):
        _say(f"warning: listening on {args.host}: anyone who can reach this machine can use the page")
    shown = f"[{host}]" if ":" in host else host
    ready = time.perf_counter() - start
    _say(f"{tagger.choices[default].short} on http://{shown}:{port} (model ready in {ready:.1f} s; Ctrl-C stops)")
    with listener:
        server.run(sockets=[listener])
    return 0


def main(argv=None):
    """Run zoo-demo until Ctrl-C; returns the exit status (0 stopped, 1 cannot start, 2 bad command line)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    tune_host_allocator()
    try:
        args = _parser().parse_args(argv)
    except _UsageError as error:
        return _fail(f"{error} (see {PROG} --help)", 2)
    except SystemExit as done:  # --help
        return done.code or 0
    missing = _missing_extra()
    if missing:
        return _fail(f"the demo needs its extra, which is not installed (no {', '.join(missing)}): "
                     "pip install -e '.[demo]'", 2)
    try:
        return _serve(args)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
