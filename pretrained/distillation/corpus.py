"""The distillation corpus: freely licensed music from Debian packages, as a manifest of tracks.

Each package of ``PACKAGES`` (installed with ``sudo apt-get install <package>``) gives its audio
files (ogg, opus, mp3, flac, wav), including those inside zip archives (``.pk3``: extracted once
into the zoo cache, ``archives``), where its row says so only those under a folder (hyperrogue's
``/music/``: the rest are sound effects), and only tracks of at least ``MIN_SECONDS``. A track
whose bytes equal an earlier one's (drascula-music repeats its tracks per language) is kept once.
Wesnoth's music packages and sonic-pi-samples are refused: independent checks use them.

The split is by package: ``HELD_OUT`` packages are the evaluation (``test``) and never trained
on; of every other package a seeded ``VALID_FRACTION`` of its tracks (at least one) is the
validation split (``valid``), the rest ``train``. One row per track:

    track     package/relative name          package, version  as dpkg records them
    licence   from the package's copyright    source            installed path, or ARCHIVE#MEMBER
    audio     the file to decode              sha256, seconds   of its bytes; its length
    split     train / valid / test

    >>> from pretrained.distillation.corpus import build_corpus, corpus_table
    >>> corpus = build_corpus()                       # doctest: +SKIP
    >>> print(markdown(corpus_table(corpus)))        # doctest: +SKIP
"""
import os
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
import soundfile as sf

from pretrained.distillation.archives import ARCHIVE_SUFFIXES, MEMBER_SEPARATOR, archive_members, extracted_member
from pretrained.distillation.licences import summary, track_licences
from pretrained.distillation.packages import installed_package
from zoo.files import file_sha256, write_csv_atomically

__all__ = ["AUDIO_SUFFIXES", "COLUMNS", "HELD_OUT", "MIN_SECONDS", "PACKAGES", "REFUSED", "VALID_FRACTION",
           "CorpusError", "CorpusPackage", "build_corpus", "corpus_table", "markdown", "read_corpus", "write_corpus"]

AUDIO_SUFFIXES = (".ogg", ".opus", ".mp3", ".flac", ".wav")
MIN_SECONDS = 10.0  # shorter files are jingles and stingers
VALID_FRACTION = 0.1
COLUMNS = ("track", "package", "version", "licence", "source", "audio", "sha256", "seconds", "split")


class CorpusError(ValueError):
    """The corpus cannot be built as asked (one line)."""


@dataclass(frozen=True)
class CorpusPackage:
    name: str
    folder: str = ""  # only files whose installed path contains this (e.g. "/music/"); "" = all
    content: str = ""  # what it holds, for people


PACKAGES = (
    CorpusPackage("asc-music", content="Advanced Strategic Command: orchestral and rock, 3 tracks (mp3)"),
    CorpusPackage("drascula-music", content="Drascula: adventure-game score, the same 31 tracks per language"),
    CorpusPackage("hyperrogue-music", "/music/", "HyperRogue: ambient and orchestral (its sounds/ left out)"),
    CorpusPackage("nexuiz-music", content="Nexuiz: electronic, metal, techno (in music.pk3)"),
    CorpusPackage("singularity-music", content="Endgame: Singularity: ambient and electronic"),
    CorpusPackage("ufoai-music", content="UFO: Alien Invasion: orchestral and electronic (in 0music.pk3)"),
    CorpusPackage("warzone2100-music", content="Warzone 2100: electronic and orchestral, three albums (opus)"),
)
HELD_OUT = ("singularity-music",)  # 1.07 h, 16 tracks, one composer none of the others share
# Independent checks use these: never part of the corpus.
REFUSED = ("wesnoth", "sonic-pi-samples")


def _package_rule(name):
    for package in PACKAGES:
        if package.name == name:
            return package
    return CorpusPackage(name)


def _check_names(names, held_out):
    refused = [n for n in names if any(n == r or n.startswith(r) for r in REFUSED)]
    if refused:
        raise CorpusError(f"{', '.join(refused)}: left out of the corpus on purpose (independent checks use the "
                          "wesnoth music packages and sonic-pi-samples)")
    unknown = [n for n in held_out if n not in names]
    if unknown:
        raise CorpusError(f"held-out package(s) {', '.join(unknown)} are not among the corpus packages "
                          f"({', '.join(names)})")
    if not [n for n in names if n not in held_out]:
        raise CorpusError("every package is held out: nothing is left to train on")
    if not held_out:
        raise CorpusError("no package is held out: the evaluation needs at least one")


def _candidates(package, rule, archive_root):
    """[(source, audio path, path the licence is matched on)] of a package's audio files."""
    found = []
    for path in package.files:
        installed = "/" + os.path.relpath(path, package.root)
        if rule.folder and rule.folder not in installed:
            continue
        if path.lower().endswith(ARCHIVE_SUFFIXES):
            for member, _, _ in archive_members(path, AUDIO_SUFFIXES):
                audio = extracted_member(path, member, archive_root)
                licensed = os.path.join(os.path.dirname(installed), member)
                found.append((f"{installed}{MEMBER_SEPARATOR}{member}", audio, licensed))
        elif path.lower().endswith(AUDIO_SUFFIXES):
            found.append((installed, path, installed))
    return found


