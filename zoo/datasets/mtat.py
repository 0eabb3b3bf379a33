"""MagnaTagATune (MTAT) for those who have it on disk, as a ``TaggingDataset``.

Expected layout (as distributed): ``<root>/annotations_final.csv``, tab-separated, with columns
``clip_id``, 188 tag columns of 0/1 and ``mp3_path``; the clips at ``<root>/<mp3_path>``, in
sixteen folders ``0`` ... ``f``. Clips are 16 kHz mono mp3s of about 29.1 s.

Tags: the ``n_tags`` (50) most frequent over the whole file, the usual top-50 vocabulary.

Split: by folder, the convention of Dieleman & Schrauwen (ICASSP 2014) reused by many later
papers: folders 0-b train, c valid, d-f test. It is not the filtered list split of Lee et al.
(2017) / Won et al. (2020), which drops clips without a top-50 tag; ``drop_untagged=True``
drops those too, but the folder assignment stays. Scores are comparable only within one split.

Tag groups (``MTAT_TAG_GROUPS``) are our own judgement, not part of the dataset: instrument and
voice tags -> "timbre", tempo/beat tags -> "temporal", genres -> "genre" (they mix timbre and
rhythm), the rest (mood, loudness, "solo") -> "other"; a tag missing from the table is "other".
"""
import os

import pandas as pd

from .tagging_dataset import TaggingDataset

__all__ = ["MTAT_ANNOTATIONS", "MTAT_FOLDER_SPLITS", "MTAT_TAG_GROUPS", "load_mtat", "top_tags"]

MTAT_ANNOTATIONS = "annotations_final.csv"
MTAT_SAMPLE_RATE = 16000
MTAT_CLIP_SECONDS = 29.1
MTAT_FOLDER_SPLITS = {
    **{folder: "train" for folder in "0123456789ab"},
    "c": "valid",
    **{folder: "test" for folder in "def"},
}
_GROUP_MEMBERS = {
    "timbre": (
        "guitar", "strings", "drums", "piano", "violin", "synth", "harpsichord", "flute", "sitar",
        "harp", "cello", "vocal", "female", "male", "singing", "vocals", "no vocals", "woman",
        "male vocal", "no vocal", "man", "choir", "voice", "male voice", "female vocal", "no voice",
        "female voice", "choral",
    ),
    "temporal": ("slow", "fast", "beat", "beats"),
    "genre": (
        "classical", "techno", "electronic", "rock", "ambient", "indian", "opera", "pop", "classic",
        "new age", "dance", "country", "metal",
    ),
    "other": ("loud", "quiet", "soft", "weird", "solo"),
}
MTAT_TAG_GROUPS = {tag: group for group, tags in _GROUP_MEMBERS.items() for tag in tags}
_NON_TAG_COLUMNS = ("clip_id", "mp3_path")


def load_mtat(root, n_tags=50, skip_missing=True, drop_untagged=False):
    """MTAT under ``root`` with its ``n_tags`` most frequent tags and the folder split.

    skip_missing: drop rows whose mp3 is absent or empty (the distributed set has a few empty
    files), recording how many in ``info["skipped_missing"]``; otherwise keep them.
    """
    raw = pd.read_csv(os.path.join(root, MTAT_ANNOTATIONS), sep="\t")
    tags = top_tags(raw, n_tags)
    annotations = pd.DataFrame({"path": raw["mp3_path"], "split": raw["mp3_path"].map(_split_of)})
    annotations = pd.concat([annotations, raw[list(tags)].astype("int8")], axis=1)
    annotations, skipped = _without_missing(root, annotations) if skip_missing else (annotations, 0)
    if drop_untagged:
        annotations = annotations[annotations[list(tags)].any(axis=1)]
    return TaggingDataset(
        name="mtat",
        root=os.fspath(root),
        annotations=annotations.reset_index(drop=True),
        tags=tags,
        tag_groups={tag: MTAT_TAG_GROUPS.get(tag, "other") for tag in tags},
        sample_rate=MTAT_SAMPLE_RATE,
        clip_seconds=MTAT_CLIP_SECONDS,
        info={"skipped_missing": skipped, "clips_in_file": len(raw)},
    )


def top_tags(raw, n_tags):
    """The ``n_tags`` most frequent tag columns, most frequent first (ties: file order)."""
    tag_columns = [c for c in raw.columns if c not in _NON_TAG_COLUMNS]
    counts = raw[tag_columns].sum(axis=0)
    return tuple(counts.sort_values(ascending=False, kind="stable").index[:n_tags])


def _split_of(mp3_path):
    folder = mp3_path.split("/", 1)[0]
    if folder not in MTAT_FOLDER_SPLITS:
        raise ValueError(f"{mp3_path!r} is not under one of the folders 0-f")
    return MTAT_FOLDER_SPLITS[folder]


def _without_missing(root, annotations):
    present = annotations["path"].map(lambda path: _non_empty_file(os.path.join(root, path))).astype(bool)
    return annotations[present], int((~present).sum())


def _non_empty_file(path):
    return os.path.isfile(path) and os.path.getsize(path) > 0
