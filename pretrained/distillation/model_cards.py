"""The model cards of the ``mtt-distilled`` weights as one page (docs/mtt-distilled.md), written from cards.json.

    python -m pretrained cards        # after `python -m pretrained publish`; the tests check the page is current
    python -m pretrained cards --probe benchmarks/results/probe-distilled/scores.csv \
        --fine-tuning benchmarks/results/fine-tuning/gain.csv     # the evaluations into the cards too

The evaluations come from the benchmarks' output files (``python -m benchmarks.probe`` and
``python -m benchmarks.fine_tuning_gain``), read as CSV: nothing here imports ``benchmarks``.
"""
import os
from pathlib import Path

import pandas as pd

from pretrained.distillation.corpus import markdown
from pretrained.mtt_distilled import WEIGHTS_NAME, read_cards
from zoo.files import atomic_path

__all__ = ["PAGE", "add_evaluations", "page", "write_page"]

PAGE = Path(__file__).resolve().parents[2] / "docs" / f"{WEIGHTS_NAME}.md"
# Evaluations are kept to 6 decimals in cards.json: the page shows 3, and 4 would round twice.
STORED_DECIMALS = 6

INTRO = f"""# `{WEIGHTS_NAME}`: pretrained weights for the grid, distilled from musicnn

<!-- Written by `python -m pretrained cards` from pretrained/weights/{WEIGHTS_NAME}/cards.json:
     edit those, not this. -->

Models of the grid other than musicnn and VGG come with weights named `{WEIGHTS_NAME}`: each is a
*student* trained to give the scores musicnn's MagnaTagATune checkpoint (the *teacher*) gives,
on free game music from Debian's archive ([distillation.md](distillation.md) is the recipe). They
tag with MTT's 50 tag names at 16 kHz and load offline from the package:

```python
import zoo
model = zoo.load("maxpool-vertical-horizontal", weights="{WEIGHTS_NAME}")
zoo.tag("song.mp3", model="musicnn-sample-level:{WEIGHTS_NAME}")
```

and everywhere else weights are taken: `zoo-tag --model ID:{WEIGHTS_NAME}`, taggrams and
embeddings, `zoo.hear.load_model("ID:{WEIGHTS_NAME}")`, `zoo-export`, Beam, fine-tuning
(`zoo-train --weights={WEIGHTS_NAME}`), on TensorFlow, JAX and PyTorch. `zoo.list_weights()` shows
them with their teacher, corpus and agreement figures.

## Intended use and limits

- **What a student knows:** an approximation of musicnn MTT's judgements on the kind of music it
  was distilled on. It has never seen a MagnaTagATune label: where the teacher is wrong, the
  student is wrong the same way, and its MTT scores are not comparable with figures of models
  trained on MTT's labels.
- **The corpus is game music** (orchestral, electronic, ambient, some rock and metal; almost no
  singing). Tags the corpus hardly holds (vocals, opera, sitar, country) are learned from few
  patches: trust them less, and check on your own music before relying on a tag.
- **Good uses:** tagging with architectures other than musicnn's, comparing architectures on
  equal terms (same teacher, data and budget), starting fine-tuning from somewhere better than
  random weights, embeddings for linear probes.
- **Short budgets:** each student was trained for the epochs its row gives on a 2-core CPU; the
  validation figures were still rising. They are a start, not converged models.
- **Licence:** the weights derive from musicnn's ISC-licensed checkpoint and were trained on music
  under the licences below (GPL-2+, CC-BY-SA-3.0, CC-BY-3.0, a BSD-like licence, public domain);
  the weights themselves contain no audio.

## How to read the agreement figures

Per 3 s patch of the held-out package (never trained or validated on), the **top-5 overlap** is
the share of the teacher's 5 best tags among the student's 5 best, and the **micro ROC-AUC**
ranks every student score, all patches and tags pooled, against the teacher's top 5. On this
music the teacher's top 5 is mostly the same few tags (electronic, synth, techno), so the
**constant** row (the mean teacher scores of the training patches, the same for every patch) is
the floor to read a student against: what it adds is its distance above that row.
"""


