"""The benchmark CLI end to end (smoke preset), resumability, interruption, and its maths."""
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pandas as pd
import pytest

from benchmarks import measure
from benchmarks.results import REQUIRED_COLUMNS
from zoo.training.metrics import per_tag_scores, summarise

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _benchmarks(*args, **popen):
    command = [sys.executable, "-m", "benchmarks", *args]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, **popen)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    out, data = root / "out", root / "data"
    run = _benchmarks("--preset=smoke", f"--out={out}", f"--data_root={data}")
    log, _ = run.communicate(timeout=600)
    return run.returncode, log, out, data


def test_smoke_preset_writes_every_output(smoke_run):
    code, log, out, _ = smoke_run
    assert code == 0, log[-3000:]
    table = pd.read_csv(out / "results.csv")
    assert set(REQUIRED_COLUMNS) <= set(table.columns)
    assert len(table) == 4 and set(table["input"]) == {"waveform", "log-mel"}
    assert table[REQUIRED_COLUMNS[1:-1]].notna().all().all()
    assert ((table.roc_auc >= 0) & (table.roc_auc <= 1)).all()
    assert (table.latency_ms_p95 >= table.latency_ms_p50).all()
    assert table.device.str.startswith(("CPU", "GPU")).all()
    per_tag = pd.read_csv(out / "per_tag_auc.csv")
    assert set(per_tag.model) == set(table.model) and {"timbre", "temporal"} <= set(per_tag.group)
    report = (out / "results.md").read_text()
    assert "Device: CPU" in report and "maxpool-vertical" in report
    assert (out / "auc_vs_latency.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for model in table.model:
        assert f"{model} seed 0: ROC-AUC" in log


def test_rerun_skips_finished_models(smoke_run):
    _, _, out, data = smoke_run
    before = (out / "results.csv").read_text()
    run = _benchmarks("--preset=smoke", f"--out={out}", f"--data_root={data}")
    log, _ = run.communicate(timeout=300)
    assert run.returncode == 0, log[-3000:]
    assert log.count("already in") == 4
    assert (out / "results.csv").read_text() == before


def test_ctrl_c_stops_cleanly_and_keeps_no_partial_row(smoke_run, tmp_path):
    _, _, _, data = smoke_run
    out = tmp_path / "interrupted"
    run = _benchmarks("--preset=smoke", "--models=maxpool-vertical", f"--out={out}", f"--data_root={data}",
                      start_new_session=True)
    deadline = time.time() + 120
    for line in run.stdout:
        if "maxpool-vertical seed 0 ..." in line or time.time() > deadline:
            break
    time.sleep(3)  # inside the model's worker
    os.killpg(run.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    log, _ = run.communicate(timeout=120)
    assert run.returncode == 130, log[-3000:]
    assert "interrupted" in log and "Traceback" not in log
    assert not (out / "results.csv").exists()


def test_unknown_model_is_one_clear_error(tmp_path):
    run = _benchmarks("--preset=smoke", "--models=musicnn-vertical-horizonal", f"--out={tmp_path}")
    log, _ = run.communicate(timeout=120)
    assert run.returncode == 2
    assert "Did you mean: musicnn-vertical-horizontal" in log and "Traceback" not in log


def test_macro_auc_per_group():
    labels = np.array([[1, 0, 1], [0, 1, 1], [1, 1, 0], [0, 0, 0]], dtype=np.float32)
    scores = np.array([[0.9, 0.2, 0.3], [0.1, 0.8, 0.6], [0.7, 0.1, 0.2], [0.2, 0.3, 0.1]])
    per_tag = per_tag_scores(labels, scores, ["a", "b", "c"], {"a": "timbre", "b": "timbre", "c": "temporal"})
    # tag b: positives scored 0.8 and 0.1, negatives 0.2 and 0.3 -> 2 of 4 pairs ordered.
    assert per_tag.roc_auc.tolist() == [1.0, 0.5, 1.0]
    summary = summarise(per_tag)
    assert summary["roc_auc"] == pytest.approx(2.5 / 3)
    assert summary["roc_auc_timbre"] == pytest.approx(0.75) and summary["roc_auc_temporal"] == 1.0


def test_training_memory_estimate_counts_weights_slots_and_activations():
    inputs = keras.Input((10,))
    hidden = keras.layers.Dense(4)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2)(hidden))
    weights = 10 * 4 + 4 + 4 * 2 + 2  # 54, all trainable
    activations = (10 + 4 + 2) * 8  # input + two outputs, batch 8
    expected = (weights + 3 * weights + activations) * 4 / 2**20
    assert measure.estimate_train_memory_mb(model, batch_size=8) == pytest.approx(expected)


