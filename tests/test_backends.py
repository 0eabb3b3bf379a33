"""The zoo on JAX and PyTorch, each in a process of its own (Keras fixes its backend at import):
every model runs, the input stage and the pretrained scores equal TensorFlow's, weights files and
TF-saved .keras files cross backends, tagging equals TF's, a train step computes what TF's does,
zoo-train survives kill -9 and resumes, and the benchmark's smoke preset fills its backend and
memory columns. This process (TensorFlow) writes the references."""
import json
import os
import re
import subprocess
import sys

import keras
import numpy as np
import pandas as pd
import pytest

import zoo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import backend_checks  # noqa: E402
from test_pretrained import render_pieces  # noqa: E402
from test_training import SMALL_OPTIONS, kill_after_epochs, write_manifest  # noqa: E402
from tolerances import CROSS_CPU_SCORES  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BACKENDS = ("jax", "torch")
INPUT_STAGE_TOLERANCE = 1e-5  # log-mel values up to ~6: float32 FFTs of three libraries
SCORE_TOLERANCE = 1e-4


def _environment(backend):
    return {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}


def _write_references(workdir):
    """What TensorFlow computes, for the other backends to equal."""
    music = render_pieces(workdir)
    first = next(iter(music.values()))
    os.replace(first, workdir / "music.wav")
    audio = zoo.load_audio(str(workdir / "music.wav"))
    references = {"music_patches": np.stack([audio[:48000], audio[48000:96000]])}
    for model_id in ("musicnn", "vgg"):
        model = zoo.load(model_id, weights="mtt", input_seconds=3.0)
        log_mel = keras.Model(model.input, model.get_layer("logmel").output)
        references[f"{model_id}_log_mel"] = np.asarray(log_mel(references["music_patches"]))
        references[f"{model_id}_scores"] = model.predict(references["music_patches"], verbose=0)
    music_path = str(workdir / "music.wav")
    references["tag"] = zoo.tag(music_path, top_k=None).sort_values("tag")["score"].to_numpy()
    references["taggram"] = zoo.taggram(music_path).to_numpy()
    references["vgg_taggram"] = zoo.taggram(music_path, model="vgg").to_numpy()
    features = zoo.embeddings(music_path)
    for name in ("penultimate", "max_pool", "temporal"):
        references[f"embeddings_{name}"] = features[name]
    waveforms, labels = backend_checks.cross_batch()
    keras.utils.set_random_seed(3)
    model = backend_checks.cross_model()
    model.save_weights(workdir / "tf.weights.h5")
    references["cross_outputs"] = model.predict(waveforms, verbose=0)
    before = [np.asarray(w) for w in model.get_weights()]
    loss, after = backend_checks.one_train_step(model, waveforms, labels)
    updates = [a - b for a, b in zip(after, before)]
    references.update({"step_loss": loss, "step_updates_count": len(updates),
                       **{f"step_updates_{i}": u for i, u in enumerate(updates)}})
    np.savez(workdir / "references.npz", **references)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("backends")
    _write_references(folder)
    return folder


@pytest.fixture(scope="module", params=BACKENDS)
def checked(request, workdir):
    """{check name: its JSON result} of backend_checks.py run on ``backend``."""
    backend = request.param
    run = subprocess.run([sys.executable, os.path.join(REPO, "tests", "backend_checks.py"), str(workdir)],
                         capture_output=True, text=True, env=_environment(backend), cwd=REPO, timeout=900)
    assert run.returncode == 0, run.stderr[-4000:]
    results = {r["check"]: r for r in (json.loads(line) for line in run.stdout.splitlines() if line.startswith("{"))}
    assert results["backend"]["backend"] == backend, results
    return backend, results


def _result(checked, name):
    backend, results = checked
    result = results[name]
    assert "error" not in result, f"{backend}: {result['error']}"
    return backend, result


def test_every_model_builds_and_runs(checked):
    backend, result = _result(checked, "check_every_model_runs")
    assert result["models"] == 49 and result["failures"] == [], (backend, result["failures"])


