"""Files written whole or not at all (a reader, or a resumed run, never sees a half-written
one), files named by their content, and cache entries that heal (``cached_file``): every file
the zoo caches is checked before use, and a damaged one is made again."""
import hashlib
import json
import logging
import os
import threading

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

__all__ = ["CHECK_SUFFIX", "CacheEntryError", "atomic_path", "cached_file", "entry_problem", "file_sha256",
           "write_csv_atomically"]


def file_sha256(path):
    """The sha256 hex digest of a file's bytes, read a MiB at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class atomic_path:  # noqa: N801 - public API used like a function (`with atomic_path(...)`)
    """``with atomic_path(final) as temporary:`` write to ``temporary``; on success it replaces
    ``final`` in one step, so a reader (or a resumed run) never sees a half-written file."""

    def __init__(self, final_path):
        self.final_path = final_path

    def __enter__(self):
        # Named per process and thread rather than by mkstemp, whose 0600 mode would stick.
        directory, name = os.path.split(self.final_path)
        unique = f"{os.getpid()}-{threading.get_ident()}"
        self.temporary = os.path.join(directory, f".{name}.{unique}.partial")
        return self.temporary

    def __exit__(self, error_type, error, traceback):
        if error_type is None:
            os.replace(self.temporary, self.final_path)
        elif os.path.exists(self.temporary):
            os.remove(self.temporary)
        return False


def write_csv_atomically(frame, path):
    with atomic_path(path) as temporary:
        frame.to_csv(temporary, index=False)



# --- cache entries that heal --------------------------------------------------------------------
# Size and sha256 for every kind of entry, decoded audio too: hashing a file costs about a third of reading it once.

CHECK_SUFFIX = ".check.json"  # the sidecar beside each cache entry: {"size": bytes, "sha256": hex digest}
_log = logging.getLogger("zoo.cache")
_VERIFIED = {}  # path -> its and its sidecar's stat when last found intact: hashed once per process
_NO_SIDECAR = "it has no checksum beside it"


class CacheEntryError(RuntimeError):
    """A cache entry was damaged and removed, and it cannot be made again here; the message (one
    line) names the file and ends with what to do."""


def _sidecar(path):
    return f"{path}{CHECK_SUFFIX}"


def _stat_key(path):
    entry, sidecar = os.stat(path), os.stat(_sidecar(path))
    return entry.st_size, entry.st_mtime_ns, entry.st_ino, sidecar.st_size, sidecar.st_mtime_ns


def _read_sidecar(path):
    """(size, sha256) recorded beside ``path``; None without a sidecar (or with the empty one a
    rebuild's lock leaves when interrupted); (-1, "") when it is unreadable."""
    try:
        with open(_sidecar(path)) as handle:
            text = handle.read()
    except FileNotFoundError:
        return None
    if not text:
        return None
    try:
        recorded = json.loads(text)
        return int(recorded["size"]), str(recorded["sha256"])
    except (ValueError, KeyError, TypeError):
        return -1, ""


def _first_line(error):
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def entry_problem(path):
    """None when the cache entry ``path`` matches its sidecar (size, then sha256), else why not:
    "missing", "cut short: ...", "it has no checksum beside it" (previous release) ..."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        return "missing"
    recorded = _read_sidecar(path)
    if recorded is None:
        return _NO_SIDECAR
    try:
        key = _stat_key(path)
    except FileNotFoundError:
        return "missing"
    if _VERIFIED.get(path) == key:
        return None
    size, digest = recorded
    if size < 0:
        return "its checksum file is unreadable"
    if key[0] != size:
        return f"cut short: {key[0]} of {size} bytes" if key[0] < size else f"{key[0]} bytes, not {size}"
    if file_sha256(path) != digest:
        return "its bytes differ from their recorded sha256"
    _VERIFIED[path] = key
    return None


def _format_problem(path, check):
    """Why ``check`` (the format's own check: raises, or returns False, for a bad file) refuses
    ``path``, or None."""
    try:
        if check(path) is False:
            return "its format check failed"
    except Exception as error:  # a reader fails on a damaged file in any way
        return f"its format check failed ({_first_line(error)})"
    return None


def _write_sidecar(handle, size, digest):
    # In place, in the locked file: replacing it would swap the lock's file under its holders.
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps({"size": size, "sha256": digest}) + "\n")
    handle.flush()


class _locked_sidecar:  # noqa: N801 - a context manager used like a function, as atomic_path
    """The entry's sidecar, opened and locked while the entry is made: processes and threads that
    find one entry missing or damaged make it once, in turn, and a reader that caught the entry
    between the two writes looks again under the lock. (No lock where fcntl is missing: Windows.)"""

    def __init__(self, path):
        self.path = _sidecar(path)

    def __enter__(self):
        self.handle = open(self.path, "a+")
        if fcntl is not None:
            fcntl.flock(self.handle.fileno(), fcntl.LOCK_EX)
        return self.handle

    def __exit__(self, *error):
        self.handle.close()  # and with it the lock
        return False


def cached_file(path, make, *, what, check=None, rebuild=False):
    """The cache entry ``path``, made by ``make(temporary_path)`` when it is missing or damaged.

    ``make`` writes the entry to the path it is given (a name that ends like ``path``'s); the
    entry appears whole, with a sidecar (``CHECK_SUFFIX``: size and sha256) beside it. Every use
    checks the entry against its sidecar (hashing it once per process while it is unchanged). A
    damaged entry (cut short, changed bytes, unreadable sidecar) is removed and made again, with
    one warning on the "zoo.cache" logger that names it; if ``make`` fails then, CacheEntryError
    says so in one line ending with ``make``'s error, which should say what to do.

    The previous release wrote no sidecars: an entry without one is passed to ``check(path)``, the
    format's own check (raises or returns False on a bad file), and kept, sidecar added, when it
    passes; without a ``check`` it is made again. ``what`` names the kind of entry for people;
    ``rebuild`` makes it again in any case.
    """
    path = os.fspath(path)
    if not rebuild and entry_problem(path) is None:
        return path
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with _locked_sidecar(path) as sidecar:
        problem = "a rebuild was asked for" if rebuild else entry_problem(path)
        if problem == _NO_SIDECAR and check is not None:
            refused = _format_problem(path, check)
            problem = refused and f"{_NO_SIDECAR}, and {refused}"
            if problem is None:  # the previous release's entry, intact: adopted
                _write_sidecar(sidecar, os.path.getsize(path), file_sha256(path))
        if problem is None:  # intact, or made by another process or thread meanwhile
            _VERIFIED[path] = _stat_key(path)
            return path
        _VERIFIED.pop(path, None)
        damaged = os.path.exists(path) and not rebuild
        if os.path.exists(path):
            os.remove(path)
        directory, name = os.path.split(path)
        temporary = os.path.join(directory, f".partial-{os.getpid()}-{threading.get_ident()}.{name}")
        try:
            make(temporary)
            size, digest = os.path.getsize(temporary), file_sha256(temporary)
            os.replace(temporary, path)
        except Exception as error:
            if os.path.getsize(sidecar.name) == 0:  # the lock's own empty file: no entry, no sidecar
                os.remove(sidecar.name)
            if not damaged:
                raise
            raise CacheEntryError(f"{path} ({what}) was damaged ({problem}) and has been removed, and it cannot be "
                                  f"made again here: {_first_line(error)}") from None
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)
        _write_sidecar(sidecar, size, digest)
        _VERIFIED[path] = _stat_key(path)
    if damaged:
        _log.warning("zoo cache: %s (%s) was damaged (%s); removed and rebuilt it", path, what, problem)
    return path
