"""Across seeds: means with 95% t-intervals per model, and verdicts on the seed review's findings.

A finding compares two sides on one quantity, paired by seed (both sides trained with the same
seed on the same data), and its verdict comes from the 95% t-interval of the paired differences:
- "better" findings (left > right): reproduced when the interval lies above 0, contradicted when
  below 0, inconclusive when it straddles 0 or when there is only one seed;
- "matches" findings (left ~ right): reproduced when the interval lies inside +-EQUIVALENCE_MARGIN,
  contradicted when it lies wholly outside it, inconclusive otherwise (two one-sided tests).
"""
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["FINDINGS", "Finding", "EQUIVALENCE_MARGIN", "ci95_half_width", "summarise_seeds", "judge_findings"]

CONFIDENCE = 0.95
# ROC-AUC differences below this count as "matching": about one model's seed-to-seed spread on the
# GM set (standard deviations up to 0.018 over 3 seeds in benchmarks/results/{paper,default}/results.csv).
EQUIVALENCE_MARGIN = 0.02
# The memory finding's quantity: training memory at 30 s less at 3 s, measured where it can be.
TRAIN_MEMORY_GROWTH = "train_memory_growth_mb"
ACCURACY = ("roc_auc", "pr_auc")
COSTS = ("params", "mflops_per_clip", "latency_ms_p50", "latency_ms_p95", "throughput_clips_per_s",
         "achieved_gflops", "peak_memory_mb", "est_train_vram_mb", "est_train_vram_mb_10s", "est_train_vram_mb_30s",
         "latency_ms_10s", "latency_ms_30s", "train_seconds", "train_rss_growth_mb", "measured_train_memory_mb",
         "planned_train_memory_mb", "planned_train_memory_mb_10s", "planned_train_memory_mb_30s")
SUMMARY_COLUMNS = ["model", "seeds"] + [f"{m}_{s}" for m in ACCURACY for s in ("mean", "ci95")]
FINDING_COLUMNS = ["finding", "left", "right", "quantity", "seeds", "mean_difference", "ci95_low", "ci95_high",
                   "verdict"]


def ci95_half_width(values):
    """Half-width of the 95% t-interval of the mean; NaN with fewer than two values."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return float("nan")
    return float(stats.t.ppf(0.5 + CONFIDENCE / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)))


def summarise_seeds(results):
    """summary.csv: per model, seeds, mean and CI half-width of ROC/PR-AUC, median of each cost."""
    rows = []
    for model, runs in results.groupby("model", sort=False):
        row = {"model": model, "seeds": int(runs["seed"].nunique())}
        for metric in ACCURACY:
            row[f"{metric}_mean"] = float(runs[metric].mean())
            row[f"{metric}_ci95"] = ci95_half_width(runs[metric])
        row.update({cost: float(runs[cost].median()) for cost in COSTS if cost in runs})
        rows.append(row)
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS + [c for c in COSTS if c in results])


@dataclass(frozen=True)
class Finding:
    name: str
    left: tuple  # models whose per-seed mean is the left side
    right: tuple
    quantity: str  # results column, or TRAIN_MEMORY_GROWTH (3 s -> 30 s)
    claim: str  # "better" (left > right) or "matches" (|left - right| < margin)
    right_reduce: str = "mean"  # how several right-hand models combine per seed: "mean" or "max"


def _m(front_end):
    return f"musicnn-{front_end}"


# The findings of J. Pons' review that models of the grid can test (docs/benchmark.md, "Findings").
FINDINGS = (
    Finding("waveforms: sample-level beats frame-level many-shapes", (_m("sample-level"),), (_m("frame-many"),),
            "roc_auc", "better"),
    Finding("waveforms: frame-level many-shapes beats single-shape", (_m("frame-many"),), (_m("frame-single"),),
            "roc_auc", "better"),
    Finding("spectrograms: many vertical+horizontal filters beat a single vertical filter",
            (_m("vertical-horizontal"),), (_m("vertical"),), "roc_auc", "better"),
    Finding("small-rectangular matches the other spectrogram front-ends below 10 s", (_m("small-rectangular"),),
            (_m("vertical-horizontal"), _m("vertical"), _m("horizontal")), "roc_auc", "matches"),
    Finding("small-rectangular's training memory grows fastest with input length (3 s -> 30 s)",
            (_m("small-rectangular"),),
            (_m("vertical-horizontal"), _m("vertical"), _m("horizontal"), _m("sample-level"), _m("frame-many"),
             _m("frame-single")),
            TRAIN_MEMORY_GROWTH, "better", right_reduce="max"),
)


def _memory_growth(results):
    """(3 s -> 30 s growth of training memory, its name): XLA's plan of the train step where the
    benchmark ran on JAX (planned_train_memory_mb*), else the analytic estimate."""
    for name, at_3s, at_30s in (("planned_train_growth_mb", "planned_train_memory_mb", "planned_train_memory_mb_30s"),
                                ("est_train_growth_mb", "est_train_vram_mb", "est_train_vram_mb_30s")):
        if at_30s in results and results[at_30s].notna().any():
            return results[at_30s] - results[at_3s], name
    return None, TRAIN_MEMORY_GROWTH


def _quantity(results, quantity):
    """(per-row values of ``quantity``, the name findings.csv gives it)."""
    if quantity == TRAIN_MEMORY_GROWTH:
        return _memory_growth(results)
    return (results[quantity] if quantity in results else None), quantity


def _side(per_seed, models, reduce):
    present = [m for m in models if m in per_seed.columns]
    if not present:
        return None
    return per_seed[present].max(axis=1) if reduce == "max" else per_seed[present].mean(axis=1)


def _describe_side(models, reduce):
    return models[0] if len(models) == 1 else f"{reduce}({', '.join(models)})"


def _verdict(claim, low, high):
    if np.isnan(low):
        return "inconclusive"
    if claim == "better":
        return "reproduced" if low > 0 else "contradicted" if high < 0 else "inconclusive"
    if -EQUIVALENCE_MARGIN < low and high < EQUIVALENCE_MARGIN:
        return "reproduced"
    return "contradicted" if low >= EQUIVALENCE_MARGIN or high <= -EQUIVALENCE_MARGIN else "inconclusive"


def judge_findings(results):
    """findings.csv: one row per finding whose models all ran (at least one on the right)."""
    rows = []
    for finding in FINDINGS:
        values, quantity = _quantity(results, finding.quantity)
        if values is None or not set(finding.left) <= set(results["model"]):
            continue
        per_seed = results.assign(value=values).pivot_table(index="seed", columns="model", values="value")
        left, right = _side(per_seed, finding.left, "mean"), _side(per_seed, finding.right, finding.right_reduce)
        if right is None:
            continue
        differences = (left - right).dropna()  # seeds where both sides finished
        if differences.empty:
            continue
        mean, half = float(differences.mean()), ci95_half_width(differences)
        rows.append({
            "finding": finding.name, "left": " + ".join(finding.left),
            "right": _describe_side([m for m in finding.right if m in per_seed.columns], finding.right_reduce),
            "quantity": quantity, "seeds": len(differences), "mean_difference": mean,
            "ci95_low": mean - half, "ci95_high": mean + half,
            "verdict": _verdict(finding.claim, mean - half, mean + half),
        })
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)
