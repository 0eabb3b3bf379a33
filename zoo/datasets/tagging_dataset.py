"""What every tagging dataset looks like: ``TaggingDataset``."""
import os
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

__all__ = ["SPLITS", "TaggingDataset", "top_k_labels"]

SPLITS = ("train", "valid", "test")


@dataclass
class TaggingDataset:
    """A multi-label audio tagging set on disk.

    ``annotations`` has columns ``path`` (relative to ``root``), ``split`` (one of ``SPLITS``)
    and one column per tag of ``tags``; ``tag_groups`` maps each tag to its group. A clip is a
    whole file, or, where the optional columns ``start`` and ``frames`` are given, the segment of
    ``frames`` samples from sample ``start`` (-1 frames: to the end).

    Labels are 0/1, or, with ``soft_top_k``, soft targets (a teacher's scores in [0, 1], trained
    on as they are: knowledge distillation); the tagging metrics then count each clip's
    ``soft_top_k`` best-scored tags as its positives (``metric_labels``).
    """

    name: str
    root: str
    annotations: object  # pandas.DataFrame
    tags: tuple
    tag_groups: dict
    sample_rate: int
    clip_seconds: float  # nominal length of a clip
    info: dict = field(default_factory=dict)
    soft_top_k: Optional[int] = None

    def audio_path(self, row):
        """Absolute path of an annotation row (a mapping with ``path``) or of a relative path."""
        relative = row if isinstance(row, str) else row["path"]
        return os.path.join(self.root, relative)

    def split(self, name):
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; expected one of {SPLITS}")
        return self.annotations[self.annotations["split"] == name].reset_index(drop=True)

    def labels(self, split):
        return self.split(split)[list(self.tags)].to_numpy(dtype=np.float32)

    def audio_paths(self, split):
        return [self.audio_path(p) for p in self.split(split)["path"]]

    def segments(self, split):
        """(absolute paths, start samples int64, frames int64: -1 for the rest of the file) of
        the clips of ``split``, in the order of ``split(split)``."""
        rows = self.split(split)
        starts = rows["start"] if "start" in rows.columns else np.zeros(len(rows))
        frames = rows["frames"] if "frames" in rows.columns else np.full(len(rows), -1)
        return ([self.audio_path(p) for p in rows["path"]], np.asarray(starts, np.int64),
                np.asarray(frames, np.int64))

    def metric_labels(self, labels):
        """0/1 labels for ROC-AUC and PR-AUC: ``labels`` as they are, or, for soft targets, each
        row's ``soft_top_k`` highest-scored tags."""
        labels = np.asarray(labels)
        if not self.soft_top_k:
            return labels
        return top_k_labels(labels, self.soft_top_k)


def top_k_labels(scores, k):
    """[rows, tags] 0/1 float32: 1 for each row's ``k`` highest scores (ties: the first tags).

        >>> top_k_labels(np.array([[0.1, 0.9, 0.5]]), 2).tolist()
        [[0.0, 1.0, 1.0]]
    """
    scores = np.asarray(scores)
    best = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    labels = np.zeros(scores.shape, np.float32)
    np.put_along_axis(labels, best, 1.0, axis=1)
    return labels
