"""Audio with a teacher's scores per patch as a ``TaggingDataset``: what knowledge distillation trains on.

``soft:PATH.csv`` names a CSV with columns ``path`` (an audio file, relative to the CSV's folder or
absolute), ``split`` (train / valid / test) and ``targets`` (a ``.npz`` of that file's targets,
same rule for the path). A targets file (``save_targets`` writes one, ``read_targets`` checks it)
holds:

    scores         float32 [patches, tags]  the teacher's scores in [0, 1]
    starts         int64 [patches]          first sample of each patch, at ``sample_rate``
    patch_samples  int                      samples each patch covers
    sample_rate    int                      16000 for the zoo's models
    tags           str [tags]               the teacher's tag names, in output order
    (anything else, e.g. ``penultimate`` [patches, width]: kept for other uses, not read here)

Every patch becomes one clip: the segment ``starts[i]``, ``patch_samples`` of the file, decoded
once into the zoo cache (``zoo.datasets.decoded_audio``), labelled with the teacher's scores as
soft targets. Metrics count each patch's ``SOFT_TOP_K`` best teacher tags as its positives.
Every problem is one line (``SoftTargetsError``) before any training.

    >>> import zoo
    >>> zoo.train("maxpool-vertical", "soft:corpus/soft_targets.csv", out_dir="runs/student")  # doctest: +SKIP
"""
import os

import numpy as np
import pandas as pd

from zoo.cache import cache_dir
from zoo.datasets.csv_table import read_table, rows_problem
from zoo.datasets.decoded_audio import CACHE_FOLDER, decode_all
from zoo.datasets.tagging_dataset import SPLITS, TaggingDataset
from zoo.files import atomic_path

__all__ = ["REQUIRED_COLUMNS", "SOFT_TOP_K", "SoftTargetsError", "load_soft_targets", "read_targets", "save_targets"]

REQUIRED_COLUMNS = ("path", "split", "targets")
REQUIRED_ARRAYS = ("scores", "starts", "patch_samples", "sample_rate", "tags")
SOFT_TOP_K = 5  # the teacher's top 5 per patch, as zoo.tag shows by default


class SoftTargetsError(ValueError):
    """The soft-target CSV or one of its targets files cannot be trained on."""


def save_targets(path, *, scores, starts, patch_samples, sample_rate, tags, **extra):
    """Write a targets file atomically (the format above); ``extra`` arrays are stored beside."""
    arrays = {"scores": np.asarray(scores, np.float32), "starts": np.asarray(starts, np.int64),
              "patch_samples": np.int64(patch_samples), "sample_rate": np.int64(sample_rate),
              "tags": np.asarray([str(t) for t in tags]), **{k: np.asarray(v) for k, v in extra.items()}}
    with atomic_path(os.fspath(path)) as temporary:
        with open(temporary, "wb") as handle:
            np.savez(handle, **arrays)


def read_targets(path):
    """{name: array} of a targets file, after checking its arrays agree; ValueError (one line) if not."""
    with np.load(os.fspath(path), allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files}
    missing = [name for name in REQUIRED_ARRAYS if name not in arrays]
    if missing:
        raise ValueError(f"{path} lacks the array(s) {', '.join(missing)}")
    scores, starts = arrays["scores"], arrays["starts"]
    if scores.ndim != 2 or scores.shape[1] != len(arrays["tags"]) or starts.shape != (len(scores),):
        raise ValueError(f"{path}: scores {scores.shape}, starts {starts.shape} and {len(arrays['tags'])} tags "
                         "do not agree (expected [patches, tags] and [patches])")
    if not len(scores):
        raise ValueError(f"{path} holds no patch")
    if not np.all(np.isfinite(scores)) or scores.min() < 0 or scores.max() > 1:
        raise ValueError(f"{path}: scores must be finite and within [0, 1]")
    if starts.min() < 0 or int(arrays["patch_samples"]) < 1:
        raise ValueError(f"{path}: negative patch starts or patch length")
    return arrays


def _read_csv(csv_path):
    frame = read_table(csv_path, REQUIRED_COLUMNS, SoftTargetsError, "soft targets", ", ".join(REQUIRED_COLUMNS))
    bad = [i for i, s in enumerate(frame["split"]) if s.strip() not in SPLITS]
    if bad:
        raise SoftTargetsError(f"soft targets {csv_path}: "
                               + rows_problem(f"with a split other than {'/'.join(SPLITS)}", bad,
                                              {i: repr(frame['split'][i]) for i in bad}))
    return frame


