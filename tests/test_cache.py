"""The zoo cache heals (``zoo.files.cached_file``): every kind of cached file, cut short or with
changed bytes, is made again on its next use with one warning and gives what it gave before; one
that cannot be made again here is one error line that names the file and what to do.

Every test works in its own $ZOO_CACHE_DIR; the musicnn wheel is copied from the usual cache
(downloaded there on first use, as tests/test_pretrained.py does) and "downloaded" again by pip
from a local folder, so nothing here touches the network or the user's cache entries.
"""
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

import zoo
from zoo.cache import CACHE_ENV, cache_dir
from zoo.files import CHECK_SUFFIX, CacheEntryError, cached_file, entry_problem

REPO = Path(__file__).resolve().parents[1]
SR = 16000


def cut_short(path):
    with open(path, "r+b") as handle:
        handle.truncate(os.path.getsize(path) // 2)


def flip_bytes(path):
    # In the middle of the file: past any header, where only a checksum sees it.
    size = os.path.getsize(path)
    with open(path, "r+b") as handle:
        handle.seek(size // 2)
        data = handle.read(8)
        handle.seek(size // 2)
        handle.write(bytes(b ^ 0xFF for b in data))


DAMAGE = {"cut short": cut_short, "flipped bytes": flip_bytes}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def rebuilt_once(caplog, path):
    """The one warning of a rebuild, which names ``path``."""
    records = [r for r in caplog.records if r.name == "zoo.cache"]
    assert len(records) == 1, [r.getMessage() for r in records]
    message = records[0].getMessage()
    assert str(path) in message and "rebuilt" in message and "\n" not in message
    caplog.clear()
    return message


@pytest.fixture(autouse=True)
def _warnings(caplog):
    caplog.set_level(logging.WARNING, logger="zoo.cache")


# --- the helper itself ----------------------------------------------------------------------------

def _maker(calls, content=b"cached bytes " * 1000):
    def make(temporary):
        calls.append(temporary)
        Path(temporary).write_bytes(content)
    return make


def test_an_entry_is_made_once_with_its_sidecar_and_then_reused(tmp_path, caplog):
    path, calls = tmp_path / "entry.bin", []
    assert cached_file(path, _maker(calls), what="test entry") == str(path)
    assert cached_file(path, _maker(calls), what="test entry") == str(path)
    assert len(calls) == 1 and entry_problem(path) is None
    assert sorted(os.listdir(tmp_path)) == ["entry.bin", "entry.bin" + CHECK_SUFFIX]
    assert not caplog.records


@pytest.mark.parametrize("damage", [*DAMAGE, "unreadable sidecar"])
def test_a_damaged_entry_is_made_again_with_one_warning(tmp_path, caplog, damage):
    path, calls = tmp_path / "entry.bin", []
    cached_file(path, _maker(calls), what="test entry")
    if damage == "unreadable sidecar":
        Path(f"{path}{CHECK_SUFFIX}").write_text('{"size": 13')
    else:
        DAMAGE[damage](path)
    assert entry_problem(path) is not None
    cached_file(path, _maker(calls), what="test entry")
    assert len(calls) == 2 and path.read_bytes() == b"cached bytes " * 1000
    rebuilt_once(caplog, path)


def test_an_entry_of_the_previous_release_is_checked_by_its_format_once(tmp_path, caplog):
    path, calls = tmp_path / "entry.bin", []
    path.write_bytes(b"cached bytes " * 1000)  # as the previous release left it: no sidecar
    good = lambda p: Path(p).read_bytes().startswith(b"cached")  # noqa: E731
    cached_file(path, _maker(calls), what="test entry", check=good)
    assert not calls and entry_problem(path) is None and not caplog.records  # kept, sidecar added
    os.remove(f"{path}{CHECK_SUFFIX}")
    path.write_bytes(b"garbage")
    cached_file(path, _maker(calls), what="test entry", check=good)
    assert len(calls) == 1
    assert "format check" in rebuilt_once(caplog, path)
    os.remove(f"{path}{CHECK_SUFFIX}")  # without a format check, an entry without a sidecar is made again
    cached_file(path, _maker(calls), what="test entry")
    assert len(calls) == 2
    rebuilt_once(caplog, path)


def test_an_entry_that_cannot_be_made_again_is_one_error_line(tmp_path, caplog):
    path = tmp_path / "entry.bin"
    cached_file(path, _maker([]), what="test entry")
    cut_short(path)

    def offline(temporary):
        raise OSError("no network: copy entry.bin here by hand\n(details)")

    with pytest.raises(CacheEntryError) as error:
        cached_file(path, offline, what="test entry")
    message = str(error.value)
    assert "\n" not in message and str(path) in message and "copy entry.bin here by hand" in message
    assert not path.exists() and not caplog.records
    with pytest.raises(OSError, match="no network"):  # now merely missing: make's own error
        cached_file(path, offline, what="test entry")
    assert [name for name in os.listdir(tmp_path) if name.startswith(".partial")] == []


# --- ONNX and TFLite conversions (zoo.tagging.runtimes) -------------------------------------------

def _clip(seconds=7.0):
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * 330 * t) * (1 + np.sin(2 * np.pi * 0.7 * t))).astype(np.float32)


@pytest.mark.parametrize("runtime, suffix", [("onnx", ".onnx"), ("tflite", ".tflite")])
def test_a_damaged_conversion_is_converted_again(cache, caplog, own_model, runtime, suffix):
    before = zoo.taggram(_clip(), model=own_model, runtime=runtime).to_numpy()
    (converted,) = cache_dir("runtimes").glob(f"*{suffix}")
    for damage in DAMAGE.values():
        damage(converted)
        np.testing.assert_array_equal(zoo.taggram(_clip(), model=own_model, runtime=runtime).to_numpy(), before)
        rebuilt_once(caplog, converted)


def test_zoo_tag_says_in_one_line_when_a_damaged_conversion_cannot_be_made_again(cache, caplog, own_model, tmp_path,
                                                                                monkeypatch, capsys):
    import keras

    from zoo.tagging.cli import main as zoo_tag

    audio = tmp_path / "song.wav"
    sf.write(audio, _clip(), SR)
    assert zoo_tag([str(audio), "--model", str(own_model), "--output", str(tmp_path / "tags.txt")]) == 0
    (converted,) = cache_dir("runtimes").glob("*.onnx")
    flip_bytes(converted)
    monkeypatch.setattr(keras.config, "backend", lambda: "jax")  # converting needs Keras on TensorFlow
    capsys.readouterr()
    assert zoo_tag([str(audio), "--model", str(own_model), "--output", str(tmp_path / "again.txt")]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"zoo-tag: error: {converted} (ONNX conversion) was damaged")
    assert "KERAS_BACKEND=tensorflow" in line and not caplog.records


def test_a_conversion_of_the_previous_release_is_kept_if_onnx_runtime_opens_it(cache, caplog, own_model):
    before = zoo.taggram(_clip(), model=own_model, runtime="onnx").to_numpy()
    (converted,) = cache_dir("runtimes").glob("*.onnx")
    os.remove(f"{converted}{CHECK_SUFFIX}")
    stamp = os.stat(converted).st_mtime_ns
    np.testing.assert_array_equal(zoo.taggram(_clip(), model=own_model, runtime="onnx").to_numpy(), before)
    assert os.stat(converted).st_mtime_ns == stamp and entry_problem(converted) is None and not caplog.records


# --- musicnn: the wheel, its checkpoints and their conversion (pretrained) ------------------------

@pytest.fixture(scope="module")
def wheel_folder(tmp_path_factory):
    """A folder holding the musicnn wheel, which pip "downloads" from with --find-links."""
    from pretrained.source import MUSICNN_WHEEL, musicnn_wheel

    folder = tmp_path_factory.mktemp("wheelhouse")
    shutil.copy(musicnn_wheel(), folder / MUSICNN_WHEEL)
    return folder


@pytest.fixture
def pip_from(monkeypatch):
    """pip offline: finding packages in ``folder`` only (None: nowhere)."""
    def use(folder):
        monkeypatch.setenv("PIP_NO_INDEX", "1")
        if folder:
            monkeypatch.setenv("PIP_FIND_LINKS", str(folder))
        else:
            monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    monkeypatch.delenv("ZOO_MUSICNN_WHEEL", raising=False)
    return use


def test_a_damaged_wheel_is_downloaded_again(cache, caplog, wheel_folder, pip_from):
    from pretrained.source import MUSICNN_WHEEL, musicnn_wheel

    pip_from(wheel_folder)
    wheel = musicnn_wheel()
    original = (wheel_folder / MUSICNN_WHEEL).read_bytes()
    for damage in DAMAGE.values():
        damage(wheel)
        assert musicnn_wheel().read_bytes() == original
        rebuilt_once(caplog, wheel)


def test_a_damaged_wheel_offline_is_one_error_line_saying_what_to_do(cache, caplog, wheel_folder, pip_from):
    from pretrained.source import musicnn_wheel

    pip_from(wheel_folder)
    wheel = musicnn_wheel()
    cut_short(wheel)
    pip_from(None)
    with pytest.raises(CacheEntryError) as error:
        musicnn_wheel()
    message = str(error.value)
    assert "\n" not in message and str(wheel) in message and "ZOO_MUSICNN_WHEEL" in message
    assert not caplog.records
    # The command line: the same line, no traceback.
    pip_from(wheel_folder)
    musicnn_wheel()
    cut_short(wheel)
    pip_from(None)
    done = subprocess.run([sys.executable, "-m", "pretrained", "convert", "--only", "MTT_vgg"], cwd=REPO,
                          capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 1 and "Traceback" not in done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith(f"python -m pretrained: error: {wheel} (musicnn wheel) was damaged")


def test_damaged_checkpoint_files_are_unzipped_again(cache, caplog, wheel_folder, pip_from):
    from pretrained.source import CHECKPOINT_FILES, checkpoint_dir

    pip_from(wheel_folder)
    folder = checkpoint_dir("MTT_musicnn")
    original = {name: (folder / name).read_bytes() for name in CHECKPOINT_FILES}
    for damage in DAMAGE.values():
        damage(folder / ".index")
        assert checkpoint_dir("MTT_musicnn") == folder
        assert {name: (folder / name).read_bytes() for name in CHECKPOINT_FILES} == original
        rebuilt_once(caplog, folder / ".index")


def test_damaged_converted_weights_are_converted_again(cache, caplog, wheel_folder, pip_from):
    import h5py

    from pretrained import musicnn as ported

    def arrays(path):
        with h5py.File(path, "r") as handle:
            found = {}
            handle.visititems(lambda name, item: found.update({name: item[()]})
                              if isinstance(item, h5py.Dataset) else None)
            return found

    pip_from(wheel_folder)
    checkpoint = ported.find_checkpoint("MTT_musicnn")
    path = ported.convert(checkpoint)
    original = arrays(path)
    for damage in DAMAGE.values():
        damage(path)
        ported._pretrained_layers.cache_clear()
        model = zoo.load("musicnn", weights="mtt")  # what a user runs
        again = arrays(path)
        assert again.keys() == original.keys()
        assert all(np.array_equal(again[name], original[name]) for name in original)
        assert len(model.weights) > 0
        rebuilt_once(caplog, path)
    ported._pretrained_layers.cache_clear()


# --- decoded manifest audio and the rendered GM set (zoo.datasets) --------------------------------

def test_damaged_decoded_manifest_audio_is_decoded_again(cache, caplog, tmp_path):
    from zoo.datasets.manifest import load_manifest

    rng = np.random.default_rng(0)
    rows = []
    for i, split in enumerate(["train", "train", "valid", "test"]):
        sf.write(tmp_path / f"clip{i}.wav", 0.2 * rng.standard_normal((22050 * 2, 2)), 22050)
        rows.append({"path": f"clip{i}.wav", "tags": "noise", "split": split})
    manifest = tmp_path / "manifest.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    first = load_manifest(manifest)
    decoded = first.audio_path(first.annotations.iloc[0])
    original = Path(decoded).read_bytes()
    for damage in DAMAGE.values():
        damage(decoded)
        again = load_manifest(manifest)
        pd.testing.assert_frame_equal(again.annotations, first.annotations)
        assert again.clip_seconds == first.clip_seconds and Path(decoded).read_bytes() == original
        rebuilt_once(caplog, decoded)


@pytest.fixture
def tiny_gm(tmp_path):
    from zoo.datasets.fluidsynth import SoundfontNotFoundError, find_soundfont
    from zoo.datasets.gm import make_gm_dataset

    try:
        find_soundfont()
    except SoundfontNotFoundError as error:
        pytest.skip(str(error))
    settings = dict(n_train=1, n_valid=1, n_test=1, seed=3, clip_seconds=1.0, progress=False)
    return lambda: make_gm_dataset(tmp_path / "gm", **settings)


@pytest.mark.parametrize("file", ["a clip", "annotations.csv"])
def test_damaged_gm_files_are_made_again(caplog, tiny_gm, file):
    first = tiny_gm()
    path = first.audio_path(first.annotations.iloc[1]) if file == "a clip" else os.path.join(first.root, file)
    original = Path(path).read_bytes()
    for damage in DAMAGE.values():
        damage(path)
        again = tiny_gm()
        pd.testing.assert_frame_equal(again.annotations, first.annotations)
        assert Path(path).read_bytes() == original
        rebuilt_once(caplog, path)
