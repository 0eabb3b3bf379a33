"""Tagging with a model of one's own: a .keras file or a zoo-train run
folder through zoo.tag / taggram / embeddings and zoo-tag, for every kind of architecture, on the
one streaming path and every runtime."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import zoo
from zoo.audio.streaming import stream_patches
from zoo.cache import cache_dir
from zoo.files import CHECK_SUFFIX
from zoo.tagging import Analyser
from zoo.tagging.cli import main as zoo_tag

REPO = Path(__file__).resolve().parents[1]
SR = 16000
# One model of each kind: (model id, input_seconds: None takes any length, else a fixed input).
KINDS = {
    "log-mel, any length": ("maxpool-vertical", None),
    "log-mel, fixed input": ("dense-horizontal", 3.0),
    "waveform, any length": ("maxpool-frame-single", None),
    "waveform, fixed input": ("dense-sample-level", 3.0),
}


def _clip(seconds=10.3):
    t = np.arange(int(seconds * SR)) / SR
    noise = 0.05 * np.random.default_rng(3).standard_normal(len(t))
    return (0.3 * np.sin(2 * np.pi * 330 * t) * (1 + np.sin(2 * np.pi * 0.7 * t)) + noise).astype(np.float32)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """kind -> path of a saved random-weight model with its tag names."""
    import keras

    folder = tmp_path_factory.mktemp("own-models")
    keras.utils.set_random_seed(7)
    paths = {}
    for kind, (model_id, seconds) in KINDS.items():
        model = zoo.load(model_id, input_seconds=seconds, num_classes=3, tag_names=["calm", "busy", "odd"])
        paths[kind] = folder / f"{model_id}.keras"
        model.save(paths[kind])
    return paths


def _scores(analyser, audio, chunk_patches):
    chunks = stream_patches(audio, analyser.patching, analyser.input_kind, chunk_patches=chunk_patches)
    return np.concatenate([analyser.score(chunk)[0]["scores"] for chunk in chunks])


@pytest.mark.parametrize("kind", KINDS)
def test_chunk_by_chunk_equals_the_whole_clip(saved, kind):
    analyser = Analyser(saved[kind], top_k=None, runtime="tf")
    clip = _clip()
    chunked, whole = _scores(analyser, clip, 2), _scores(analyser, clip, 10_000)
    assert len(chunked) == 3
    np.testing.assert_allclose(chunked, whole, atol=1e-5)
    if analyser.input_kind == "waveform":  # the saved model itself on patches cut from the clip in memory
        model, samples, step = zoo.load(saved[kind]), analyser.patching.samples, analyser.patching.hop_frames * 256
        patches = np.stack([clip[i * step:i * step + samples] for i in range(len(whole))])
        np.testing.assert_allclose(whole, model.predict(patches, verbose=0), atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_the_patch_length_is_the_models_own(saved, kind):
    taggram = zoo.taggram(_clip(), model=saved[kind])
    assert list(taggram.columns) == ["calm", "busy", "odd"]
    step = taggram.index[1] - taggram.index[0]
    assert step == pytest.approx(3.008 if KINDS[kind][1] else 2.992)  # 188 frames for 48000 samples, else 187


@pytest.mark.parametrize("runtime", ["onnx", "tflite"])
@pytest.mark.parametrize("kind", KINDS)
def test_every_runtime_gives_the_keras_scores(saved, kind, runtime):
    expected = zoo.taggram(_clip(), model=saved[kind], runtime="tf").to_numpy()
    np.testing.assert_allclose(zoo.taggram(_clip(), model=saved[kind], runtime=runtime).to_numpy(), expected,
                               atol=1e-4)


def test_every_model_offers_its_embedding_and_pooled_features(saved):
    features = zoo.embeddings(_clip(), model=saved["log-mel, any length"], runtime="onnx")
    assert sorted(features) == ["embedding", "frames", "penultimate", "pooled"]
    np.testing.assert_array_equal(features["penultimate"], features["embedding"])
    assert features["penultimate"].shape == (3, 200) and len(features["pooled"]) == 3
    assert features["frames"].shape[:2] == (3, 187)  # the front-end's map, frame by frame
    assert sorted(zoo.embeddings(_clip(), model=saved["waveform, fixed input"])) == ["embedding", "frames",
                                                                                      "penultimate"]


def test_a_run_folder_tags_on_its_training_crop(saved, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(saved["waveform, any length"], run / "model.keras")
    (run / "run.json").write_text(json.dumps({"model": "maxpool-frame-single", "recipe.input_seconds": 1.0}))
    taggram = zoo.taggram(_clip(), model=run)
    assert taggram.index[1] == pytest.approx(62 * 256 / SR)  # 1 s: 62 frames, as musicnn counts them
    assert len(taggram) == 10


def test_zoo_tag_with_a_model_file_embeddings_and_a_conversion_per_content(saved, tmp_path, capsys):
    import keras
    import soundfile

    path = tmp_path / "mine.keras"
    shutil.copy(saved["log-mel, any length"], path)
    audio = tmp_path / "song.wav"
    soundfile.write(audio, _clip(), SR)
    output = tmp_path / "tags.jsonl"
    status = zoo_tag([str(audio), "--model", str(path), "--format", "jsonl", "--output", str(output),
                      "--embeddings", "embedding,taggram", "--embeddings_dir", str(tmp_path / "emb")])
    assert status == 0, capsys.readouterr().err
    (record,) = [json.loads(line) for line in output.read_text().splitlines()]
    assert sorted(t["tag"] for t in record["tags"]) == ["busy", "calm", "odd"]
    arrays = np.load(tmp_path / "emb" / "song.wav.npz")
    assert arrays["taggram"].shape == (3, 3) and arrays["embedding"].shape == (3, 200)
    before = set(os.listdir(cache_dir("runtimes")))
    model = keras.models.load_model(path)
    model.get_layer("head_logits").set_weights([w + 1.0 for w in model.get_layer("head_logits").get_weights()])
    model.save(path)  # the same path, other content: converted again, never mixed up
    changed = zoo.tag(audio, model=path, top_k=None, runtime="onnx")
    new = {name for name in set(os.listdir(cache_dir("runtimes"))) - before if not name.endswith(CHECK_SUFFIX)}
    assert len(new) == 1 and next(iter(new)).startswith("file-")
    first = {t["tag"]: t["score"] for t in record["tags"]}
    assert all(abs(first[t] - s) > 1e-3 for t, s in zip(changed.tag, changed.score))
    # Once converted, a zoo-tag run with the file imports no TensorFlow.
    code = ("import sys; from zoo.tagging.cli import main; status = main(sys.argv[1:]); "
            "print(status, 'tensorflow' in sys.modules, 'keras' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code, str(audio), "--model", str(path), "--runtime", "onnx"],
                          capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "0 False False"


def test_zoo_tag_refuses_a_foreign_model_file_in_one_line(tmp_path, capsys):
    import keras

    inputs = keras.Input((4,))
    keras.Model(inputs, keras.layers.Dense(2)(inputs)).save(tmp_path / "plain.keras")
    status = zoo_tag([str(tmp_path / "song.wav"), "--model", str(tmp_path / "plain.keras")])
    error = capsys.readouterr().err.strip()
    assert status == 2 and len(error.splitlines()) == 1 and "not a zoo tagging model" in error
    status = zoo_tag([str(tmp_path / "song.wav"), "--model", str(tmp_path / "plain.keras"), "--weights", "msd"])
    assert status == 2 and "carries its own weights" in capsys.readouterr().err


@pytest.mark.parametrize("runtime", ["tf", "onnx", "tflite"])
@pytest.mark.parametrize("kind", ["waveform, fixed input", "log-mel, fixed input"])
def test_zoo_tag_on_every_runtime_gives_the_streamed_scores(saved, kind, runtime, tmp_path, capsys):
    import soundfile

    audio = tmp_path / "song.flac"
    soundfile.write(audio, _clip(), SR)
    output = tmp_path / "tags.jsonl"
    assert zoo_tag([str(audio), "--model", str(saved[kind]), "--runtime", runtime, "--top-k", "3",
                    "--format", "jsonl", "--output", str(output)]) == 0, capsys.readouterr().err
    (record,) = [json.loads(line) for line in output.read_text().splitlines()]
    whole = _scores(Analyser(saved[kind], top_k=None, runtime="tf"), _clip(), 10_000).mean(axis=0)
    expected = dict(zip(["calm", "busy", "odd"], whole))
    np.testing.assert_allclose([t["score"] for t in record["tags"]], [expected[t["tag"]] for t in record["tags"]],
                               atol=1e-4)
