"""The user's own labelled audio, described by a CSV manifest, as a ``TaggingDataset``.

Columns: ``path`` (relative to the CSV's folder, or absolute), ``tags`` (';'-separated) and
optionally ``split`` (train / valid / test; without it, a seeded 80/10/10 split by file).
Files may be wav, flac, ogg or mp3 at any rate and channel count: each is decoded once
(``zoo.datasets.decoded_audio``: mixed to mono, resampled with soxr) into a 16-bit WAV in the
zoo cache, so training epochs (and later runs) read ready-made audio and never resample again.

Every problem is found before any training and reported in one line (``ManifestError``),
naming the first offending rows (numbered as lines of the CSV, the header being line 1) and
the count. With ``skip_bad_files``, missing or undecodable files are left out instead and
counted in ``info["skipped_files"]``.
"""
import os

import numpy as np
import pandas as pd

from zoo.cache import cache_dir
from zoo.datasets.csv_table import read_table, rows_problem
from zoo.datasets.decoded_audio import CACHE_FOLDER, decode_all
from zoo.datasets.tagging_dataset import SPLITS, TaggingDataset

__all__ = ["ManifestError", "load_manifest", "TAG_SEPARATOR", "SPLIT_FRACTIONS"]

TAG_SEPARATOR = ";"
SPLIT_FRACTIONS = {"train": 0.8, "valid": 0.1, "test": 0.1}
REQUIRED_COLUMNS = ("path", "tags")


class ManifestError(ValueError):
    """The manifest cannot be trained on: bad columns, rows, files or splits."""


def _read_csv(csv_path):
    return read_table(csv_path, REQUIRED_COLUMNS, ManifestError, "manifest", "path, tags and optionally split")


def _parse_tags(cell):
    return sorted({tag.strip() for tag in str(cell).split(TAG_SEPARATOR) if tag.strip()})


def _row_problems(frame):
    problems = []
    no_path = [i for i, p in enumerate(frame["path"]) if not str(p).strip()]
    if no_path:
        problems.append(rows_problem("without a path", no_path))
    no_tags = [i for i, t in enumerate(frame["tags"]) if not _parse_tags(t)]
    if no_tags:
        problems.append(rows_problem("without tags", no_tags))
    if "split" in frame.columns:
        bad = [i for i, s in enumerate(frame["split"]) if s.strip() not in SPLITS]
        if bad:
            values = {i: repr(frame["split"][i]) for i in bad}
            problems.append(rows_problem(f"with a split other than {'/'.join(SPLITS)}", bad, values))
    return problems


def _seeded_splits(count, seed):
    """80/10/10 by file, seeded; with three or more files each split gets at least one."""
    order = np.random.default_rng(seed).permutation(count)
    n_valid = max(1, int(round(count * SPLIT_FRACTIONS["valid"]))) if count >= 3 else 0
    n_test = max(1, int(round(count * SPLIT_FRACTIONS["test"]))) if count >= 3 else 0
    splits = np.array(["train"] * count, dtype=object)
    splits[order[:n_valid]] = "valid"
    splits[order[n_valid:n_valid + n_test]] = "test"
    return list(splits)


def load_manifest(csv_path, sample_rate=16000, seed=0, skip_bad_files=False, progress=False):
    """The manifest at ``csv_path`` as a ``TaggingDataset`` of cached mono audio at ``sample_rate``.

    Raises ManifestError (one line) for a missing column, rows without a path or tags, a split
    name other than train/valid/test, missing or undecodable files (unless ``skip_bad_files``)
    and an empty split.
    """
    csv_path = os.path.abspath(os.fspath(csv_path))
    frame = _read_csv(csv_path)
    problems = _row_problems(frame)
    if problems:
        raise ManifestError(f"manifest {csv_path}: " + "; ".join(problems))
    base = os.path.dirname(csv_path)
    sources = [os.path.normpath(os.path.join(base, p.strip())) for p in frame["path"]]
    directory = str(cache_dir(CACHE_FOLDER))
    prepared = [(name and os.path.basename(name), detail)
                for name, detail in decode_all(sources, sample_rate, progress, "Preparing manifest audio")]
    bad = [i for i, (name, _) in enumerate(prepared) if name is None]
    if bad and not skip_bad_files:
        details = {i: prepared[i][1] for i in bad}
        raise ManifestError(
            f"manifest {csv_path}: {rows_problem('with missing or undecodable audio', bad, details)}; "
            "fix them or pass --skip_bad_files to train on the rest"
        )
    splits = [s.strip() for s in frame["split"]] if "split" in frame.columns else _seeded_splits(len(frame), seed)
    keep = [i for i in range(len(frame)) if prepared[i][0] is not None]
    tag_lists = [_parse_tags(frame["tags"][i]) for i in keep]
    tags = tuple(sorted({tag for tag_list in tag_lists for tag in tag_list}))
    annotations = pd.DataFrame({
        "path": [prepared[i][0] for i in keep],
        "split": [splits[i] for i in keep],
        "source": [sources[i] for i in keep],
    })
    labels = np.array([[tag in tag_list for tag in tags] for tag_list in tag_lists], dtype="int8")
    annotations = pd.concat([annotations, pd.DataFrame(labels.reshape(len(keep), len(tags)), columns=list(tags))],
                            axis=1)
    empty = [s for s in SPLITS if not (annotations["split"] == s).any()]
    if empty:
        counts = ", ".join(f"{s} {int((annotations['split'] == s).sum())}" for s in SPLITS)
        raise ManifestError(
            f"manifest {csv_path}: empty split(s) {', '.join(empty)} (files per split: {counts}); "
            "every split needs at least one file"
        )
    seconds = [prepared[i][1] for i in keep]
    return TaggingDataset(
        name=f"manifest:{os.path.basename(csv_path)}",
        root=directory,
        annotations=annotations,
        tags=tags,
        tag_groups={tag: "all" for tag in tags},
        sample_rate=sample_rate,
        clip_seconds=float(np.mean(seconds)),
        info={"manifest": csv_path, "skipped_files": len(bad), "skipped": [sources[i] for i in bad],
              "files": len(keep), "audio_seconds": float(np.sum(seconds))},
    )
