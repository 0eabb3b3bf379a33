"""The benchmark's outputs in --out: results.csv (one row per finished (model, seed)), per-tag
AUCs, summary.csv (per model over seeds), findings.csv (the seed review's findings judged),
results.md and a plot. Every file is replaced atomically, so none is ever half-written."""
import os

import pandas as pd

__all__ = ["ResultsStore", "REQUIRED_COLUMNS"]

REQUIRED_COLUMNS = [
    "model", "seed", "roc_auc", "pr_auc", "latency_ms_p50", "latency_ms_p95", "throughput_clips_per_s",
    "peak_memory_mb", "est_train_vram_mb", "device",
]
_MARKDOWN_COLUMNS = [
    ("model", "model", "{}"), ("seed", "seed", "{:.0f}"), ("params", "params", "{:,.0f}"),
    ("mflops_per_clip", "MFLOPs/clip", "{:,.0f}"),
    ("roc_auc", "ROC-AUC", "{:.3f}"), ("pr_auc", "PR-AUC", "{:.3f}"),
    ("roc_auc_timbre", "ROC timbre", "{:.3f}"), ("roc_auc_temporal", "ROC temporal", "{:.3f}"),
    ("latency_ms_p50", "p50 ms", "{:.1f}"), ("latency_ms_p95", "p95 ms", "{:.1f}"),
    ("throughput_clips_per_s", "clips/s @32", "{:.1f}"), ("achieved_gflops", "GFLOP/s", "{:.1f}"),
    ("peak_memory_mb", "peak MB", "{:,.0f}"), ("est_train_vram_mb", "est. train MB", "{:,.0f}"),
    ("latency_ms_10s", "p50 ms 10 s", "{:.1f}"), ("latency_ms_30s", "p50 ms 30 s", "{:.1f}"),
    ("est_train_vram_mb_30s", "est. train MB 30 s", "{:,.0f}"),
    ("measured_train_memory_mb", "measured train MB", "{:,.0f}"),
    ("planned_train_memory_mb_30s", "planned train MB 30 s", "{:,.0f}"),
    ("backend", "backend", "{}"),
]


def _replace(path, write):
    partial = path + ".partial"
    write(partial)
    os.replace(partial, path)


class ResultsStore:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        os.makedirs(out_dir, exist_ok=True)
        self.csv_path = os.path.join(out_dir, "results.csv")
        self.tags_path = os.path.join(out_dir, "per_tag_auc.csv")

    def rows(self):
        if not os.path.exists(self.csv_path):
            return pd.DataFrame(columns=REQUIRED_COLUMNS)
        table = pd.read_csv(self.csv_path)
        if "seed" not in table:  # results.csv from before --seeds: those runs used seed 0
            table.insert(1, "seed", 0)
        return table

    def finished(self):
        """{(model, seed)} of the rows written so far."""
        return {(model, int(seed)) for model, seed in zip(self.rows()["model"], self.rows()["seed"])}

    def append(self, row, per_tag=None):
        table = pd.concat([self.rows(), pd.DataFrame([row])], ignore_index=True)
        table = table[[c for c in REQUIRED_COLUMNS if c in table] + [c for c in table if c not in REQUIRED_COLUMNS]]
        if per_tag is not None:
            tags = pd.concat([self._per_tag(), per_tag], ignore_index=True)
            _replace(self.tags_path, lambda p: tags.to_csv(p, index=False))
        _replace(self.csv_path, lambda p: table.to_csv(p, index=False))

    def _per_tag(self):
        return pd.read_csv(self.tags_path) if os.path.exists(self.tags_path) else pd.DataFrame()

    def write_report(self, title, notes=()):
        from benchmarks.statistics import judge_findings, summarise_seeds

        table = self.rows()
        if table.empty:
            return
        trained = table[table["roc_auc"].notna()]
        summary, findings = summarise_seeds(trained), judge_findings(trained)
        _replace(os.path.join(self.out_dir, "summary.csv"), lambda p: summary.to_csv(p, index=False))
        _replace(os.path.join(self.out_dir, "findings.csv"), lambda p: findings.to_csv(p, index=False))
        _replace(os.path.join(self.out_dir, "results.md"),
                 lambda p: _write_markdown(table, summary, findings, title, notes, p))
        _replace(os.path.join(self.out_dir, "auc_vs_latency.png"), lambda p: _plot(summary, p))