def test_input_stage_and_pretrained_scores_equal_tensorflow(checked):
    backend, result = _result(checked, "check_input_stage_and_pretrained_scores")
    for model_id in ("musicnn", "vgg"):
        assert result[f"{model_id}_log_mel"] <= INPUT_STAGE_TOLERANCE, (backend, result)
        assert result[f"{model_id}_scores"] <= SCORE_TOLERANCE, (backend, result)
        assert result[f"{model_id}_torch_module"] is (True if backend == "torch" else None)


def test_tagging_equals_tensorflow(checked):
    backend, result = _result(checked, "check_tagging")
    differences = {name: value for name, value in result.items() if name != "check"}
    assert len(differences) == 6 and max(differences.values()) <= SCORE_TOLERANCE, (backend, result)


def test_files_saved_on_tensorflow_load_and_predict_the_same(checked):
    backend, result = _result(checked, "check_tensorflow_saved_files")
    for name in backend_checks.SAVED:
        for how in ("zoo.load", "keras"):
            assert result[f"{name} {how}"] <= CROSS_CPU_SCORES, (backend, name, how, result)
            assert result[f"{name} {how} tags"], (backend, name)


def test_weights_files_cross_backends_both_ways(checked, workdir):
    backend, result = _result(checked, "check_weights_files")
    assert result["tf_file_outputs"] <= 1e-5, (backend, result)
    # ... and the file the other backend wrote, read here on TensorFlow.
    model = backend_checks.cross_model()
    model.load_weights(workdir / f"{backend}.weights.h5")
    waveforms, _ = backend_checks.cross_batch()
    theirs = np.load(workdir / f"{backend}_outputs.npz")["outputs"]
    np.testing.assert_allclose(model.predict(waveforms, verbose=0), theirs, atol=1e-5)


def test_a_train_step_computes_what_tensorflow_computes(checked):
    """Same weights, batch and SGD step (no dropout): every weight's update agrees with TF's, so
    the gradients do (TF's SingleChannelConv2D gradient and training-mode BN included). Batch
    statistics of 4 clips amplify float rounding: 0.5% of the update's size, plus 1e-5 for
    updates that are rounding noise themselves (a convolution bias under a BN)."""
    backend, result = _result(checked, "check_weights_files")
    assert result["train_step_loss"] <= 1e-5, (backend, result)
    assert len(result["train_step_updates"]) == len(backend_checks.cross_model().weights)
    for path, difference, size in result["train_step_updates"]:
        assert difference <= 1e-5 + 5e-3 * size, (backend, path, difference, size)


def test_tall_one_column_kernels_on_jax_as_toeplitz_products_equal_keras_conv(checked):
    """On JAX (on a CPU), the Toeplitz forward and autodiff's gradients through it against keras'
    Conv2D, same weights; sums of up to 128 products, in float32. PyTorch keeps keras' Conv2D."""
    from zoo.kernels.single_channel_conv import TOEPLITZ_FORWARD_BACKENDS

    backend, result = _result(checked, "check_toeplitz_convolution")
    taken = backend in TOEPLITZ_FORWARD_BACKENDS
    assert (result["toeplitz_calls"] >= len(backend_checks.TOEPLITZ_CASES)) if taken else \
        (result["toeplitz_calls"] == 0), (backend, result)
    for taps, padding in backend_checks.TOEPLITZ_CASES:
        case = result[f"{taps}x1 {padding}"]
        assert case["forward"] <= 1e-5, (backend, taps, padding, case)
        for difference, size in case["updates"]:
            assert difference <= 1e-5 + 5e-3 * size, (backend, taps, padding, case)


def _recalibrated(backend, result):
    assert result["mean"] <= 1e-5 and result["variance"] <= 1e-4 and result["restored"], (backend, result)


def test_batch_norm_recalibration_averages_the_batches(checked):
    _recalibrated(*_result(checked, "check_batch_norm_recalibration"))


def test_batch_norm_recalibration_averages_the_batches_on_tensorflow():
    """TensorFlow's forward step is a tf.function: what it bakes in at its first trace."""
    _recalibrated("tensorflow", backend_checks.recalibration_errors())


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    return write_manifest(tmp_path_factory.mktemp("backend-manifest"), count=16)


