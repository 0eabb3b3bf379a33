"""The reduced-precision tagging runtimes (onnx-int8, keras-bf16, tflite-int8, tflite-fp16): scores
within the tolerances benchmarks/results/quantization.md measured, int8 conversions cached per
calibration and made again when damaged, one-line errors. Calibration sets are small here (two
rendered GM clips, or one file of one's own): the suite stays fast."""
import json
import logging
import os

import numpy as np
import pytest
import soundfile as sf

import zoo
from zoo.cache import CACHE_ENV, cache_dir
from zoo.tagging import calibration
from zoo.tagging.calibration import Calibration, CalibrationAudioError
from zoo.tagging.runtimes import CalibratedRuntime, RuntimeUnavailable, make_runtime, runtime_name

SR = 16000
# Per-patch |score difference| from fp32 ONNX Runtime, measured on real music for the pretrained
# models (quantization.md), with room for a two-clip calibration and another CPU's rounding.
INT8_MAX, INT8_MEAN = 0.15, 0.01
BF16_MAX = 0.03  # measured <= 0.012
FP16_MAX = 0.005  # measured <= 0.0013
TFLITE_INT8_MEAN = 0.05  # measured 0.018 (musicnn MTT); full int8 moves single scores by up to 0.4-0.7


@pytest.fixture(scope="module")
def small_calibration():
    """Two rendered GM clips (the default calibration, smaller), and a third clip to tag."""
    patcher = pytest.MonkeyPatch()
    patcher.setattr(calibration, "DEFAULT_CLIPS", 2)
    try:
        files = Calibration().audio_files()
    except CalibrationAudioError as error:
        pytest.skip(f"cannot render music: {error}")
    yield files
    patcher.undo()


@pytest.fixture(scope="module")
def song(small_calibration, tmp_path_factory):
    """A GM clip no calibration here saw (another seed), 10 s."""
    return Calibration(clips=1, seed=99).audio_files()[0]


def _taggram(song, runtime, **options):
    return zoo.taggram(song, runtime=runtime, **options).to_numpy()


def _top5(scores):
    return set(np.argsort(-scores.mean(axis=0))[:5])


def test_onnx_int8_is_near_fp32_and_keeps_the_top_tags(small_calibration, song):
    fp32, int8 = _taggram(song, "onnx"), _taggram(song, "onnx-int8")
    difference = np.abs(int8 - fp32)
    assert difference.max() <= INT8_MAX and difference.mean() <= INT8_MEAN
    assert len(_top5(int8) & _top5(fp32)) >= 4


def test_onnx_int8_gives_embeddings_too(small_calibration, song):
    fp32 = zoo.embeddings(song, runtime="onnx")
    int8 = zoo.embeddings(song, runtime="onnx-int8")
    assert set(int8) == set(fp32)
    for name in ("penultimate", "max_pool"):
        assert np.corrcoef(int8[name].ravel(), fp32[name].ravel())[0, 1] > 0.99


def test_keras_bf16_is_near_keras_and_gives_embeddings(song):
    difference = np.abs(_taggram(song, "keras-bf16") - _taggram(song, "keras"))
    assert difference.max() <= BF16_MAX
    embedding = zoo.embeddings(song, runtime="keras-bf16")["penultimate"]
    assert embedding.dtype == np.float32 and np.isfinite(embedding).all()


def test_tflite_fp16_and_int8(small_calibration, song):
    fp32 = _taggram(song, "onnx")
    assert np.abs(_taggram(song, "tflite-fp16") - fp32).max() <= FP16_MAX
    int8 = _taggram(song, "tflite-int8")
    assert np.abs(int8 - fp32).mean() <= TFLITE_INT8_MEAN and ((int8 >= 0) & (int8 <= 1)).all()


# --- caching, healing and errors on a small model of one's own (conversions take seconds) --------

@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def _clip(seconds=7.0, pitch=330):
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * pitch * t) * (1 + np.sin(2 * np.pi * 0.7 * t))).astype(np.float32)


