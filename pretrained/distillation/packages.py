"""Installed Debian packages as dpkg records them: version and file list, read under a root folder.

dpkg keeps its database in plain files: ``var/lib/dpkg/status`` (one deb822 stanza per package,
with ``Status`` and ``Version``) and ``var/lib/dpkg/info/<package>.list`` (the paths it
installed, one per line; ``<package>:<arch>.list`` for architecture-specific packages). Reading
them under ``root`` ("/" for this machine) gives the same answers as ``dpkg-query`` without
running it, and lets a test build a package tree of its own.

    >>> from pretrained.distillation.packages import installed_package
    >>> installed_package("asc-music").version        # doctest: +SKIP
    '1.3-6'
"""
import functools
import glob
import os
from dataclasses import dataclass

__all__ = ["MissingPackageError", "InstalledPackage", "installed_package", "installed_versions"]

STATUS = os.path.join("var", "lib", "dpkg", "status")
INFO = os.path.join("var", "lib", "dpkg", "info")


class MissingPackageError(LookupError):
    """A package the corpus needs is not installed; the message says how to install it."""


@dataclass(frozen=True)
class InstalledPackage:
    name: str
    version: str
    root: str
    files: tuple  # absolute paths (under root) of the regular files it installed, sorted

    def path(self, installed):
        """Where an installed path (as dpkg lists it, from "/") lies under ``root``."""
        return os.path.join(self.root, installed.lstrip("/"))

    @property
    def copyright(self):
        return self.path(f"/usr/share/doc/{self.name}/copyright")


def _stanzas(text):
    """deb822 stanzas as {field: value} (continuation lines joined with newlines)."""
    for block in text.split("\n\n"):
        fields, last = {}, None
        for line in block.splitlines():
            if line[:1] in (" ", "\t") and last:
                fields[last] += "\n" + line.strip()
            elif ":" in line:
                last, _, value = line.partition(":")
                fields[last] = value.strip()
        if fields:
            yield fields


@functools.lru_cache(maxsize=8)
def _status(root):
    path = os.path.join(root, STATUS)
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except FileNotFoundError:
        return {}
    return {fields["Package"]: fields for fields in _stanzas(text)
            if "Package" in fields and fields.get("Status", "").endswith(" installed")}


def installed_versions(root="/"):
    """{package: version} of every installed package under ``root``."""
    return {name: fields.get("Version", "") for name, fields in _status(os.path.abspath(root)).items()}


def _install_hint(name, root):
    where = "" if os.path.abspath(root) == "/" else f" (under {root})"
    return f"package {name} is not installed{where}: sudo apt-get install {name}"


def installed_package(name, root="/"):
    """The ``InstalledPackage`` ``name``; MissingPackageError naming ``apt-get install`` if absent."""
    root = os.path.abspath(root)
    fields = _status(root).get(name)
    lists = sorted(glob.glob(os.path.join(root, INFO, glob.escape(name) + ".list"))
                   + glob.glob(os.path.join(root, INFO, glob.escape(name) + ":*.list")))
    if fields is None or not lists:
        raise MissingPackageError(_install_hint(name, root))
    files = set()
    for listed in lists:
        with open(listed, encoding="utf-8", errors="surrogateescape") as handle:
            for line in handle:
                path = os.path.join(root, line.strip().lstrip("/"))
                if line.strip() and os.path.isfile(path):
                    files.add(path)
    return InstalledPackage(name, fields.get("Version", ""), root, tuple(sorted(files)))