def _cell(value, fmt):
    return "–" if pd.isna(value) else fmt.format(value)


def _mean_ci(mean, half):
    if pd.isna(mean):
        return "–"
    return f"{mean:.3f}" if pd.isna(half) else f"{mean:.3f} ± {half:.3f}"


def _summary_lines(summary):
    lines = ["## Per model, over seeds (mean ± half-width of the 95% t-interval; costs: median)", "",
             "| model | seeds | ROC-AUC | PR-AUC | p50 ms | peak MB | est. train MB | measured train MB |",
             "|---|---|---|---|---|---|---|---|"]
    for row in summary.to_dict("records"):
        lines.append(f"| {row['model']} | {row['seeds']} | {_mean_ci(row['roc_auc_mean'], row['roc_auc_ci95'])} | "
                     f"{_mean_ci(row['pr_auc_mean'], row['pr_auc_ci95'])} | "
                     f"{_cell(row.get('latency_ms_p50'), '{:.1f}')} | {_cell(row.get('peak_memory_mb'), '{:,.0f}')} | "
                     f"{_cell(row.get('est_train_vram_mb'), '{:,.0f}')} | "
                     f"{_cell(row.get('measured_train_memory_mb'), '{:,.0f}')} |")
    return lines + [""]


def _findings_lines(findings):
    if findings.empty:
        return []
    lines = ["## The seed review's findings (paired by seed, 95% t-interval of the differences)", "",
             "| finding | left − right | quantity | seeds | mean difference | 95% interval | verdict |",
             "|---|---|---|---|---|---|---|"]
    for row in findings.to_dict("records"):
        interval = "–" if pd.isna(row["ci95_low"]) else f"[{row['ci95_low']:.3f}, {row['ci95_high']:.3f}]"
        lines.append(f"| {row['finding']} | {row['left']} − {row['right']} | {row['quantity']} | {row['seeds']} | "
                     f"{row['mean_difference']:.3f} | {interval} | **{row['verdict']}** |")
    return lines + [""]


def _write_markdown(table, summary, findings, title, notes, path):
    columns = [(c, h, f) for c, h, f in _MARKDOWN_COLUMNS if c in table]
    lines = [f"# {title}", ""]
    devices = ", ".join(sorted(table["device"].dropna().astype(str).unique()))
    backends = ", ".join(sorted(table["backend"].dropna().astype(str).unique())) if "backend" in table else ""
    lines += ([f"Device: {devices}" + (f"; Keras backend: {backends}" if backends else ""), ""]
              + [f"- {n}" for n in notes] + [""])
    lines += _summary_lines(summary) + _findings_lines(findings)
    lines += ["## Every run", ""]
    lines.append("| " + " | ".join(h for _, h, _ in columns) + " |")
    lines.append("|" + "---|" * len(columns))
    for row in table.itertuples(index=False):
        values = row._asdict()
        lines.append("| " + " | ".join(_cell(values[c], f) for c, _, f in columns) + " |")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def _plot(summary, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = summary.dropna(subset=["roc_auc_mean", "latency_ms_p50"])
    fig, ax = plt.subplots(figsize=(9, 6))
    sizes = 20 + 300 * rows.peak_memory_mb / max(rows.peak_memory_mb.max(), 1)
    ax.errorbar(rows.latency_ms_p50, rows.roc_auc_mean, yerr=rows.roc_auc_ci95.fillna(0), fmt="none",
                ecolor="grey", capsize=3, alpha=0.8)
    ax.scatter(rows.latency_ms_p50, rows.roc_auc_mean, s=sizes, alpha=0.6)
    for row in rows.itertuples():
        ax.annotate(row.model, (row.latency_ms_p50, row.roc_auc_mean), fontsize=7, xytext=(4, 2),
                    textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("latency, batch 1, 3 s clip, p50 (ms, log scale; median over seeds)")
    ax.set_ylabel("ROC-AUC (macro, test; mean over seeds, bars: 95% t-interval)")
    ax.set_title("ROC-AUC vs latency (marker area ~ peak memory)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=120)
    plt.close(fig)
