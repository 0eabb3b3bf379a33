"""Tracks stored inside zip archives (Quake-style ``.pk3`` files), extracted once into the zoo cache.

Some packages ship their music inside a zip (nexuiz-music's ``music.pk3``, ufoai-music's
``0music.pk3``). A member is written to the cache under its archive's name, size and
modification time and its own name and CRC, checked on every use (``zoo.files.cached_file``: a
damaged copy is extracted again); zipfile checks the CRC as it reads.

    >>> from pretrained.distillation.archives import MEMBER_SEPARATOR, extracted_member
    >>> extracted_member("/usr/share/games/nexuiz/data/music.pk3", "sound/cdtracks/chaos-fog.ogg")  # doctest: +SKIP
    '.../distillation/archives/music.pk3-.../sound/cdtracks/chaos-fog.ogg'
"""
import hashlib
import os
import re
import shutil
import zipfile

from zoo.cache import cache_dir
from zoo.files import cached_file

__all__ = ["ARCHIVE_SUFFIXES", "MEMBER_SEPARATOR", "archive_members", "extracted_member"]

ARCHIVE_SUFFIXES = (".pk3", ".zip")
MEMBER_SEPARATOR = "#"  # a track inside an archive is named ARCHIVE#MEMBER


def archive_members(archive, suffixes):
    """[(member name, size, crc)] of the files in ``archive`` whose names end in ``suffixes``."""
    with zipfile.ZipFile(archive) as handle:
        return [(info.filename, info.file_size, info.CRC) for info in handle.infolist()
                if not info.is_dir() and info.filename.lower().endswith(tuple(suffixes))]


def _folder(archive, root):
    stat = os.stat(archive)
    key = f"{os.path.abspath(archive)}|{stat.st_size}|{stat.st_mtime_ns}"
    return os.path.join(root, f"{os.path.basename(archive)}-{hashlib.sha256(key.encode()).hexdigest()[:16]}")


def _safe(member):
    parts = member.replace("\\", "/").split("/")
    parts = [re.sub(r"[^\w.+-]", "_", part) for part in parts if part not in ("", ".", "..")]
    return os.path.join(*parts)


def extracted_member(archive, member, root=None):
    """Path of ``member`` of the zip ``archive`` extracted into ``root`` (default: the zoo cache's
    ``distillation/archives``), extracting it the first time or when its copy is damaged."""
    root = os.fspath(root or cache_dir("distillation", "archives"))
    target = os.path.join(_folder(archive, root), _safe(member))

    def make(temporary):
        with zipfile.ZipFile(archive) as handle, handle.open(member) as source, open(temporary, "wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)  # raises BadZipFile on a CRC mismatch

    return cached_file(target, make, what=f"{member} of {archive}")
