"""Integer version directories that appear atomically, as TF Serving's file-system source expects.

TF Serving polls ``<base>/<model name>/`` and loads every directory whose name is an integer.
A version is therefore built in a hidden sibling directory (same parent, so the final
``os.rename`` stays on one file system and is atomic) and renamed into place only when
complete: a watching server never sees a half-written version.
"""
import contextlib
import ctypes
import ctypes.util
import os
import shutil
import uuid

from export.errors import ExportError
from zoo.arguments import non_negative_int

__all__ = ["existing_versions", "next_version", "version_directory"]

_TEMP_PREFIX = ".export-tmp-"
_RENAME_EXCHANGE = 2  # linux/fs.h: swap two paths atomically (renameat2)
_AT_FDCWD = -100


def existing_versions(model_dir):
    """Sorted integer versions under model_dir (what TF Serving would load)."""
    if not os.path.isdir(model_dir):
        return []
    return sorted(int(name) for name in os.listdir(model_dir)
                  if name.isdigit() and os.path.isdir(os.path.join(model_dir, name)))


def next_version(model_dir):
    versions = existing_versions(model_dir)
    return versions[-1] + 1 if versions else 1


def _exchange(path_a, path_b):
    """Atomically swap two directories (Linux renameat2); False where unsupported."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    renameat2 = getattr(ctypes.CDLL(libc_name, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(path_a), _AT_FDCWD, os.fsencode(path_b), _RENAME_EXCHANGE)
    return result == 0


def _replace(temp_dir, final_dir):
    """Put temp_dir at final_dir, replacing what is there; the old tree is deleted."""
    if _exchange(temp_dir, final_dir):
        shutil.rmtree(temp_dir)  # now holds the old version
        return
    # Fallback: a short gap in which the version is absent (the server unloads, then reloads it).
    retired = f"{temp_dir}-retired"
    os.rename(final_dir, retired)
    os.rename(temp_dir, final_dir)
    shutil.rmtree(retired)


def _move_into_place(work_dir, final_dir):
    try:
        if os.path.exists(final_dir):
            _replace(work_dir, final_dir)
        else:
            os.rename(work_dir, final_dir)
    except OSError as error:  # e.g. another export took the same version meanwhile
        raise ExportError(f"could not move the new version into {final_dir}: {error}") from None


@contextlib.contextmanager
def version_directory(model_dir, version=None, force=False):
    """Yield (version, hidden work directory); on success it becomes model_dir/<version>.

    On any exception the work directory is removed and no version directory appears.
    An existing version is refused unless force, which replaces it only once the new
    one is complete.
    """
    if version is None:
        version = next_version(model_dir)
    non_negative_int(version, "version", error=ExportError)
    final_dir = os.path.join(model_dir, str(version))
    if os.path.exists(final_dir) and not force:
        raise ExportError(
            f"version {version} already exists in {model_dir}; pass force=True (--force) to "
            "replace it, or leave the version out to write the next one."
        )
    os.makedirs(model_dir, exist_ok=True)
    work_dir = os.path.join(model_dir, f"{_TEMP_PREFIX}{version}-{uuid.uuid4().hex[:8]}")
    try:
        yield version, work_dir
        _move_into_place(work_dir, final_dir)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