@pytest.fixture
def own_audio(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    for pitch in (220, 440):
        sf.write(folder / f"{pitch}.wav", _clip(pitch=pitch), SR)
    return folder


@pytest.mark.parametrize("runtime, suffix", [("onnx-int8", ".onnx"), ("tflite-int8", ".tflite")])
def test_int8_conversions_are_cached_per_calibration_and_heal(cache, caplog, own_model, own_audio, monkeypatch,
                                                              runtime, suffix):
    caplog.set_level(logging.WARNING, logger="zoo.cache")
    mine = CalibratedRuntime(runtime, files=(str(own_audio),))
    before = _taggram(_clip(), runtime=mine, model=own_model)
    (converted,) = cache_dir("runtimes").glob(f"*-int8-*files-*{suffix}")
    assert Calibration(files=(str(own_audio),)).key in converted.name
    stamp = os.stat(converted).st_mtime_ns
    np.testing.assert_array_equal(_taggram(_clip(), runtime=mine, model=own_model), before)
    assert os.stat(converted).st_mtime_ns == stamp  # reused, not converted again
    with open(converted, "r+b") as handle:  # damaged: converted again, the same, with one warning
        handle.seek(os.path.getsize(converted) // 2)
        handle.write(b"\0" * 16)
    np.testing.assert_allclose(_taggram(_clip(), runtime=mine, model=own_model), before, atol=1e-6)
    (record,) = [r for r in caplog.records if r.name == "zoo.cache"]
    assert str(converted) in record.getMessage() and "rebuilt" in record.getMessage()
    _taggram(_clip(), runtime=CalibratedRuntime(runtime, files=(str(own_audio),), clips=1), model=own_model)
    assert len(list(cache_dir("runtimes").glob(f"*-int8-*files-*{suffix}"))) == 2  # another calibration


def test_zoo_tag_runs_onnx_int8_calibrated_on_rendered_clips(small_calibration, cache, own_model, tmp_path,
                                                             monkeypatch):
    from zoo.tagging.cli import main as zoo_tag

    monkeypatch.setattr(calibration, "DEFAULT_CLIPS", 2)
    audio = tmp_path / "song.wav"
    sf.write(audio, _clip(), SR)
    output = tmp_path / "tags.jsonl"
    assert zoo_tag([str(audio), "--model", str(own_model), "--runtime", "onnx-int8", "--format", "jsonl",
                    "--output", str(output)]) == 0
    (record,) = [json.loads(line) for line in output.read_text().splitlines()]
    assert record["tags"] and list(cache_dir("runtimes").glob("*-int8-w7-gm2s28.onnx"))
    mine = tmp_path / "mine.jsonl"  # calibrated on the user's own file instead
    assert zoo_tag([str(audio), "--model", str(own_model), "--runtime", "onnx-int8", "--calibration", str(audio),
                    "--format", "jsonl", "--output", str(mine)]) == 0
    assert json.loads(mine.read_text())["tags"] and list(cache_dir("runtimes").glob("*-int8-w7-files-*.onnx"))


def test_errors_are_one_line(own_model, tmp_path, capsys):
    from zoo.tagging.cli import main as zoo_tag

    with pytest.raises(ValueError, match="known: .*onnx-int8.*keras-bf16.*tflite-int8.*tflite-fp16"):
        runtime_name("int4")
    with pytest.raises(ValueError, match="runtime 'onnx' takes no calibration; calibrated runtimes: onnx-int8"):
        make_runtime(CalibratedRuntime("onnx", files=("x.wav",)), None)
    missing = tmp_path / "missing.wav"
    with pytest.raises(ValueError, match=f"calibration file {missing} does not exist"):
        Calibration(files=(str(missing),)).audio_files()
    with pytest.raises(ValueError, match="calibration clips must be a positive integer"):
        Calibration(clips=0)
    with pytest.raises(RuntimeUnavailable, match="computes the tag scores only"):
        make_runtime("tflite-int8", None, ("penultimate",))
    audio = tmp_path / "song.wav"
    sf.write(audio, _clip(), SR)
    assert zoo_tag([str(audio), "--runtime", "tflite-fp16", "--embeddings", "penultimate", "--embeddings_dir",
                    str(tmp_path)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "need --runtime" in line
    assert zoo_tag([str(audio), "--calibration", str(audio)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "--calibration applies to --runtime onnx-int8 or tflite-int8, not onnx" in line


def test_int8_quantization_refuses_bad_options():
    from zoo.conversion.errors import ConversionError
    from zoo.conversion.onnx_int8 import quantize_onnx_int8
    from zoo.conversion.to_tflite import convert_to_tflite

    with pytest.raises(ValueError, match="unknown calibration method 'kl'; known: percentile, minmax, entropy"):
        quantize_onnx_int8(b"", np.zeros((1, 4)), method="kl")
    with pytest.raises(ValueError, match="needs calibration inputs"):
        quantize_onnx_int8(b"", np.zeros((0, 4)))
    with pytest.raises(ValueError, match="unknown TFLite quantization 'int4'"):
        convert_to_tflite(None, quantization="int4")
    with pytest.raises(ValueError, match="needs calibration inputs"):
        convert_to_tflite(None, quantization="int8")
    with pytest.raises(ConversionError, match="int8 quantization failed"):
        quantize_onnx_int8(b"not a model", np.zeros((1, 4)))


def test_no_soundfont_is_one_line_saying_what_to_do(monkeypatch):
    from zoo.datasets import gm
    from zoo.datasets.fluidsynth import SoundfontNotFoundError

    def missing(*args, **kwargs):
        raise SoundfontNotFoundError("no General-MIDI soundfont found")

    monkeypatch.setattr(gm, "make_gm_dataset", missing)
    with pytest.raises(CalibrationAudioError) as raised:
        Calibration(seed=12345).audio_files()
    message = str(raised.value)
    assert "\n" not in message and "install fluidsynth" in message and "CalibratedRuntime" in message