def _seconds(path):
    try:
        return float(sf.info(path).duration)
    except (sf.LibsndfileError, RuntimeError) as error:
        raise CorpusError(f"cannot read {path}: {' '.join(str(error).split())}") from None


def _package_rows(name, root, archive_root, seen):
    package = installed_package(name, root)
    candidates = _candidates(package, _package_rule(name), archive_root)
    if not candidates:
        raise CorpusError(f"package {name} holds no audio file (wav, flac, ogg, opus, mp3, or in a .pk3 archive)")
    if not os.path.isfile(package.copyright):
        raise CorpusError(f"package {name} has no copyright file {package.copyright}; reinstall it: "
                          f"sudo apt-get install --reinstall {name}")
    with open(package.copyright, encoding="utf-8", errors="replace") as handle:
        licences = track_licences(handle.read(), [licensed for _, _, licensed in candidates], package.copyright)
    rows = []
    for (source, audio, _), licence in zip(candidates, licences):
        digest = file_sha256(audio)
        if digest in seen:  # the same bytes again (a language folder's copy)
            continue
        seconds = _seconds(audio)
        if seconds < MIN_SECONDS:
            continue
        seen.add(digest)
        relative = source.split(MEMBER_SEPARATOR)[-1] if MEMBER_SEPARATOR in source else os.path.basename(source)
        rows.append({"track": f"{name}/{relative}", "package": name, "version": package.version,
                     "licence": licence, "source": source, "audio": audio, "sha256": digest,
                     "seconds": round(seconds, 3)})
    if not rows:
        raise CorpusError(f"package {name} holds no track of {MIN_SECONDS:g} s or more")
    return rows


def _splits(rows, held_out, valid_fraction, seed):
    by_package = {}
    for index, row in enumerate(rows):
        by_package.setdefault(row["package"], []).append(index)
    splits = ["train"] * len(rows)
    for name, indices in by_package.items():
        if name in held_out:
            for i in indices:
                splits[i] = "test"
            continue
        count = max(1, int(round(valid_fraction * len(indices)))) if len(indices) > 1 else 0
        order = np.random.default_rng([seed, zlib.crc32(name.encode())]).permutation(len(indices))
        for position in order[:count]:
            splits[indices[position]] = "valid"
    return splits


def build_corpus(packages=None, held_out=HELD_OUT, root="/", valid_fraction=VALID_FRACTION, seed=0,
                 archive_root=None):
    """The corpus manifest (a DataFrame with ``COLUMNS``), tracks sorted by package and source.

    Args:
        packages: package names (default: every one of ``PACKAGES``).
        held_out: packages kept for the evaluation (split ``test``), never trained on.
        root: where the packages are installed ("/"; a test's folder holds a tree of its own).
        valid_fraction: share of each training package's tracks (at least one) for validation.
        seed: which tracks are the validation ones.
        archive_root: where archive members are extracted (default: the zoo cache).

    Raises MissingPackageError naming ``apt-get install`` for a package that is not installed,
    CorpusError (one line) for a refused package, a bad held-out choice or a package without music.
    """
    names = list(packages or [p.name for p in PACKAGES])
    held_out = tuple(held_out)
    _check_names(names, held_out)
    rows, seen = [], set()
    for name in sorted(names):
        rows.extend(_package_rows(name, root, archive_root, seen))
    frame = pd.DataFrame(rows, columns=list(COLUMNS[:-1]))
    frame["split"] = _splits(rows, held_out, valid_fraction, seed)
    return frame


def corpus_table(corpus):
    """Per package: version, licence, tracks, hours, split (held out, or train with its validation part)."""
    table = []
    for name, rows in corpus.groupby("package", sort=True):
        valid = rows[rows["split"] == "valid"]
        held = (rows["split"] == "test").all()
        table.append({
            "package": name, "version": rows["version"].iloc[0], "licence": summary(rows["licence"]),
            "tracks": len(rows), "hours": round(rows["seconds"].sum() / 3600, 2),
            "split": "held out (test)" if held else
                     f"train; valid {len(valid)} track{'s' if len(valid) != 1 else ''}, "
                     f"{valid['seconds'].sum() / 3600:.2f} h"})
    table.append({"package": "all", "version": "", "licence": "", "tracks": len(corpus),
                  "hours": round(corpus["seconds"].sum() / 3600, 2),
                  "split": ", ".join(f"{s} {corpus.loc[corpus['split'] == s, 'seconds'].sum() / 3600:.2f} h"
                                     for s in ("train", "valid", "test"))})
    return pd.DataFrame(table)


def markdown(table):
    """A DataFrame as a Markdown table (what the docs and the command print).

        >>> print(markdown(pd.DataFrame({"package": ["a"], "hours": [1.5]})))
        | package | hours |
        |---|---|
        | a | 1.5 |
    """
    lines = ["| " + " | ".join(map(str, table.columns)) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def write_corpus(corpus, path):
    """Write the manifest as CSV, atomically."""
    write_csv_atomically(corpus[list(COLUMNS)], os.fspath(path))


def read_corpus(path):
    frame = pd.read_csv(path, dtype={"version": str, "sha256": str}, keep_default_na=False)
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise CorpusError(f"{path} is no corpus manifest (missing column(s) {', '.join(missing)})")
    return frame
