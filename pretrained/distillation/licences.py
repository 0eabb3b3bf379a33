"""The licence of each track, read from its package's ``/usr/share/doc/<package>/copyright``.

A machine-readable copyright file (Debian's DEP-5 format: ``Files:`` patterns and a ``License:``
short name per stanza) gives each track the licence of the last stanza whose pattern matches it,
as DEP-5 says; patterns are relative to the source tree, so ``music/x.ogg`` matches any installed
path ending in ``/music/x.ogg``. An older free-text copyright file is recognised by the licence
texts in ``FREE_TEXT`` (the GPL's "version 2 ... any later version" notice, the CC BY-SA 3.0 legal
code); one that none matches is an error naming the file.

    >>> from pretrained.distillation.licences import track_licences
    >>> track_licences("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\\n\\n"
    ...                "Files: *\\nLicense: GPL-2+\\n\\nFiles: music/*\\nLicense: CC-BY-SA-3.0\\n",
    ...                ["/usr/share/game/music/a.ogg", "/usr/share/game/b.ogg"])
    ['CC-BY-SA-3.0', 'GPL-2+']
"""
import fnmatch
import re

__all__ = ["FREE_TEXT", "LicenceError", "summary", "track_licences"]


class LicenceError(ValueError):
    """A copyright file gives no licence for a track."""


# Free-text copyright files: (short name, what its text says), first match wins.
FREE_TEXT = (
    ("CC-BY-SA-3.0", re.compile(r"CREATIVE COMMONS PUBLIC LICENSE.*Creative Commons Compatible License.*"
                                r"Attribution, ShareAlike", re.S | re.I)),
    ("GPL-2+", re.compile(r"GNU General Public License.*version 2.*any later version", re.S | re.I)),
    ("GPL-3+", re.compile(r"GNU General Public License.*version 3.*any later version", re.S | re.I)),
)


def _is_dep5(text):
    first = text.lstrip().splitlines()[0] if text.strip() else ""
    return first.startswith("Format:") and "copyright-format" in first


def _dep5_stanzas(text):
    """[(file patterns, licence short name)] of the Files stanzas, in order."""
    stanzas = []
    for block in re.split(r"\n\s*\n", text):
        files = re.search(r"^Files:(.*(?:\n[ \t].*)*)", block, re.M)
        licence = re.search(r"^License:[ \t]*(\S.*)$", block, re.M)
        if files and licence:
            patterns = [p for p in files.group(1).split() if p]
            stanzas.append((patterns, licence.group(1).strip()))
    return stanzas


def _matches(pattern, path):
    return fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(path, "*/" + pattern.lstrip("/"))


def track_licences(copyright_text, tracks, where="copyright file"):
    """The licence short name of each track (its installed path, or archive path + member path)."""
    if _is_dep5(copyright_text):
        stanzas = _dep5_stanzas(copyright_text)
        found = []
        for track in tracks:
            names = [name for patterns, name in stanzas if any(_matches(p, track) for p in patterns)]
            if not names:
                raise LicenceError(f"{where} gives no licence for {track}")
            found.append(names[-1])  # DEP-5: the last matching stanza wins
        return found
    for name, text in FREE_TEXT:
        if text.search(copyright_text):
            return [name] * len(tracks)
    raise LicenceError(f"{where}: no licence recognised (neither DEP-5 nor one of "
                       f"{', '.join(name for name, _ in FREE_TEXT)})")


def summary(licences):
    """One line for a package: its tracks' licences, most tracks first, with counts when several.

        >>> summary(["GPL-2+", "CC-BY-3.0", "GPL-2+"])
        'GPL-2+ (2), CC-BY-3.0 (1)'
    """
    counts = {}
    for name in licences:
        counts[name] = counts.get(name, 0) + 1
    if len(counts) == 1:
        return next(iter(counts))
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{name} ({count})" for name, count in ranked)
