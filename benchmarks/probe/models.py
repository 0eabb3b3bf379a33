"""The models a probe compares: zoo model names, each pretrained one with its random-weights twin.

A twin has the architecture of its model and freshly initialised weights (Keras' initialisers,
seeded): Pons & Serra (ICASSP 2019) showed that random CNN features are a strong baseline, so a
pretrained model's probe score means something only beside its twin's. A twin is a ``.keras``
file (a run folder's twin a run folder, so that it keeps the training crop), made once under the
probe's output folder and named after its model's content and the seed.

    >>> rows = probe_models(["musicnn:mtt"], twins_dir="out/twins")
    >>> [(row.label, row.kind) for row in rows]
    [('musicnn:mtt', 'pretrained'), ('musicnn:mtt (random twin)', 'random twin')]
"""
import json
import os
from dataclasses import dataclass

from zoo.files import atomic_path
from zoo.models.model_files import MODEL_FILE, RUN_SETTINGS, is_model_path, model_file, split_model_name

__all__ = ["PRETRAINED", "RANDOM_TWIN", "ProbeModel", "identity", "probe_models"]

PRETRAINED = "pretrained"
RANDOM_TWIN = "random twin"


@dataclass(frozen=True)
class ProbeModel:
    label: str  # how the tables name it
    name: str  # the zoo model name the embeddings are computed with
    kind: str  # PRETRAINED or RANDOM_TWIN
    of: str  # the label of the pretrained model a twin stands beside (its own for a pretrained one)


def identity(name):
    """What a model name's embeddings depend on: its weights' or file's content."""
    from zoo.weights import resolve_weights

    if is_model_path(name):
        return "file-" + model_file(name).content_hash()[:32]
    from zoo.tagging.analyser import DEFAULT_WEIGHTS, pretrained_model

    model, weights = split_model_name(name)
    weights = weights or DEFAULT_WEIGHTS
    model_id = pretrained_model(model, weights)[0]
    return f"{model_id}-{weights}-{resolve_weights(model_id, weights).content_hash[:16]}"


def _pretrained_network(name):
    """(Keras model, run settings or None) of a model name, built as tagging builds it."""
    import zoo
    from zoo.tagging.analyser import DEFAULT_WEIGHTS, _patching
    from zoo.weights import resolve_weights

    if is_model_path(name):
        described = model_file(name)
        settings = None
        if described.run_folder:
            with open(os.path.join(described.run_folder, RUN_SETTINGS)) as handle:
                settings = json.load(handle)
        return zoo.load(described.path), settings
    model, weights = split_model_name(name)
    weights = weights or DEFAULT_WEIGHTS
    from zoo.models.registry import FIXED, resolve

    resolved = resolve(model)
    entry = resolve_weights(resolved.model_id, weights)
    # A fixed-length back-end: the input its weights were trained on, else tagging's patch length
    # (musicnn's 187 frames); any length otherwise.
    seconds = ((entry.input_samples or _patching(None, None).samples) / 16000
               if resolved.back.length_policy == FIXED else None)
    return zoo.load(resolved.model_id, weights=weights, input_seconds=seconds), None


def _save(model, path):
    with atomic_path(path) as temporary:
        model.save(temporary + ".keras")  # Keras saves to names ending in .keras only
        os.replace(temporary + ".keras", temporary)


def _make_twin(name, path, seed):
    import keras

    network, settings = _pretrained_network(name)
    keras.utils.set_random_seed(seed)
    twin = keras.models.clone_model(network)  # the same layers, initialised afresh
    if settings is None:
        _save(twin, path)
        return
    os.makedirs(path, exist_ok=True)
    _save(twin, os.path.join(path, MODEL_FILE))
    with atomic_path(os.path.join(path, RUN_SETTINGS)) as temporary, open(temporary, "w") as handle:
        json.dump(settings, handle)


def _twin(name, twins_dir, seed):
    key = f"{identity(name)}-seed{seed}"
    is_run = is_model_path(name) and model_file(name).run_folder is not None
    path = os.path.join(twins_dir, key if is_run else f"{key}.keras")
    finished = os.path.isfile(os.path.join(path, RUN_SETTINGS)) if is_run else os.path.isfile(path)
    if not finished:
        os.makedirs(twins_dir, exist_ok=True)
        _make_twin(name, path, seed)
    return path


def probe_models(names, *, twins_dir, twins=True, seed=0):
    """``ProbeModel`` rows: each name, followed by its random twin (``twins``)."""
    rows = []
    for name in names:
        label = os.path.basename(os.path.normpath(name)) if is_model_path(name) else name
        rows.append(ProbeModel(label, name, PRETRAINED, label))
        if twins:
            rows.append(ProbeModel(f"{label} (random twin)", str(_twin(name, twins_dir, seed)), RANDOM_TWIN, label))
    return rows
