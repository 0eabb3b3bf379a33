"""``python -m pretrained publish RUN...``: a distilled student's run folder into the shipped ``mtt-distilled`` weights.

For each run folder of ``python -m pretrained distil``:

1. its trained model's weights are written compact (``pretrained.mtt_distilled.write_compact_weights``:
   kernels as float16) to ``pretrained/weights/mtt-distilled/<model id>.weights.h5``;
2. the compact file, loaded as float32 into a freshly built model, must score the held-out tracks'
   patches within ``FLOAT16_TOLERANCE`` of the float32 student (else nothing is written);
3. its card (``cards.json``) records the teacher, the corpus, the recipe and cost, the agreement
   with the teacher on the held-out package beside the constant-prior floor, the float16 check,
   and ``check_scores``: the shipped weights' scores of ``check_signal()``, which the tests
   recompute on any machine.

The model-card page is written from the cards by ``python -m pretrained cards``.
"""
import json
import os
import platform

import numpy as np
import pandas as pd

from pretrained.mtt_distilled import (
    CARDS,
    FOLDER,
    load_compact_weights,
    read_cards,
    weights_path,
    write_cards,
    write_compact_weights,
)
from pretrained.tags import MTT_TAGS
from zoo.files import file_sha256

__all__ = ["CHECK_SECONDS", "FLOAT16_TOLERANCE", "PublishError", "check_signal", "constant_floor", "publish"]

FLOAT16_TOLERANCE = 1e-3  # the float16 file's scores against the float32 student's
CHECK_SECONDS = 3.0
CHECK_PATCHES = 64  # held-out patches the float16 check scores
SAMPLE_RATE = 16000


class PublishError(ValueError):
    """The run folder cannot be published (one line)."""


def check_signal(seconds=CHECK_SECONDS, sample_rate=SAMPLE_RATE):
    """A fixed 3 s test signal any machine can make: a chord of three harmonic tones over seeded
    noise; the card's ``check_scores`` are the shipped weights' scores of it."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    tones = sum(np.sin(2 * np.pi * f * k * t) / k for f in (220.0, 277.18, 329.63) for k in (1, 2, 3))
    noise = np.random.default_rng(25).standard_normal(t.shape)
    return (0.2 * tones / 3 + 0.02 * noise).astype(np.float32)


def _read_json(path):
    if not os.path.isfile(path):
        raise PublishError(f"{path} is missing: is {os.path.dirname(path)} a finished `python -m pretrained distil` "
                           "run folder?")
    with open(path) as handle:
        return json.load(handle)


def _split_scores(soft_csv, split):
    from zoo.datasets.soft_targets import read_targets

    rows = pd.read_csv(soft_csv)
    rows = rows[rows["split"] == split]
    return [(row.path, read_targets(row.targets)) for row in rows.itertuples()]


def constant_floor(soft_csv, held_out=None):
    """The agreement of a constant student, the mean teacher scores of the training patches, on the
    held-out patches (``held_out``: their ``_split_scores``, when already read): the floor a
    student's figures are read against."""
    from zoo.training.metrics import agreement

    train = np.concatenate([targets["scores"] for _, targets in _split_scores(soft_csv, "train")])
    test = np.concatenate([targets["scores"] for _, targets in held_out or _split_scores(soft_csv, "test")])
    return agreement(test, np.broadcast_to(train.mean(axis=0), test.shape))


def _held_out_patches(held_out, count=CHECK_PATCHES):
    """[count, samples] waveforms of the held-out tracks' first teacher patches (3 s each);
    ``held_out``: the test split's ``_split_scores``."""
    from zoo.audio.decoding import load_audio

    patches = []
    for path, targets in held_out:
        audio = load_audio(path)
        for start in targets["starts"][: count - len(patches)]:
            patch = audio[start:start + int(CHECK_SECONDS * SAMPLE_RATE)]
            patches.append(np.pad(patch, (0, int(CHECK_SECONDS * SAMPLE_RATE) - len(patch))))
        if len(patches) >= count:
            break
    return np.stack(patches).astype(np.float32)


def _machine():
    model = ""
    if os.path.isfile("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as handle:
            model = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), "")
    return f"{os.cpu_count()}-core {model or platform.processor() or platform.machine()}, no GPU"


def _licences(corpus):
    trained = corpus[corpus["split"] != "test"]
    return ", ".join(sorted({part.strip() for value in trained["licence"] for part in str(value).split(",")}))