def test_mirrored_strategy_runs_a_model(smoke_run, tmp_path):
    _, _, _, data = smoke_run
    out = tmp_path / "mirrored"
    run = _benchmarks("--preset=smoke", "--models=maxpool-frame-single", "--strategy=mirrored",
                      f"--out={out}", f"--data_root={data}")
    log, _ = run.communicate(timeout=300)
    assert run.returncode == 0, log[-3000:]
    table = pd.read_csv(out / "results.csv")
    assert table.strategy.tolist() == ["mirrored"] and table.roc_auc.notna().all()


# --- seeds, intervals, findings -------------------------------------------------------------------

def test_two_models_two_seeds_give_four_rows_a_summary_and_findings(smoke_run, tmp_path):
    from benchmarks.statistics import FINDING_COLUMNS, SUMMARY_COLUMNS

    _, _, _, data = smoke_run
    out = tmp_path / "seeds"
    args = ("--preset=smoke", "--models=musicnn-frame-many,musicnn-frame-single", "--seeds=2", "--seed=0",
            f"--out={out}", f"--data_root={data}")
    run = _benchmarks(*args)
    log, _ = run.communicate(timeout=600)
    assert run.returncode == 0, log[-3000:]
    table = pd.read_csv(out / "results.csv")
    assert sorted(zip(table.model, table.seed)) == [
        ("musicnn-frame-many", 0), ("musicnn-frame-many", 1), ("musicnn-frame-single", 0), ("musicnn-frame-single", 1)]
    assert "progress: 4/4 runs done, 0 left" in log
    # Latency is the architecture's: timed on the first seed; the memory estimates (the memory
    # finding pairs them by seed) on every seed.
    first = table.seed == 0
    assert table.latency_ms_p50[first].notna().all() and table.latency_ms_p50[~first].isna().all()
    assert table.est_train_vram_mb_10s.notna().all()
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.columns[:len(SUMMARY_COLUMNS)]) == SUMMARY_COLUMNS
    assert summary.seeds.tolist() == [2, 2] and summary.roc_auc_ci95.notna().all()
    findings = pd.read_csv(out / "findings.csv")
    assert list(findings.columns) == FINDING_COLUMNS
    assert findings.finding.tolist() == ["waveforms: frame-level many-shapes beats single-shape"]
    assert findings.verdict.iloc[0] in ("reproduced", "contradicted", "inconclusive")
    assert "± " in (out / "results.md").read_text()
    again = _benchmarks(*args)
    log, _ = again.communicate(timeout=600)
    assert again.returncode == 0 and log.count("skipped") == 4, log[-3000:]
    assert len(pd.read_csv(out / "results.csv")) == 4


def _runs(differences, quantity="roc_auc"):
    rows = []
    for seed, difference in enumerate(differences):
        rows.append({"model": "musicnn-frame-many", "seed": seed, quantity: 0.7 + difference})
        rows.append({"model": "musicnn-frame-single", "seed": seed, quantity: 0.7})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("differences, verdict", [
    ([0.05, 0.06, 0.04], "reproduced"),
    ([-0.05, -0.06, -0.04], "contradicted"),
    ([0.05, -0.04, 0.01], "inconclusive"),
    ([0.05], "inconclusive"),  # one seed: no interval
])
def test_verdicts_come_from_the_paired_interval(differences, verdict):
    from benchmarks.statistics import ci95_half_width, judge_findings

    row = judge_findings(_runs(differences)).iloc[0]
    assert row.verdict == verdict
    assert row.mean_difference == pytest.approx(np.mean(differences))
    if len(differences) > 1:
        half = ci95_half_width(differences)
        assert (row.ci95_low, row.ci95_high) == pytest.approx((np.mean(differences) - half,
                                                               np.mean(differences) + half))