@pytest.mark.parametrize("backend", BACKENDS)
def test_zoo_train_killed_then_resumed_trains_each_epoch_once(backend, manifest, tmp_path):
    out = tmp_path / "out"
    args = [sys.executable, "-m", "zoo.training", *SMALL_OPTIONS, f"--dataset=manifest:{manifest}", f"--out={out}",
            "--epochs=3"]
    first = subprocess.Popen(args, cwd=REPO, env=_environment(backend), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    history = out / "history.csv"
    kill_after_epochs(first, history, 1, timeout=300)
    second = subprocess.run(args, cwd=REPO, env=_environment(backend), capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    assert re.search(r"resuming after epoch [12]\b", second.stdout), second.stdout
    assert list(pd.read_csv(history).epoch) == [1, 2, 3]
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["roc_auc"] <= 1.0
    assert zoo.tag_names(zoo.load(str(out))) == sorted({"low", "high", "noise"})  # their run folder, read on TF


@pytest.mark.parametrize("backend", BACKENDS)
def test_benchmark_smoke_preset_fills_backend_and_measured_memory(backend, tmp_path):
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "benchmarks", "--preset=smoke", "--models=maxpool-frame-single",
                          f"--out={out}", f"--data_root={tmp_path / 'data'}"],
                         cwd=REPO, env=_environment(backend), capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    row = pd.read_csv(out / "results.csv").iloc[0]
    assert row["backend"] == backend
    assert 0.0 <= row["roc_auc"] <= 1.0 and row["latency_ms_p50"] > 0
    if backend == "jax":  # XLA's plan of the train step: more than the weights and the batch alone
        assert row["measured_train_memory_source"] == "jax plan"
        assert row["measured_train_memory_mb"] > row["params"] * 4 / 2**20
        assert row["planned_train_memory_mb_10s"] > row["planned_train_memory_mb"]
    else:  # no GPU here: nothing measured on PyTorch's CPU
        assert pd.isna(row["measured_train_memory_mb"])


DATA_PARALLEL = """
import sys, numpy as np, zoo
runs = {}
for strategy in ("default", "data_parallel"):
    result = zoo.train("maxpool-frame-single", "manifest:" + sys.argv[1], out_dir=sys.argv[2] + "/" + strategy,
                       epochs=1, batch_size=4, input_seconds=1, strategy=strategy, verbose=False)
    runs[strategy] = (result.history[0]["loss"], result.model.get_weights())
(loss_one, weights_one), (loss_two, weights_two) = runs["default"], runs["data_parallel"]
print(abs(loss_one - loss_two), max(float(np.abs(a - b).max()) for a, b in zip(weights_one, weights_two)))
"""


def test_jax_data_parallel_on_two_devices_trains_like_one(manifest, tmp_path):
    """Two host devices (XLA's --xla_force_host_platform_device_count): each global batch split
    over both. Adam moves a weight by at most its learning rate (1e-3) per step, so three steps
    bound what float-rounding differences in the gradients can do to a weight."""
    environment = {**_environment("jax"), "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    run = subprocess.run([sys.executable, "-c", DATA_PARALLEL, str(manifest), str(tmp_path)], cwd=REPO,
                         env=environment, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    loss_difference, weight_difference = map(float, run.stdout.split()[-2:])
    assert loss_difference <= 1e-4 and weight_difference <= 3 * 1e-3, run.stdout


WITHOUT_TENSORFLOW = """
import sys
sys.modules["tensorflow"] = None  # as on a machine without it: every import of it fails
import zoo
from zoo.datasets.input_pipelines import default_pipeline
result = zoo.train("maxpool-frame-single", "manifest:" + sys.argv[1], out_dir=sys.argv[2], epochs=2, batch_size=4,
                   input_seconds=1, verbose=False)
print(default_pipeline(), len(result.history), result.metrics["roc_auc"])
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_trains_where_tensorflow_is_not_installed(backend, manifest, tmp_path):
    """The NumPy input pipeline (zoo.datasets.numpy_pipeline) and no TensorBoard events."""
    run = subprocess.run([sys.executable, "-c", WITHOUT_TENSORFLOW, str(manifest), str(tmp_path / "out")], cwd=REPO,
                         env=_environment(backend), capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    pipeline, epochs, roc_auc = run.stdout.split()[-3:]
    assert pipeline == "numpy" and epochs == "2" and 0.0 <= float(roc_auc) <= 1.0
    assert (tmp_path / "out" / "model.keras").exists() and not (tmp_path / "out" / "tensorboard").exists()
