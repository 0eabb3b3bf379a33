"""The ``mtt-distilled`` weights: musicnn's MTT judgements distilled onto the grid, shipped in the package.

Every student of ``python -m pretrained distil`` that was published (``python -m pretrained
publish``) lies in ``pretrained/weights/mtt-distilled/``: ``<model id>.weights.h5`` (Keras' own
layout; kernels stored as float16, biases and batch-norm values as float32, gzip) and one model
card per student in ``cards.json`` (teacher, corpus, recipe, cost, agreement with the teacher,
probe and fine-tuning figures). The weights load as float32 with nothing downloaded; each file
is checked against its card's sha256 before it is read.

    >>> import zoo
    >>> model = zoo.load("maxpool-vertical-horizontal", weights="mtt-distilled")  # doctest: +SKIP
    >>> zoo.list_weights("maxpool-vertical-horizontal")                           # doctest: +SKIP

docs/mtt-distilled.md is the cards as a page (``python -m pretrained cards``).
"""
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pretrained.musicnn import LICENCE as TEACHER_LICENCE
from pretrained.musicnn import SAMPLE_RATE
from pretrained.tags import MTT_TAGS
from zoo.files import atomic_path, file_sha256
from zoo.weights import WeightsEntry, load_weights_file

__all__ = ["CARDS", "FOLDER", "WEIGHTS_NAME", "ShippedWeightsError", "load_compact_weights", "read_cards",
           "weights_entries", "weights_path", "write_cards", "write_compact_weights"]

WEIGHTS_NAME = "mtt-distilled"
FOLDER = Path(__file__).resolve().parent / "weights" / WEIGHTS_NAME
CARDS = FOLDER / "cards.json"
COMPACT_DTYPE = "float16"  # kernels (2 or more dimensions); 1-D values (biases, batch norms) stay float32


class ShippedWeightsError(RuntimeError):
    """A shipped weights file is missing or not the one its card names (one line)."""


def weights_path(model_id, folder=FOLDER):
    return Path(folder) / f"{model_id}.weights.h5"


def read_cards(path=CARDS):
    """{model id: card dict} of the published students ({} when none is)."""
    path = Path(path)
    if not path.is_file():
        return {}
    with open(path) as handle:
        return json.load(handle)


def write_cards(cards, path=CARDS):
    with atomic_path(os.fspath(path)) as temporary:
        with open(temporary, "w") as handle:
            json.dump(dict(sorted(cards.items())), handle, indent=1, sort_keys=True)
            handle.write("\n")


def _copy_cast(source, target, dtype_of):
    """Copies the h5 file ``source`` into a new file ``target``, each dataset in the dtype
    ``dtype_of(dataset)`` returns (None: its own), gzip-compressed. A new file, because HDF5
    keeps the space of a dataset deleted in place."""
    import h5py

    with h5py.File(source, "r") as old, h5py.File(target, "w") as new:
        new.attrs.update(old.attrs)

        def copy(name, item):
            if isinstance(item, h5py.Group):
                new.require_group(name).attrs.update(item.attrs)
                return
            dtype = dtype_of(item)
            values = item[()] if dtype is None else item[()].astype(dtype)
            chunked = getattr(values, "ndim", 0) >= 1 and values.size > 1
            copied = new.create_dataset(name, data=values, **({"compression": "gzip", "compression_opts": 9}
                                                              if chunked else {}))
            copied.attrs.update(item.attrs)

        old.visititems(copy)


def write_compact_weights(model, path):
    """``model.save_weights(path)`` with its kernels stored as float16, atomically; returns the path."""
    path = os.fspath(path)

    def compact(dataset):
        return COMPACT_DTYPE if dataset.dtype == "float32" and dataset.ndim >= 2 else None

    with atomic_path(path) as temporary:
        keras_name = temporary + ".weights.h5"  # Keras insists on the suffix
        try:
            model.save_weights(keras_name)
            _copy_cast(keras_name, temporary, compact)
        finally:
            if os.path.exists(keras_name):
                os.remove(keras_name)
    return path


def load_compact_weights(model, path):
    """Loads a file of ``write_compact_weights`` into ``model`` as float32; returns ``model``."""
    with tempfile.TemporaryDirectory() as folder:
        copy = os.path.join(folder, "float32.weights.h5")
        _copy_cast(os.fspath(path), copy, lambda dataset: "float32" if dataset.dtype == COMPACT_DTYPE else None)
        return load_weights_file(model, copy)


@dataclass(frozen=True)
class _ShippedFile:
    """load_into of an entry: the card's file, checked against the card's sha256."""

    path: str
    sha256: str

    def __call__(self, model):
        if not os.path.isfile(self.path):
            raise ShippedWeightsError(f"{self.path} is missing: reinstall the package (pip install -e .)")
        if file_sha256(self.path) != self.sha256:
            raise ShippedWeightsError(f"{self.path} is damaged (its sha256 is not its card's in {CARDS.name}): "
                                      "restore it (git checkout) or reinstall the package")
        return load_compact_weights(model, self.path)


def weights_entries(folder=FOLDER):
    """One registry entry per published student (entry point ``audio_zoo.weights``, setup.py)."""
    folder = Path(folder)
    entries = []
    for model_id, card in read_cards(folder / CARDS.name).items():
        agreement = card["agreement"]
        entries.append(WeightsEntry(
            model_id, WEIGHTS_NAME, MTT_TAGS, _ShippedFile(os.fspath(weights_path(model_id, folder)), card["sha256"]),
            trained_on=card["trained_on"],
            reported={"top5_overlap": agreement["top5_overlap"],
                      "micro_roc_auc_top5": agreement["micro_roc_auc_top5"]},
            licence=f"weights: {TEACHER_LICENCE} (the teacher's); corpus: {card['corpus_licences']}",
            source=f"pretrained/weights/{WEIGHTS_NAME}/{model_id}.weights.h5, distilled from {card['teacher']} "
                   f"(docs/mtt-distilled.md)",
            sample_rate=SAMPLE_RATE, content_hash=card["sha256"], input_samples=card.get("input_samples")))
    return entries