PROBE_TEXT = """`python -m benchmarks.probe` on its default tasks (rendered General-MIDI instrument families and
tempo, espeak-ng speech / music / noise; [embeddings.md](embeddings.md)): frozen scene embeddings,
HEAR's MLP, 3 seeds. Each cell: the student / its random-weights twin (the same architecture,
freshly initialised, front-end included), and the difference. Tempo is at chance (1/3, with a
standard deviation of about 0.1 over the folds) for every model probed with the MLP, students and
twins alike: read its differences as noise. A row marked with another classifier was probed with
it: the dense student's embedding, musicnn's whole front-end map flattened (105,468 values), is too
wide for the MLP on 2 cores. Full tables with the spreads:
[probe-distilled/results.md](../benchmarks/results/probe-distilled/results.md),
[probe-distilled-dense/results.md](../benchmarks/results/probe-distilled-dense/results.md)."""

FINE_TUNING_TEXT = f"""The benchmark's `fine-tuning` preset (rendered General-MIDI set, 320 / 80 / 160 clips, 4 epochs,
batch 16, recipe `default`, every layer trained) from `{WEIGHTS_NAME}` against the same architecture from
random weights, paired by seed; test ROC-AUC, the gain with its 95% t-interval over the seeds (none
for a single seed: no verdict then).
Full table: [fine-tuning/results.md](../benchmarks/results/fine-tuning/results.md)."""


def _percent(value):
    return f"{value:.3f}"


def _agreement_table(cards):
    rows = []
    for model_id, card in sorted(cards.items(), key=lambda item: (item[1]["frontend"] != "musicnn's MTT front-end, "
                                                                                          "frozen", item[0])):
        agreement, recipe = card["agreement"], card["recipe"]
        rows.append({
            "model": f"`{model_id}`", "front-end": card["frontend"],
            "epochs": recipe["epochs"], "learning rate": f"{recipe['learning_rate']:g}",
            "training": f"{card['training_seconds'] / 60:.1f} min",
            "top-5 overlap": _percent(agreement["top5_overlap"]),
            "micro ROC-AUC": _percent(agreement["micro_roc_auc_top5"]),
            "valid top-5 / AUC": f"{agreement['valid_top5_overlap']:.3f} / {agreement['valid_micro_roc_auc_top5']:.3f}",
            "file": f"{card['bytes'] / 1e6:.2f} MB", "float16 max diff": f"{card['float16_max_abs_diff']:.1e}"})
    first = next(iter(cards.values()))["agreement"]
    rows.append({"model": "constant (the floor)", "front-end": "", "epochs": "", "learning rate": "", "training": "",
                 "top-5 overlap": _percent(first["constant_top5_overlap"]),
                 "micro ROC-AUC": _percent(first["constant_micro_roc_auc_top5"]),
                 "valid top-5 / AUC": "", "file": "", "float16 max diff": ""})
    return markdown(pd.DataFrame(rows))


def add_evaluations(cards, probe_csv=None, gain_csv=None):
    """``cards`` with each student's probe scores (its and its random twin's, the first metric the
    probe reports per task, and the classifier) and fine-tuning gain (a row of gain.csv), where
    the files hold them; ``probe_csv`` is one scores.csv or several."""
    cards = {model_id: dict(card) for model_id, card in cards.items()}
    # A student in several files: the last file's scores stand (e.g. one probed with another classifier).
    for path in [probe_csv] if isinstance(probe_csv, (str, os.PathLike)) else probe_csv or ():
        scores = pd.read_csv(path)
        for model_id, card in cards.items():
            rows = scores[scores["beside"] == f"{model_id}:{WEIGHTS_NAME}"]
            probe = {}
            for task, runs in rows.groupby("task", sort=True):
                metric = runs["metric"].iloc[0]
                runs = runs[runs["metric"] == metric].set_index("kind")
                if {"pretrained", "random twin"} <= set(runs.index):
                    probe[f"{task} ({metric})"] = [round(float(runs["score"]["pretrained"]), STORED_DECIMALS),
                                                   round(float(runs["score"]["random twin"]), STORED_DECIMALS)]
                    card["probe_classifier"] = str(runs["classifier"]["pretrained"])
            if probe:
                card["probe"] = probe
    if gain_csv:
        gains = pd.read_csv(gain_csv).set_index("model")
        for model_id, card in cards.items():
            card.pop("fine_tuning", None)  # the file given is the whole current table
            if model_id in gains.index:
                row = gains.loc[model_id]
                card["fine_tuning"] = {key: (int(row[key]) if key == "seeds" else str(row[key]) if key == "verdict"
                                             else round(float(row[key]), STORED_DECIMALS))
                                       for key in ("seeds", "roc_auc_scratch", "roc_auc_pretrained", "roc_auc_gain",
                                                   "roc_auc_gain_ci95", "verdict")}
    return cards


