"""zoo.hear, the HEAR 2021 common API: hear-validator passes for the default model, vgg:msd and a run
folder trained here, on TensorFlow and PyTorch; the embeddings are the zoo's own (the taggram's
patches, musicnn's pooled features), on a regular grid of at most 50 ms, for any length."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import zoo
import zoo.hear
from zoo.audio.streaming import CHUNK_PATCHES
from zoo.hear.embedder import Embedder

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_training import SMALL_OPTIONS, write_manifest  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SR = 16000


def _noise(seconds, count=1, seed=0):
    return np.random.default_rng(seed).uniform(-0.5, 0.5, (count, int(seconds * SR))).astype(np.float32)


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """A zoo-train run folder (maxpool-frame-single: waveform in, any length), trained one epoch here."""
    from zoo.training.cli import main as zoo_train

    folder = tmp_path_factory.mktemp("hear")
    manifest = write_manifest(folder / "data", count=12)
    assert zoo_train([*SMALL_OPTIONS, f"--dataset=manifest:{manifest}", f"--out={folder / 'run'}", "--epochs=1"]) == 0
    return folder / "run"


@pytest.mark.parametrize("backend", ["tensorflow", "torch"])
@pytest.mark.parametrize("model", ["", "vgg:msd", "run folder"])
def test_hear_validator_passes(backend, model, run_folder):
    argument = str(run_folder) if model == "run folder" else model
    command = [shutil.which("hear-validator", path=os.path.dirname(sys.executable)), "zoo.hear"]
    result = subprocess.run(command + (["-m", argument] if argument else []), capture_output=True, text=True,
                            cwd=REPO, env={**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"},
                            timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "Looks good!" in result.stdout
    module = "torch" if backend == "torch" else "tensorflow"
    assert f"Received {module} Module" in result.stdout
    assert "less than or equal to 50ms" not in result.stderr  # the validator's warning for a coarser grid


@pytest.fixture(scope="module")
def musicnn():
    return zoo.hear.load_model()


def test_sizes_and_framework_of_the_default_model(musicnn):
    import tensorflow as tf

    assert isinstance(musicnn, tf.Module)
    assert (musicnn.sample_rate, musicnn.scene_embedding_size, musicnn.timestamp_embedding_size) == (16000, 1506, 753)
    embeddings, timestamps = zoo.hear.get_timestamp_embeddings(tf.constant(_noise(2.0, count=2)), musicnn)
    assert isinstance(embeddings, tf.Tensor) and embeddings.dtype == tf.float32 and timestamps.dtype == tf.float32
    assert embeddings.shape == (2, 125, 753)  # frame centres 0, 16, ..., 1984 ms inside the 2 s


def test_timestamp_embeddings_are_the_frames_tagging_computes(musicnn):
    audio = _noise(7.3)
    embeddings, timestamps = zoo.hear.get_timestamp_embeddings(audio, musicnn)
    assert isinstance(embeddings, np.ndarray)
    np.testing.assert_allclose(np.diff(timestamps[0]), 16.0, atol=1e-3)
    assert timestamps[0, 0] == 0 and timestamps[0, -1] < 7300
    frames = zoo.embeddings(audio[0], "musicnn")["frames"]  # tagging's whole patches: the tail dropped
    assert frames.shape == (2, 187, 753)
    np.testing.assert_allclose(embeddings[0, :374], frames.reshape(-1, 753), rtol=1e-4, atol=1e-4)
    features = zoo.embeddings(audio[0], "musicnn")
    frame_level = np.concatenate([features[n] for n in ("timbral", "temporal", "cnn1", "cnn2", "cnn3")], axis=-1)
    np.testing.assert_allclose(frames, frame_level, rtol=1e-5, atol=1e-5)


def test_scene_embeddings_are_the_mean_of_musicnns_pooled_features(musicnn):
    audio = _noise(7.3)
    features = zoo.embeddings(audio[0], "musicnn")
    expected = np.concatenate([features["max_pool"], features["mean_pool"]], axis=1).mean(axis=0)
    np.testing.assert_allclose(zoo.hear.get_scene_embeddings(audio, musicnn)[0], expected, rtol=1e-5, atol=1e-5)


def test_any_length_from_a_fraction_of_a_patch_to_several_chunks():
    embedder = Embedder("vgg:mtt")
    for seconds in (0.3, 1.07):
        embeddings, timestamps = embedder.timestamp_embeddings(_noise(seconds))
        assert embeddings.shape[:2] == timestamps.shape and 0 < timestamps[0, -1] < seconds * 1000
        assert embedder.scene_embeddings(_noise(seconds)).shape == (1, 256)
    seconds = 3 * CHUNK_PATCHES + 7.5  # more than one chunk of patches, and a tail
    embeddings, timestamps = embedder.timestamp_embeddings(_noise(seconds))
    steps = np.diff(timestamps[0].astype(np.float64))
    assert steps.max() <= 50 and steps.max() - steps.min() < 0.05  # float32 ms at 200 s: 1/64 ms apart
    assert seconds * 1000 - 50 < timestamps[0, -1] < seconds * 1000  # the tail is covered too
    # VGG's map: 2 frames per 3 s patch, each held over 30 grid steps.
    changes = np.flatnonzero(np.any(np.diff(embeddings[0], axis=0) != 0, axis=1))
    assert np.all(np.diff(changes) == 30)


def test_model_names_as_everywhere_in_the_zoo():
    clip = _noise(3.5)[0]
    by_name = zoo.tag(clip, model="vgg:msd", top_k=None)
    np.testing.assert_array_equal(by_name["score"], zoo.tag(clip, model="vgg", weights="msd", top_k=None)["score"])
    with pytest.raises(ValueError, match="names weights 'msd'"):
        zoo.tag(clip, model="vgg:msd", weights="other")
    assert zoo.tag_names(zoo.load("vgg:msd"))[:2] == zoo.tag_names(zoo.load("vgg", weights="msd"))[:2]
    with pytest.raises(zoo.UnknownModelError, match="Did you mean: musicnn"):
        zoo.hear.load_model("musicn:mtt")
    with pytest.raises(zoo.UnknownWeightsError):
        zoo.hear.load_model("musicnn:nope")


def test_bad_audio_and_models_are_one_line_errors(musicnn):
    with pytest.raises(ValueError, match=r"\[n_sounds, n_samples\]"):
        zoo.hear.get_scene_embeddings(_noise(1.0)[0], musicnn)
    with pytest.raises(TypeError, match="what zoo.hear.load_model returned"):
        zoo.hear.get_scene_embeddings(_noise(1.0), object())


def test_jax_returns_the_embedder_and_jax_arrays():
    script = ("import numpy as np, jax.numpy as jnp, zoo.hear as h; m = h.load_model('vgg:mtt'); "
              "e, t = h.get_timestamp_embeddings(jnp.zeros((2, 24000)), m); "
              "print(type(m).__name__, type(e).__module__.split('.')[0], e.shape, t.shape)")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO,
                            env={**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[:2] == ["Embedder", "jaxlib"] or result.stdout.split()[:2] == ["Embedder", "jax"]