def test_ci95_is_the_t_interval():
    from benchmarks.statistics import ci95_half_width

    # n = 3, sd = 1: t(0.975, 2) = 4.303 -> 4.303 / sqrt(3)
    assert ci95_half_width([1.0, 2.0, 3.0]) == pytest.approx(4.3027 / np.sqrt(3), rel=1e-4)
    assert np.isnan(ci95_half_width([0.5]))


def test_equivalence_finding_needs_the_interval_inside_the_margin():
    from benchmarks.statistics import judge_findings

    rows = []
    for seed, (small, others) in enumerate([(0.70, 0.705), (0.71, 0.712), (0.69, 0.695)]):
        rows += [{"model": "musicnn-small-rectangular", "seed": seed, "roc_auc": small},
                 {"model": "musicnn-vertical", "seed": seed, "roc_auc": others}]
    row = judge_findings(pd.DataFrame(rows)).iloc[0]
    assert row.finding.startswith("small-rectangular matches") and row.verdict == "reproduced"


def test_multi_worker_strategy_runs_on_two_local_workers(smoke_run, tmp_path):
    import json as json_module
    import socket

    _, _, _, data = smoke_run
    sockets = [socket.socket() for _ in range(2)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    cluster = {"worker": [f"127.0.0.1:{s.getsockname()[1]}" for s in sockets]}
    for s in sockets:
        s.close()
    runs = []
    for index in range(2):
        config = json_module.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        command = [sys.executable, "-m", "benchmarks", "--preset=smoke", "--models=maxpool-frame-single",
                   "--strategy=multi_worker", f"--out={tmp_path / f'out{index}'}", f"--data_root={data}"]
        runs.append(subprocess.Popen(command, cwd=REPO, env={**os.environ, "TF_CONFIG": config},
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    logs = [run.communicate(timeout=600)[0] for run in runs]
    for run, log in zip(runs, logs):
        assert run.returncode == 0, log[-3000:]
    tables = [pd.read_csv(tmp_path / f"out{index}" / "results.csv") for index in range(2)]
    assert tables[0].roc_auc.tolist() == tables[1].roc_auc.tolist()
    assert tables[0].strategy.tolist() == ["multi_worker"]


def test_fine_tuning_gain_pairs_runs_by_model_and_seed(tmp_path):
    from benchmarks.fine_tuning_gain import main as gain_main

    def results(folder, rows):
        folder.mkdir()
        pd.DataFrame(rows, columns=["model", "seed", "roc_auc", "pr_auc", "train_seconds"]).to_csv(
            folder / "results.csv", index=False)

    results(tmp_path / "scratch", [("a", s, 0.70 + 0.01 * s, 0.4, 10.0) for s in range(3)]
            + [("b", s, 0.80, 0.5, 10.0) for s in range(3)] + [("c", 0, 0.7, 0.4, 10.0)])
    results(tmp_path / "pretrained", [("a", s, 0.80 + 0.01 * s + 0.001 * (s % 2), 0.5, 5.0) for s in range(3)]
            + [("b", s, 0.80 + (0.01, -0.01, 0.0)[s], 0.5, 5.0) for s in range(2)])
    assert gain_main([str(tmp_path / "scratch"), str(tmp_path / "pretrained"), "--out", str(tmp_path / "out"),
                      "--note", "shared the cores"]) == 0
    table = pd.read_csv(tmp_path / "out" / "gain.csv").set_index("model")
    assert list(table.index) == ["a", "b"] and list(table.seeds) == [3, 2]
    assert table.loc["a", "roc_auc_gain"] == pytest.approx(0.1 + 0.001 / 3)
    assert table.loc["a", "verdict"] == "helps" and table.loc["b", "verdict"] == "no clear difference"
    assert table.loc["a", "train_seconds_pretrained"] == 5.0
    report = (tmp_path / "out" / "results.md").read_text()
    assert "| `a` | 3 |" in report and "2 run(s) of one side have no partner" in report
    assert "Note: shared the cores" in report
    assert gain_main([str(tmp_path / "none"), str(tmp_path / "pretrained"), "--out", str(tmp_path / "x")]) == 1
