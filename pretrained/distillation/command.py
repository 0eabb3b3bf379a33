"""``python -m pretrained distil``: a zoo model trained on a teacher's scores over the Debian corpus.

    python -m pretrained distil --student maxpool-vertical-horizontal --teacher musicnn:mtt \\
        --out runs/distil/maxpool-vertical-horizontal --epochs 8 --freeze frontend

Four steps, each resumable, the same command to start and to resume:

1. the corpus manifest (``corpus``), written to ``OUT/corpus.csv``; a rerun on a changed
   corpus (other tracks, versions or split) into the same ``OUT`` is refused;
2. the teacher's scores per 3 s patch of every track (``teacher``), cached per track in the zoo
   cache and shared by every student; ``OUT/soft_targets.csv`` lists them;
3. the student trained on them by the zoo's one trainer (``zoo.train`` on ``soft:OUT/soft_targets.csv``:
   binary cross-entropy against the teacher's scores on each patch; kill -9 and rerun resumes
   after the last finished epoch, as zoo-train does);
4. its agreement with the teacher on the held-out package, per 3 s patch (top-5 overlap, micro
   ROC-AUC against the teacher's top-5 tags): in ``OUT/metrics.json`` (the trainer's test split)
   and, with the corpus and the run's cost, ``OUT/distillation.json``.
"""
import json
import os
import time

from pretrained.distillation.corpus import HELD_OUT, build_corpus, corpus_table, read_corpus, write_corpus
from pretrained.distillation.frontend import FRONTEND, register_frontend_weights
from pretrained.distillation.teacher import DEFAULT_TEACHER, teacher_targets, write_soft_targets
from zoo.files import atomic_path

__all__ = ["DistillationError", "FRONTEND_CHOICES", "distil"]

FRONTEND_CHOICES = ("teacher", "random")  # where a student's front-end starts
SUMMARY = "distillation.json"
# What makes two corpora the same for a run: the tracks, their bytes, packages' versions and the split.
_SAME_CORPUS = ["track", "version", "sha256", "split"]


class DistillationError(ValueError):
    """The distillation cannot run as asked (one line)."""


def _check_same_corpus(path, corpus):
    if not os.path.isfile(path):
        return
    recorded = read_corpus(path)
    if recorded[_SAME_CORPUS].astype(str).values.tolist() != corpus[_SAME_CORPUS].astype(str).values.tolist():
        raise DistillationError(f"{path} records another corpus than the installed packages give now (tracks, "
                                "versions or split changed); distil into another --out")


def _frontend_start(student, frontend, freeze):
    """The weights name the student starts from (None: random), after checking the options agree."""
    from zoo.models.registry import resolve

    resolved = resolve(student)
    if frontend is None:
        frontend = "teacher" if resolved.front.name == FRONTEND else "random"
    if frontend not in FRONTEND_CHOICES:
        raise DistillationError(f"--frontend {frontend!r}: expected one of {', '.join(FRONTEND_CHOICES)}")
    if freeze == "frontend" and frontend != "teacher":
        raise DistillationError(f"--freeze frontend holds the front-end still: it must start from the teacher's "
                                f"(--frontend teacher, {FRONTEND!r} students only), not from random weights")
    return resolved.model_id, (register_frontend_weights(resolved.model_id) if frontend == "teacher" else None)


def _write_json(path, value):
    with atomic_path(path) as temporary:
        with open(temporary, "w") as handle:
            json.dump(value, handle, indent=2, default=float)


def distil(student, out, *, teacher=DEFAULT_TEACHER, epochs=None, batch_size=None, learning_rate=None, freeze=None,
           frontend=None,
           recipe="default", seed=0, packages=None, held_out=HELD_OUT, root="/", cache_root=None, runtime="onnx",
           log=print):
    """Distil ``teacher`` into the zoo model ``student`` in the run folder ``out``; returns the summary dict.

    Args:
        student: zoo model id or alias; built for 16 kHz audio and the teacher's tag names.
        out: the run folder (``zoo.train``'s ``out_dir``), also holding corpus.csv, soft_targets.csv
            and distillation.json.
        teacher: ``ID:WEIGHTS`` of registered weights (musicnn's MTT by default).
        epochs, batch_size, learning_rate, recipe, seed: as ``zoo.train`` takes them (recipe "default").
        freeze: None or "frontend" (with ``frontend="teacher"``).
        frontend: "teacher" (musicnn's MTT front-end: the default for vertical-horizontal students)
            or "random" (the default for the others).
        packages, held_out, root: the corpus (``corpus.build_corpus``).
        cache_root: where archive members and the teacher's scores are cached (default: the zoo cache).
        runtime: the teacher's tagging runtime.
    """
    import zoo

    out = os.path.abspath(os.fspath(out))
    model_id, weights = _frontend_start(student, frontend, freeze)
    archives = os.path.join(cache_root, "archives") if cache_root else None
    corpus = build_corpus(packages, held_out, root=root, seed=seed, archive_root=archives)
    os.makedirs(out, exist_ok=True)
    _check_same_corpus(os.path.join(out, "corpus.csv"), corpus)
    write_corpus(corpus, os.path.join(out, "corpus.csv"))
    started = time.perf_counter()
    targets = teacher_targets(corpus, teacher, cache_root, runtime)
    teacher_seconds = time.perf_counter() - started
    soft = os.path.join(out, "soft_targets.csv")
    write_soft_targets(corpus, targets, soft)
    log(f"distilling {teacher} into {model_id} on {len(corpus)} tracks ({corpus['seconds'].sum() / 3600:.2f} h), "
        f"held out: {', '.join(held_out)}; front-end: {weights or 'random'}" + (", frozen" if freeze else ""))
    result = zoo.train(model_id, f"soft:{soft}", out_dir=out, recipe=recipe, epochs=epochs, batch_size=batch_size,
                       learning_rate=learning_rate, weights=weights, freeze=freeze, seed=seed)
    metrics = result.metrics
    summary = {
        "student": model_id, "teacher": teacher, "frontend": weights or "random", "freeze": freeze,
        "held_out": list(held_out),
        "top5_overlap": metrics.get("top5_overlap"), "micro_roc_auc_top5": metrics.get("micro_roc_auc_top5"),
        "held_out_patches": metrics.get("clips"), "best_epoch": metrics.get("best_epoch"),
        "epochs_trained": metrics.get("epochs_trained"),
        "training_seconds": float(sum(row.get("seconds", 0.0) + row.get("checkpoint_seconds", 0.0)
                                      for row in result.history)),
        "teacher_seconds_this_run": teacher_seconds,
        "corpus": corpus_table(corpus).to_dict("records"),
    }
    _write_json(os.path.join(out, SUMMARY), summary)
    log(f"agreement with {teacher} on {', '.join(held_out)} ({summary['held_out_patches']} patches of 3 s): "
        f"top-5 overlap {summary['top5_overlap']:.3f}, micro ROC-AUC {summary['micro_roc_auc_top5']:.3f}; "
        f"{os.path.join(out, SUMMARY)}")
    return summary
