"""The probe's outputs: ``scores.csv`` (one row per model, task and metric) and ``results.md``
(models x tasks, each pretrained model beside its random twin, and the gap between them).

Both are rewritten atomically after each finished (model, task), from the results kept so far.
"""
import datetime
import os

import pandas as pd

from zoo.files import atomic_path, write_csv_atomically

__all__ = ["COLUMNS", "write_report"]

COLUMNS = ["model", "kind", "beside", "task", "metric", "score", "std", "runs", "classifier", "embedding", "dims",
           "clips_per_second"]


def _cell(score, std):
    return f"{score:.3f} ± {std:.3f}"


def _markdown(table, primary, *, command, machine, wall_seconds):
    lines = [f"# Linear probe of frozen embeddings ({datetime.date.today().isoformat()})", "",
             f"Command: `{command}`  ", f"Machine: {machine}  "]
    if wall_seconds is not None:
        lines.append(f"Wall time: {wall_seconds / 60:.1f} min (embeddings and classifiers)  ")
    classifiers = ", ".join(sorted(table["classifier"].unique()))
    lines += [f"Classifier: {classifiers}; test score, mean ± std over folds and seeds "
              "(benchmarks/probe/classifiers.py).", ""]
    tasks = list(dict.fromkeys(table["task"]))
    header = [f"{task} ({primary[task]})" for task in tasks]
    lines += ["| model | kind | " + " | ".join(header) + " | embedding | clips/s |",
              "|---|---|" + "---|" * len(tasks) + "---|---|"]
    first = table[table["metric"] == table["task"].map(primary)]
    for model, rows in first.groupby("model", sort=False):
        cells = [_cell(*rows[rows["task"] == task][["score", "std"]].iloc[0]) if (rows["task"] == task).any() else ""
                 for task in tasks]
        rate = rows["clips_per_second"].mean()
        lines.append(f"| {model} | {rows['kind'].iloc[0]} | " + " | ".join(cells)
                     + f" | {rows['embedding'].iloc[0]} ({int(rows['dims'].iloc[0])}) | "
                     + ("" if pd.isna(rate) else f"{rate:.1f}") + " |")
    gaps = []
    for model, rows in first[first["kind"] == "pretrained"].groupby("model", sort=False):
        twins = first[(first["kind"] == "random twin") & (first["beside"] == model)]
        if twins.empty:
            continue
        cells = []
        for task in tasks:
            ours, theirs = rows[rows["task"] == task], twins[twins["task"] == task]
            cells.append(f"{ours['score'].iloc[0] - theirs['score'].iloc[0]:+.3f}"
                         if len(ours) and len(theirs) else "")
        gaps.append(f"| {model} | " + " | ".join(cells) + " |")
    if gaps:
        lines += ["", "Pretrained minus its random twin (what the weights add over the architecture):", "",
                  "| model | " + " | ".join(header) + " |", "|---|" + "---|" * len(tasks)] + gaps
    return "\n".join(lines) + "\n"


def write_report(rows, out_dir, *, command, machine, wall_seconds=None):
    """``scores.csv`` and ``results.md`` in ``out_dir`` from result rows (dicts with ``COLUMNS``)."""
    if not rows:
        return
    table = pd.DataFrame(rows, columns=COLUMNS)
    write_csv_atomically(table, os.path.join(out_dir, "scores.csv"))
    primary = table.groupby("task", sort=False)["metric"].first().to_dict()
    with atomic_path(os.path.join(out_dir, "results.md")) as temporary, open(temporary, "w") as handle:
        handle.write(_markdown(table, primary, command=command, machine=machine, wall_seconds=wall_seconds))