def _other_classifier(card):
    classifier = card.get("probe_classifier", "mlp")
    return "" if classifier == "mlp" else f" ({classifier} classifier)"


def _probe_cell(scores):
    student, twin = scores
    return f"{student:.3f} / {twin:.3f} ({student - twin:+.3f})"


def _probe_table(cards):
    tasks = sorted({task for card in cards.values() for task in card.get("probe", {})})
    rows = [{"model": f"`{model_id}`" + _other_classifier(card),
             **{task: _probe_cell(card["probe"][task]) for task in tasks if task in card["probe"]}}
            for model_id, card in sorted(cards.items()) if card.get("probe")]
    return markdown(pd.DataFrame(rows).fillna("")) if rows else ""


def _fine_tuning_table(cards):
    rows = []
    for model_id, card in sorted(cards.items()):
        tuning = card.get("fine_tuning")
        if not tuning:
            continue
        half = tuning["roc_auc_gain_ci95"]
        rows.append({"model": f"`{model_id}`", "seeds": tuning["seeds"],
                     "ROC-AUC from scratch": f"{tuning['roc_auc_scratch']:.3f}",
                     f"ROC-AUC from {WEIGHTS_NAME}": f"{tuning['roc_auc_pretrained']:.3f}",
                     "gain": f"{tuning['roc_auc_gain']:+.3f}" + ("" if pd.isna(half) else f" ± {half:.3f}"),
                     "verdict": tuning["verdict"]})
    return markdown(pd.DataFrame(rows)) if rows else ""


def page(cards=None):
    """The Markdown page of the cards (``read_cards()`` by default)."""
    cards = read_cards() if cards is None else cards
    if not cards:
        return INTRO + "\nNo student is published yet.\n"
    first = next(iter(cards.values()))
    corpus = pd.DataFrame(first["corpus"])[["package", "version", "licence", "tracks", "hours", "split"]]
    machines = sorted({card["machine"] for card in cards.values()})
    parts = [
        INTRO,
        "## The students\n",
        f"Teacher `{first['teacher']}`; held out: {', '.join(first['held_out'])} "
        f"({first['agreement']['held_out_patches']} patches of 3 s). Students of musicnn's front-end keep the "
        "teacher's front-end, frozen (the back-end axis: they differ from the teacher in the back-end alone); "
        "students of another front-end (the front-end axis, on musicnn's back-end) start from random weights. "
        "Recipe `default` (Adam, binary cross-entropy against the teacher's scores), "
        f"batch {first['recipe']['batch_size']}, seed {first['recipe']['seed']}. Trained on {'; '.join(machines)}, "
        "TensorFlow backend. `valid` is the "
        "training packages' held-back tracks after the last epoch; `file` is the shipped float16 file, "
        "`float16 max diff` its largest score difference from the float32 student on held-out patches.\n",
        _agreement_table(cards), "",
        *[f"- `{model_id}`: {card['note']}" for model_id, card in sorted(cards.items()) if card.get("note")], "",
        "## The corpus\n",
        f"Trained on {first['train_hours']} h; licences of the trained-on tracks: {first['corpus_licences']}.\n",
        markdown(corpus), "",
    ]
    probe = _probe_table(cards)
    parts += ["## Probe: each student against its random-weights twin\n",
              PROBE_TEXT + "\n\n" + probe if probe else "Not measured yet.", ""]
    tuning = _fine_tuning_table(cards)
    parts += ["## Fine-tuning gain\n", FINE_TUNING_TEXT + "\n\n" + tuning if tuning else "Not measured yet.", ""]
    return "\n".join(parts)


def write_page(path=PAGE, cards=None):
    """Writes ``page(cards)`` to ``path`` atomically; returns the path."""
    path = os.fspath(path)
    with atomic_path(path) as temporary:
        with open(temporary, "w") as handle:
            handle.write(page(cards))
    return path
