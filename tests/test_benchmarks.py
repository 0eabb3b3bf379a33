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
from zoo.training.metrics import per_tag_scores, summarise
from benchmarks.results import REQUIRED_COLUMNS

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
        assert f"{model}: ROC-AUC" in log


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
        if "maxpool-vertical ..." in line or time.time() > deadline:
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
