"""What every tagging dataset of the benchmark looks like, and atomic file writes."""
import os
import threading
from dataclasses import dataclass, field

import numpy as np

__all__ = ["SPLITS", "TaggingDataset", "atomic_path", "write_csv_atomically"]

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


class atomic_path:
    """``with atomic_path(final) as temporary:`` write to ``temporary``; on success it replaces
    ``final`` in one step, so a reader (or a resumed run) never sees a half-written file."""

    def __init__(self, final_path):
        self.final_path = final_path

    def __enter__(self):
        # Named per process and thread rather than by mkstemp, whose 0600 mode would stick.
        directory, name = os.path.split(self.final_path)
        unique = f"{os.getpid()}-{threading.get_ident()}"
        self.temporary = os.path.join(directory, f".{name}.{unique}.partial")
        return self.temporary

    def __exit__(self, error_type, error, traceback):
        if error_type is None:
            os.replace(self.temporary, self.final_path)
        elif os.path.exists(self.temporary):
            os.remove(self.temporary)
        return False


def write_csv_atomically(frame, path):
    with atomic_path(path) as temporary:
        frame.to_csv(temporary, index=False)
