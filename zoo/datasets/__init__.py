"""Tagging datasets behind one interface, opened by name (``DATASET_READERS``).

- ``gm``: a General-MIDI music-tagging set rendered on this machine (``gm``, ``gm_plan``,
  ``fluidsynth``); ``gm:TRAIN,VALID,TEST`` sets the clip counts.
- ``mtat:PATH``: MagnaTagATune in its distributed layout (``mtat``).
- ``manifest:PATH.csv``: the user's own labelled audio (``manifest``).
- ``soft:PATH.csv``: audio with a teacher's scores per patch, for distillation (``soft_targets``).
- ``decoded_audio``: the user's files decoded once into the zoo cache (manifest and soft).
- ``tagging_dataset``: ``TaggingDataset``, what every reader returns.
- ``pipeline``: ``make_dataset``, the one tf.data input pipeline (decodes with libsndfile).

A dataset is named by a spec dict (JSON-able, so worker processes can reopen it) that
``parse_dataset`` makes from the command-line form.

May import: ``zoo.audio``, ``zoo.conversion``, ``zoo.models`` and the floors below them.
"""
import os

__all__ = ["DATASET_READERS", "GM_DEFAULT_CLIPS", "open_dataset", "parse_dataset"]

GM_DEFAULT_CLIPS = (400, 80, 160)  # train / valid / test 10 s clips: the benchmark's default preset


def _gm_spec(argument, seed, data_root):
    clips = GM_DEFAULT_CLIPS
    if argument:
        try:
            clips = tuple(int(n) for n in argument.split(","))
        except ValueError:
            clips = ()
        if len(clips) != 3 or min(clips) < 1:
            raise ValueError(f"gm:{argument}: expected gm:TRAIN,VALID,TEST with three positive clip counts")
    from zoo.cache import cache_dir

    root = data_root or str(cache_dir("datasets"))
    return {"kind": "gm", "root": root, "clips": list(clips), "seed": seed}


def _path_spec(kind):
    def spec(argument, seed, data_root):
        if not argument:
            raise ValueError(f"{kind}: needs a path, as in {kind}:PATH")
        return {"kind": kind, "path": os.path.abspath(os.path.expanduser(argument)), "seed": seed}

    return spec


def _open_gm(spec, progress, skip_bad_files):
    from zoo.datasets.gm import make_gm_dataset

    n_train, n_valid, n_test = spec["clips"]
    return make_gm_dataset(spec["root"], n_train, n_valid, n_test, seed=spec["seed"], progress=progress)


def _open_mtat(spec, progress, skip_bad_files):
    from zoo.datasets.mtat import load_mtat

    return load_mtat(spec["path"])


def _open_manifest(spec, progress, skip_bad_files):
    from zoo.datasets.manifest import load_manifest

    return load_manifest(spec["path"], seed=spec.get("seed", 0), skip_bad_files=skip_bad_files, progress=progress)


def _open_soft(spec, progress, skip_bad_files):
    from zoo.datasets.soft_targets import load_soft_targets

    return load_soft_targets(spec["path"], progress=progress)


# kind -> (command-line argument -> spec, spec -> TaggingDataset)
DATASET_READERS = {
    "gm": (_gm_spec, _open_gm),
    "mtat": (_path_spec("mtat"), _open_mtat),
    "manifest": (_path_spec("manifest"), _open_manifest),
    "soft": (_path_spec("soft"), _open_soft),
}


def parse_dataset(text, seed=0, data_root=None):
    """The spec dict of ``gm[:T,V,T]``, ``mtat:PATH``, ``manifest:PATH.csv`` or ``soft:PATH.csv``."""
    kind, _, argument = str(text).partition(":")
    if kind not in DATASET_READERS:
        raise ValueError(f"unknown dataset {text!r}; expected one of gm, mtat:PATH, manifest:PATH.csv, soft:PATH.csv")
    return DATASET_READERS[kind][0](argument, seed, data_root)


def open_dataset(spec, progress=False, skip_bad_files=False):
    """The ``TaggingDataset`` a spec dict (see ``parse_dataset``) names."""
    if spec["kind"] not in DATASET_READERS:
        raise ValueError(f"unknown dataset kind {spec['kind']!r}; expected one of {sorted(DATASET_READERS)}")
    return DATASET_READERS[spec["kind"]][1](spec, progress, skip_bad_files)