def _card(run, model_id, summary, history, sha256, size, floor, float16_diff, check_scores):
    from pretrained.distillation.corpus import read_corpus
    from zoo.models.registry import VARIABLE, resolve

    corpus = read_corpus(os.path.join(run, "corpus.csv"))
    settings = _read_json(os.path.join(run, "run.json"))
    trained = corpus[corpus["split"] == "train"]
    packages = sorted(trained["package"].unique())
    last = history.iloc[-1]
    return {
        "model": model_id,
        "weights_file": os.path.basename(weights_path(model_id)),
        "sha256": sha256,
        "bytes": size,
        "teacher": summary["teacher"],
        "trained_on": f"{summary['teacher']}'s scores on {trained['seconds'].sum() / 3600:.2f} h of free game music "
                      f"from Debian ({', '.join(packages)}), distilled",
        "frontend": ("musicnn's MTT front-end, frozen" if summary["freeze"] == "frontend" else
                     "musicnn's MTT front-end, trained on" if summary["frontend"] != "random" else
                     "random start, trained"),
        "recipe": {"name": settings["recipe.name"], "epochs": int(settings["recipe.epochs"]),
                   "batch_size": int(settings["recipe.batch_size"]),
                   "learning_rate": settings["recipe.phases"][0]["learning_rate"], "seed": settings["seed"]},
        "training_seconds": round(float(summary["training_seconds"]), 1),
        "machine": _machine(),
        "corpus": summary["corpus"],
        "corpus_licences": _licences(corpus),
        "train_hours": round(float(trained["seconds"].sum() / 3600), 2),
        "held_out": summary["held_out"],
        "agreement": {
            "top5_overlap": round(float(summary["top5_overlap"]), 4),
            "micro_roc_auc_top5": round(float(summary["micro_roc_auc_top5"]), 4),
            "held_out_patches": int(summary["held_out_patches"]),
            "valid_top5_overlap": round(float(last["val_top5_overlap"]), 4),
            "valid_micro_roc_auc_top5": round(float(last["val_micro_roc_auc_top5"]), 4),
            "constant_top5_overlap": round(floor["top5_overlap"], 4),
            "constant_micro_roc_auc_top5": round(floor["micro_roc_auc_top5"], 4),
        },
        "float16_max_abs_diff": float(f"{float16_diff:.3g}"),
        # a fixed-length back-end's weights fit the training input only: tagging cuts patches of it
        "input_samples": (None if resolve(model_id).back.length_policy == VARIABLE
                          else int(CHECK_SECONDS * SAMPLE_RATE)),
        "check_scores": [round(float(value), 6) for value in check_scores],
    }


def publish(run, folder=FOLDER, log=print):
    """Publishes the distilled student of run folder ``run`` into ``folder``; returns its card."""
    import zoo
    from zoo.models.builder import create_model

    run = os.path.abspath(os.fspath(run))
    summary = _read_json(os.path.join(run, "distillation.json"))
    model_id = summary["student"]
    student = zoo.load(run)
    if student.input_shape[1:] != (int(CHECK_SECONDS * SAMPLE_RATE),):
        raise PublishError(f"{run}: the student takes {student.input_shape[1:]}, not 3 s of 16 kHz audio")
    if tuple(zoo.tag_names(student)) != MTT_TAGS:
        raise PublishError(f"{run}: the student's tags are not MTT's 50 in musicnn's order")
    soft = os.path.join(run, "soft_targets.csv")
    path = weights_path(model_id, folder)
    os.makedirs(folder, exist_ok=True)
    write_compact_weights(student, path)
    shipped = load_compact_weights(create_model(model_id, tag_names=MTT_TAGS), path)
    held_out = _split_scores(soft, "test")
    patches = _held_out_patches(held_out)
    diff = float(np.abs(shipped.predict(patches, verbose=0) - student.predict(patches, verbose=0)).max())
    if diff > FLOAT16_TOLERANCE:
        os.remove(path)
        raise PublishError(f"{model_id}: float16 weights score up to {diff:.2g} away from the float32 student "
                           f"(tolerance {FLOAT16_TOLERANCE}); not published")
    check = shipped.predict(check_signal()[None], verbose=0)[0]
    history = pd.read_csv(os.path.join(run, "history.csv"))
    card = _card(run, model_id, summary, history, file_sha256(path), os.path.getsize(path),
                 constant_floor(soft, held_out), diff, check)
    cards = read_cards(os.path.join(folder, CARDS.name))
    cards[model_id] = {**cards.get(model_id, {}), **card}
    write_cards(cards, os.path.join(folder, CARDS.name))
    log(f"{model_id}: {path} ({card['bytes'] / 1e6:.2f} MB), float16 max diff {diff:.2g}, top-5 overlap "
        f"{card['agreement']['top5_overlap']:.3f}, micro ROC-AUC {card['agreement']['micro_roc_auc_top5']:.3f}")
    return card