def _load_all_targets(csv_path, paths):
    targets, problems = [], {}
    for index, path in enumerate(paths):
        try:
            targets.append(read_targets(path))
        except (OSError, ValueError) as error:
            targets.append(None)
            problems[index] = " ".join(str(error).split())
    if problems:
        raise SoftTargetsError(f"soft targets {csv_path}: "
                               + rows_problem("with unreadable targets", sorted(problems), problems))
    return targets


def _check_agreement(csv_path, targets, sample_rate):
    tags = [tuple(t["tags"].tolist()) for t in targets]
    other = [i for i, names in enumerate(tags) if names != tags[0]]
    if other:
        raise SoftTargetsError(f"soft targets {csv_path}: "
                               + rows_problem("with other tag names than line 2's", other))
    rates = {i: int(t["sample_rate"]) for i, t in enumerate(targets) if int(t["sample_rate"]) != sample_rate}
    if rates:
        raise SoftTargetsError(f"soft targets {csv_path}: "
                               + rows_problem(f"with targets at another rate than {sample_rate} Hz", sorted(rates),
                                              {i: f"{r} Hz" for i, r in rates.items()}))
    return tags[0]


def load_soft_targets(csv_path, sample_rate=16000, progress=False):
    """The CSV at ``csv_path`` (columns path, split, targets) as a ``TaggingDataset`` of patches.

    Raises SoftTargetsError (one line) for a missing column, a bad split name, an unreadable or
    inconsistent targets file, undecodable audio, patches past the end of their audio and an
    empty split.
    """
    csv_path = os.path.abspath(os.fspath(csv_path))
    frame = _read_csv(csv_path)
    base = os.path.dirname(csv_path)
    sources = [os.path.normpath(os.path.join(base, p.strip())) for p in frame["path"]]
    targets = _load_all_targets(csv_path, [os.path.normpath(os.path.join(base, p.strip()))
                                           for p in frame["targets"]])
    tags = _check_agreement(csv_path, targets, sample_rate)
    decoded = decode_all(sources, sample_rate, progress, "Preparing distillation audio")
    bad = {i: error for i, (name, error) in enumerate(decoded) if name is None}
    if bad:
        raise SoftTargetsError(f"soft targets {csv_path}: "
                               + rows_problem("with missing or undecodable audio", sorted(bad), bad))
    beyond = {i: f"{int(t['starts'].max()) / sample_rate:.1f} s > {seconds:.1f} s"
              for i, (t, (_, seconds)) in enumerate(zip(targets, decoded))
              if int(t["starts"].max()) >= round(seconds * sample_rate)}
    if beyond:
        raise SoftTargetsError(f"soft targets {csv_path}: "
                               + rows_problem("with patches starting after the end of the audio", sorted(beyond),
                                              beyond))
    pieces = []
    for index, (target, (wav, _)) in enumerate(zip(targets, decoded)):
        count = len(target["scores"])
        pieces.append(pd.concat([pd.DataFrame({
            "path": os.path.basename(wav), "split": frame["split"][index].strip(), "source": sources[index],
            "track": index, "start": target["starts"], "frames": np.full(count, int(target["patch_samples"])),
        }), pd.DataFrame(target["scores"], columns=list(tags))], axis=1))
    annotations = pd.concat(pieces, ignore_index=True)
    empty = [s for s in SPLITS if not (annotations["split"] == s).any()]
    if empty:
        counts = ", ".join(f"{s} {int((frame['split'].str.strip() == s).sum())}" for s in SPLITS)
        raise SoftTargetsError(f"soft targets {csv_path}: empty split(s) {', '.join(empty)} (files per split: "
                               f"{counts}); every split needs at least one file")
    patch_seconds = float(np.mean([int(t["patch_samples"]) for t in targets])) / sample_rate
    return TaggingDataset(
        name=f"soft:{os.path.basename(csv_path)}",
        root=str(cache_dir(CACHE_FOLDER)),
        annotations=annotations,
        tags=tuple(tags),
        tag_groups={tag: "all" for tag in tags},
        sample_rate=sample_rate,
        clip_seconds=patch_seconds,
        info={"soft_targets": csv_path, "files": len(frame), "patches": len(annotations),
              "audio_seconds": float(sum(seconds for _, seconds in decoded))},
        soft_top_k=SOFT_TOP_K,
    )
