"""Files written whole or not at all (a reader, or a resumed run, never sees a half-written
one), and files named by their content."""
import hashlib
import os
import threading

__all__ = ["atomic_path", "file_sha256", "write_csv_atomically"]


def file_sha256(path):
    """The sha256 hex digest of a file's bytes, read a MiB at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class atomic_path:
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
