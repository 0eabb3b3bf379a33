"""What every tagging dataset looks like: ``TaggingDataset``."""
import os
from dataclasses import dataclass, field

import numpy as np

__all__ = ["SPLITS", "TaggingDataset"]

SPLITS = ("train", "valid", "test")


@dataclass
class TaggingDataset:
    """A multi-label audio tagging set on disk.

    ``annotations`` has columns ``path`` (relative to ``root``), ``split`` (one of ``SPLITS``)
    and one 0/1 column per tag of ``tags``; ``tag_groups`` maps each tag to its group.
    """

    name: str
    root: str
    annotations: object  # pandas.DataFrame
    tags: tuple
    tag_groups: dict
    sample_rate: int
    clip_seconds: float  # nominal length of a clip
    info: dict = field(default_factory=dict)

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
