"""What a start from pretrained weights is worth: each model fine-tuned from them against the same
model trained from scratch, same data, budget and seeds (two runs of the benchmark's "fine-tuning" preset).

    python -m benchmarks --preset=fine-tuning --out=benchmarks/results/fine-tuning/scratch
    python -m benchmarks --preset=fine-tuning --weights=mtt-distilled --out=benchmarks/results/fine-tuning/distilled
    python -m benchmarks.fine_tuning_gain benchmarks/results/fine-tuning/scratch \\
        benchmarks/results/fine-tuning/distilled --out benchmarks/results/fine-tuning

Per model: test ROC-AUC and PR-AUC of both starts (mean over the seeds both finished), the gain
(pretrained minus scratch, paired by seed) with its 95% t-interval, and a verdict: "helps" when
the interval lies above 0, "hurts" below, "no clear difference" otherwise. Writes gain.csv and
results.md; models or seeds missing from one side are left out and counted.
"""
import argparse
import datetime
import os
import sys

import numpy as np
import pandas as pd

from benchmarks.statistics import ci95_half_width
from zoo.files import atomic_path, write_csv_atomically

__all__ = ["gain_table", "main"]

METRICS = ("roc_auc", "pr_auc")


def _rows(folder):
    path = os.path.join(folder, "results.csv")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no benchmark results there (run python -m benchmarks --out={folder} first)")
    table = pd.read_csv(path)
    extra = [c for c in ("device", "machine_matmul_gflops") if c in table]
    return table[table["roc_auc"].notna()][["model", "seed", *METRICS, "train_seconds", *extra]]


def _verdict(mean, half):
    if np.isnan(half):
        return "one seed: no interval"
    if mean - half > 0:
        return "helps"
    if mean + half < 0:
        return "hurts"
    return "no clear difference"


def gain_table(scratch, pretrained):
    """One row per model both sides ran with at least one common seed."""
    paired = scratch.merge(pretrained, on=["model", "seed"], suffixes=("_scratch", "_pretrained"))
    rows = []
    for model, runs in paired.groupby("model", sort=True):
        row = {"model": model, "seeds": len(runs)}
        for metric in METRICS:
            gains = runs[f"{metric}_pretrained"] - runs[f"{metric}_scratch"]
            mean, half = float(gains.mean()), float(ci95_half_width(gains))
            row.update({f"{metric}_scratch": float(runs[f"{metric}_scratch"].mean()),
                        f"{metric}_pretrained": float(runs[f"{metric}_pretrained"].mean()),
                        f"{metric}_gain": mean, f"{metric}_gain_ci95": half})
        row["verdict"] = _verdict(row["roc_auc_gain"], row["roc_auc_gain_ci95"])
        row["train_seconds_scratch"] = float(runs["train_seconds_scratch"].median())
        row["train_seconds_pretrained"] = float(runs["train_seconds_pretrained"].median())
        rows.append(row)
    return pd.DataFrame(rows)


def _interval(mean, half):
    return f"{mean:+.3f}" + ("" if np.isnan(half) else f" ± {half:.3f}")


def _machine(*sides):
    rows = pd.concat(sides)
    if "device" not in rows:
        return "not recorded"
    rate = rows.get("machine_matmul_gflops")
    return (f"{rows['device'].mode().iloc[0]}"
            + ("" if rate is None else f", dense matmul {rate.min():.0f}-{rate.max():.0f} GFLOP/s over the runs"))


def _markdown(table, scratch_dir, pretrained_dir, weights, unpaired, machine, note=None):
    lines = [
        "# Fine-tuning gain: pretrained start against scratch\n",
        f"Date: {datetime.date.today().isoformat()}. Machine: {machine}.  ",
        f"Commands: `python -m benchmarks --preset=fine-tuning --out={scratch_dir}`, `python -m benchmarks "
        f"--preset=fine-tuning --weights={weights} --out={pretrained_dir}`, `python -m benchmarks.fine_tuning_gain "
        f"{scratch_dir} {pretrained_dir}`.\n",
        f"Scratch runs: `{scratch_dir}`; pretrained (`{weights}`) runs: `{pretrained_dir}`. Test ROC-AUC / PR-AUC "
        "on the rendered General-MIDI set (mean over seeds); gain = pretrained minus scratch, paired by seed, with "
        "its 95% t-interval.\n",
        *([f"Note: {note}\n"] if note else []),
        "| model | seeds | ROC-AUC scratch | ROC-AUC pretrained | ROC-AUC gain | PR-AUC gain | verdict | "
        "train s (scratch / pretrained) |",
        "|---|--:|--:|--:|--:|--:|---|--:|",
    ]
    for row in table.itertuples():
        lines.append(f"| `{row.model}` | {row.seeds} | {row.roc_auc_scratch:.3f} | {row.roc_auc_pretrained:.3f} | "
                     f"{_interval(row.roc_auc_gain, row.roc_auc_gain_ci95)} | "
                     f"{_interval(row.pr_auc_gain, row.pr_auc_gain_ci95)} | {row.verdict} | "
                     f"{row.train_seconds_scratch:.0f} / {row.train_seconds_pretrained:.0f} |")
    if unpaired:
        lines.append(f"\n{unpaired} run(s) of one side have no partner yet (same model and seed) and are left out.")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fine_tuning_gain", description=__doc__.splitlines()[0])
    parser.add_argument("scratch", help="benchmark output folder of the runs from random weights")
    parser.add_argument("pretrained", help="benchmark output folder of the runs from --weights")
    parser.add_argument("--weights", default="mtt-distilled", help="the weights the pretrained side started from")
    parser.add_argument("--out", required=True, help="folder for gain.csv and results.md")
    parser.add_argument("--note", help="a paragraph for results.md, e.g. what shared the machine")
    args = parser.parse_args(argv)
    try:
        scratch, pretrained = _rows(args.scratch), _rows(args.pretrained)
    except FileNotFoundError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 1
    table = gain_table(scratch, pretrained)
    unpaired = len(scratch) + len(pretrained) - 2 * int(table["seeds"].sum() if len(table) else 0)
    os.makedirs(args.out, exist_ok=True)
    write_csv_atomically(table, os.path.join(args.out, "gain.csv"))
    report = _markdown(table, args.scratch, args.pretrained, args.weights, unpaired, _machine(scratch, pretrained),
                       args.note)
    with atomic_path(os.path.join(args.out, "results.md")) as temporary:
        with open(temporary, "w") as handle:
            handle.write(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
