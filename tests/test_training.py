"""zoo.train / zoo-train: manifests, outputs, kill-and-resume, fine-tuning, two workers, errors."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

import zoo
from zoo.datasets.manifest import ManifestError, load_manifest
from zoo.training import RECIPES, resolve_recipe
from zoo.training.cli import main as zoo_train
from zoo.training.run_directory import RunDirectory

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TAGS = ("low", "high", "noise")
SMALL_MODEL = "maxpool-frame-single"
SMALL_OPTIONS = ["--model", SMALL_MODEL, "--batch_size=4", "--input_seconds=1"]


def _clip(index, rate, rng, seconds=2.5):
    """A few seconds of tones and noise whose content is its tags."""
    t = np.arange(int(seconds * rate)) / rate
    tags = [TAGS[index % 3]] + ([TAGS[(index + 1) % 3]] if index % 4 == 0 else [])
    audio = np.zeros_like(t)
    if "low" in tags:
        audio += 0.4 * np.sin(2 * np.pi * 220 * t)
    if "high" in tags:
        audio += 0.4 * np.sin(2 * np.pi * 3520 * t)
    if "noise" in tags:
        audio += 0.2 * rng.standard_normal(len(t))
    return audio.astype(np.float32), tags


def write_manifest(folder, count=30, with_split=False, name="manifest.csv"):
    """wav/flac/ogg files at 22.05 and 44.1 kHz, mono and stereo, in a subfolder, and their CSV."""
    os.makedirs(folder / "audio", exist_ok=True)
    rng = np.random.default_rng(0)
    rows = []
    for index in range(count):
        rate = (22050, 44100, 16000)[index % 3]
        audio, tags = _clip(index, rate, rng)
        if index % 2:
            audio = np.stack([audio, 0.5 * audio], axis=1)  # stereo
        extension = ("wav", "flac", "ogg")[index % 3]
        relative = f"audio/clip{index:03d}.{extension}"
        sf.write(folder / relative, audio, rate)
        split = ("train",) * 6 + ("valid", "test")
        rows.append({"path": relative, "tags": ";".join(tags), **({"split": split[index % 8]} if with_split else {})})
    pd.DataFrame(rows).to_csv(folder / name, index=False)
    return folder / name


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    return write_manifest(tmp_path_factory.mktemp("manifest"))


def _cli(*args, env=None, **popen):
    environment = {**os.environ, **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "zoo.training", *args], cwd=REPO, env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


# --- manifests -----------------------------------------------------------------------------------

def test_manifest_resamples_mixes_down_and_splits(manifest):
    data = load_manifest(manifest, seed=3)
    assert data.tags == tuple(sorted(TAGS))
    counts = data.annotations["split"].value_counts().to_dict()
    assert counts == {"train": 24, "valid": 3, "test": 3}  # seeded 80/10/10 by file
    again = load_manifest(manifest, seed=3)
    assert list(again.annotations["source"]) == list(data.annotations["source"])
    assert list(again.annotations["split"]) == list(data.annotations["split"])
    cached = data.audio_paths("train")[0]
    info = sf.info(cached)
    assert (info.samplerate, info.channels) == (16000, 1)
    assert abs(info.duration - 2.5) < 1e-3


def test_manifest_audio_is_prepared_once(manifest):
    from zoo.cache import cache_dir

    load_manifest(manifest)
    folder = cache_dir("manifest-audio")
    stamps = {p: os.stat(folder / p).st_mtime_ns for p in os.listdir(folder)}
    load_manifest(manifest)
    assert {p: os.stat(folder / p).st_mtime_ns for p in os.listdir(folder)} == stamps


@pytest.mark.parametrize("edit, expected", [
    (lambda f: f.drop(columns=["tags"]), r"missing column\(s\) tags"),
    (lambda f: f.assign(tags=["" if i in (2, 5) else t for i, t in enumerate(f.tags)]),
     r"2 rows without tags \(line 4; line 7\)"),
    (lambda f: f.assign(path=[p if i != 1 else "audio/gone.wav" for i, p in enumerate(f.path)]),
     r"1 row with missing or undecodable audio \(line 3: no such file .*gone.wav\)"),
    (lambda f: f.assign(split=["train"] * len(f)), r"empty split\(s\) valid, test"),
    (lambda f: f.assign(split=["train", "validation"] + ["train"] * (len(f) - 2)),
     r"1 row with a split other than train/valid/test \(line 3: 'validation'\)"),
])
def test_bad_manifest_is_one_clear_error_and_writes_nothing(manifest, tmp_path, capsys, edit, expected):
    frame = edit(pd.read_csv(manifest, keep_default_na=False))
    bad = manifest.parent / f"bad-{abs(hash(expected))}.csv"
    frame.to_csv(bad, index=False)
    out = tmp_path / "out"
    status = zoo_train([*SMALL_OPTIONS, f"--dataset=manifest:{bad}", f"--out={out}", "--epochs=1"])
    error = capsys.readouterr().err.strip()
    assert status == 1
    assert len(error.splitlines()) == 1 and error.startswith("zoo-train: error: manifest")
    assert re.search(expected, error), error
    assert not out.exists()


def test_undecodable_file_is_named_and_can_be_skipped(manifest, tmp_path, capsys):
    broken = manifest.parent / "audio" / "broken.flac"
    broken.write_bytes(b"fLaC" + b"\x00" * 100)
    frame = pd.read_csv(manifest)
    frame.loc[len(frame)] = {"path": "audio/broken.flac", "tags": "noise"}
    bad = manifest.parent / "with-broken.csv"
    frame.to_csv(bad, index=False)
    with pytest.raises(ManifestError, match=r"1 row with missing or undecodable audio \(line 32: .*broken.flac"):
        load_manifest(bad)
    data = load_manifest(bad, skip_bad_files=True)
    assert data.info["skipped_files"] == 1 and data.info["files"] == 30


# --- training ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def trained(manifest, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "out"
    status = zoo_train([*SMALL_OPTIONS, f"--dataset=manifest:{manifest}", f"--out={out}", "--epochs=2"])
    assert status == 0
    return out


def test_two_epochs_from_scratch_write_every_output(trained):
    history = pd.read_csv(trained / "history.csv")
    assert list(history.epoch) == [1, 2]
    assert {"loss", "val_loss", "learning_rate", "val_roc_auc"} <= set(history.columns)
    metrics = json.loads((trained / "metrics.json").read_text())
    assert 0.0 <= metrics["roc_auc"] <= 1.0 and 0.0 <= metrics["pr_auc"] <= 1.0
    per_tag = pd.read_csv(trained / "per_tag.csv")
    assert sorted(per_tag.tag) == sorted(TAGS)
    assert os.listdir(trained / "tensorboard")
    model = keras.models.load_model(trained / "model.keras")
    assert zoo.tag_names(model) == sorted(TAGS)
    scores = model.predict(np.zeros((1, 16000), "float32"), verbose=0)
    assert scores.shape == (1, 3)


def test_zoo_load_takes_the_run_folder(trained):
    from zoo.models.model_files import model_file

    model = zoo.load(trained)
    saved = keras.models.load_model(trained / "model.keras")
    assert zoo.tag_names(model) == sorted(TAGS)
    waveform = np.random.default_rng(1).standard_normal((2, 16000)).astype("float32")
    np.testing.assert_array_equal(model.predict(waveform, verbose=0), saved.predict(waveform, verbose=0))
    described = model_file(trained)
    assert described.training_seconds == 1 and described.run_folder == str(trained)


def test_rerunning_a_finished_run_trains_nothing(trained, manifest, capsys):
    stamp = os.stat(trained / "model.keras").st_mtime_ns
    status = zoo_train([*SMALL_OPTIONS, f"--dataset=manifest:{manifest}", f"--out={trained}", "--epochs=2"])
    assert status == 0
    assert "already holds a finished run" in capsys.readouterr().out
    assert os.stat(trained / "model.keras").st_mtime_ns == stamp


def test_other_settings_in_the_same_out_are_refused(trained, manifest, capsys):
    status = zoo_train([*SMALL_OPTIONS, f"--dataset=manifest:{manifest}", f"--out={trained}", "--epochs=5"])
    assert status == 1
    assert "recipe.epochs: 2 there, 5 now" in capsys.readouterr().err


def kill_after_epochs(process, history, epochs, timeout=240):
    """SIGKILL ``process`` (a zoo-train run) once ``history`` (its history.csv) holds ``epochs`` rows."""
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None:
        if history.exists() and len(pd.read_csv(history)) >= epochs:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"


def test_sigkill_then_rerun_trains_each_epoch_once(manifest, tmp_path):
    out = tmp_path / "out"
    args = [*SMALL_OPTIONS, f"--dataset=manifest:{manifest}", f"--out={out}", "--epochs=8"]
    history = out / "history.csv"
    assert RunDirectory(out).trained_seconds() == 0.0
    kill_after_epochs(_cli(*args), history, 2)
    killed = pd.read_csv(history)
    done = len(killed)
    # what the benchmark adds to a resumed model's train_seconds: the killed run's epochs
    assert RunDirectory(out).trained_seconds() == pytest.approx(killed.seconds.sum() + killed.checkpoint_seconds.sum())
    assert RunDirectory(out).trained_seconds() > 0
    second = _cli(*args)
    output, errors = second.communicate(timeout=300)
    assert second.returncode == 0, errors
    resumed = int(re.search(r"resuming after epoch (\d+)", output).group(1))
    assert done <= resumed < 8
    assert list(pd.read_csv(history).epoch) == list(range(1, 9))
    assert (out / "metrics.json").exists()


def test_fine_tune_from_mtt_with_frozen_front_end(manifest, tmp_path):
    pretrained = zoo.load("musicnn", weights="mtt")
    result = zoo.train("musicnn", f"manifest:{manifest}", out_dir=tmp_path / "ft", weights="mtt",
                       freeze="frontend", epochs=1, batch_size=4, input_seconds=3, verbose=False)
    model = result.model
    assert zoo.tag_names(model) == sorted(TAGS)
    front = [layer for layer in model.layers if layer.name.startswith("frontend_") and layer.weights]
    assert front
    for layer in front:  # kernels and BN statistics alike
        for ours, theirs in zip(layer.get_weights(), pretrained.get_layer(layer.name).get_weights()):
            np.testing.assert_array_equal(ours, theirs)
    mid = model.get_layer("midend_conv1").get_weights()[0]
    assert not np.array_equal(mid, pretrained.get_layer("midend_conv1").get_weights()[0])
    saved = keras.models.load_model(tmp_path / "ft" / "model.keras")
    assert zoo.tag_names(saved) == sorted(TAGS)
    # A fresh process: `import zoo` alone registers every custom layer the file needs, whether
    # Keras is imported before or after zoo (zoo.models.keras_registration).
    for imports in ("sys, keras, zoo", "sys, zoo, keras"):
        load = f"import {imports}; m = keras.models.load_model(sys.argv[1]); print(zoo.tag_names(m))"
        loaded = subprocess.run([sys.executable, "-c", load, str(tmp_path / "ft" / "model.keras")],
                                capture_output=True, text=True, cwd=REPO)
        assert loaded.returncode == 0, loaded.stderr[-2000:]
        assert loaded.stdout.strip().endswith(str(sorted(TAGS)))


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_train_identical_weights_and_only_the_chief_writes(manifest, tmp_path):
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    workers = []
    for index in range(2):
        config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        workers.append(_cli(*SMALL_OPTIONS, f"--dataset=manifest:{manifest}", f"--out={tmp_path / f'out{index}'}",
                            "--epochs=2", "--strategy=multi_worker", env={"TF_CONFIG": config}))
    outputs = [worker.communicate(timeout=300) for worker in workers]
    for worker, (_, errors) in zip(workers, outputs):
        assert worker.returncode == 0, errors
    fingerprints = [re.search(r"weights ([0-9a-f]{16})", output).group(1) for output, _ in outputs]
    assert fingerprints[0] == fingerprints[1]
    assert "2 replica(s)" in outputs[0][0]
    assert (tmp_path / "out0" / "metrics.json").exists()
    assert not (tmp_path / "out1").exists()


# --- recipes, flags and the model boundary --------------------------------------------------------

def test_recipes_are_a_table_and_flags_override_them():
    assert {"default", "musicnn", "won2020"} <= set(RECIPES)
    musicnn = RECIPES["musicnn"]
    assert (musicnn.batch_size, musicnn.l2, musicnn.plateau_patience, musicnn.phases[0].learning_rate) == \
        (32, 1e-5, 75, 1e-3)
    won = resolve_recipe("won2020", epochs=14)
    assert [won.phase_at(e, 14)[1].optimizer for e in (0, 7, 8, 13)] == ["adam", "adam", "sgd", "sgd"]
    assert [won.phase_at(e, 14)[1].learning_rate for e in (8, 10, 12)] == [1e-3, 1e-4, 1e-5]
    assert won.phases[1].reload_best
    with pytest.raises(ValueError, match="unknown recipe 'musicn'"):
        resolve_recipe("musicn")


@pytest.mark.parametrize("flag, message", [
    ("--freeze=everything", "--freeze"),
    ("--strategy=tpu", "--strategy"),
])
def test_bad_flags_exit_2_with_one_line(manifest, tmp_path, capsys, flag, message):
    status = zoo_train([*SMALL_OPTIONS, f"--dataset=manifest:{manifest}", f"--out={tmp_path}", flag])
    error = capsys.readouterr().err.strip()
    assert status == 2 and len(error.splitlines()) == 1 and message in error


@pytest.mark.parametrize("args, message", [
    (["--model=musicnn-vertical-horizonal"], "Did you mean: musicnn-vertical-horizontal"),
    (["--model=maxpool-vertical", "--weights=mtt"], "No pretrained weights 'mtt' for 'maxpool-vertical'"),
    (["--model=maxpool-small-rectangular", "--input_seconds=0.5"], "needs at least 16640"),
    (["--model=maxpool-vertical", "--dataset=nothing"], "unknown dataset 'nothing'"),
])
def test_bad_input_exits_1_with_one_line(manifest, tmp_path, capsys, args, message):
    base = {"--dataset": f"--dataset=manifest:{manifest}", "--out": f"--out={tmp_path / 'out'}"}
    given = {arg.split("=")[0] for arg in args}
    status = zoo_train(args + [v for k, v in base.items() if k not in given] + ["--epochs=1"])
    error = capsys.readouterr().err.strip()
    assert status == 1 and len(error.splitlines()) == 1 and message in error, error
    assert not (tmp_path / "out").exists()


def test_too_short_input_seconds_names_the_minimum():
    with pytest.raises(ValueError, match=r"input_seconds=0.01 is too short .* needs at least 16640"):
        zoo.load("maxpool-small-rectangular", input_seconds=0.01)


def test_too_short_waveform_to_a_length_agnostic_model_names_the_minimum():
    model = zoo.load("maxpool-small-rectangular", input_seconds=None)
    with pytest.raises(ValueError, match=r"needs waveforms of at least 16640 samples .* got 300"):
        model(np.zeros((1, 300), "float32"))
    with pytest.raises(ValueError, match=r"at least 16640 samples"):
        model.predict(np.zeros((2, 8000), "float32"), verbose=0)
    assert model(np.zeros((1, 16640), "float32")).shape == (1, 50)


def test_num_classes_must_be_positive():
    with pytest.raises(ValueError, match="num_classes must be a positive integer .* got 0"):
        zoo.load("maxpool-vertical", num_classes=0)


def test_pretrained_body_with_a_new_head():
    model = zoo.load("musicnn", weights="mtt", num_classes=3, tag_names=["a", "b", "c"])
    assert zoo.tag_names(model) == ["a", "b", "c"] and model.output_shape == (None, 3)
    pretrained = zoo.load("musicnn", weights="mtt")
    for layer in model.layers:
        if layer.weights and layer.name != "head_logits":
            for ours, theirs in zip(layer.get_weights(), pretrained.get_layer(layer.name).get_weights()):
                np.testing.assert_array_equal(ours, theirs)
    assert len(zoo.tag_names(zoo.load("musicnn", weights="mtt", num_classes=50))) == 50


def test_learning_rate_scales_every_phase_and_is_checked():
    won = resolve_recipe("won2020", learning_rate=1e-5)
    assert [p.learning_rate for p in won.phases] == pytest.approx(
        [p.learning_rate / 10 for p in RECIPES["won2020"].phases])
    assert resolve_recipe("default", learning_rate=None) == RECIPES["default"]
    with pytest.raises(ValueError, match="learning_rate must be a positive number"):
        resolve_recipe("default", learning_rate=0.0)
