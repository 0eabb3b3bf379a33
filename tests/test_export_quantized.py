"""The int8 and float16 exports (``--onnx_int8``, ``--tflite_int8``, ``--tflite_fp16``): served
scores against zoo.tag's within the tolerances benchmarks/results/quantization.md justifies;
calibration from the user's files; one-line errors."""
import numpy as np
import pytest
import soundfile as sf

import zoo
from export.__main__ import main as export_main
from export.saved_model import build_servable_model
from export.to_onnx import export_onnx, onnx_predict
from export.to_tflite import export_tflite, tflite_predict
from zoo.tagging.calibration import Calibration, CalibrationAudioError

SR = 16000
# Served clip scores (the mean over the patches) against zoo.tag's fp32 ones, on a rendered clip:
# int8 ONNX measured 0.027 on 30 s of real music, the float16 TFLite 0.027 (its log-mel's DFT
# bases are float16 too), the int8 TFLite 0.19 (everything int8); room for another CPU and a
# two-clip calibration.
ONNX_INT8_TOLERANCE = 0.08
TFLITE_FP16_TOLERANCE = 0.05
TFLITE_INT8_TOLERANCE = 0.35


@pytest.fixture(scope="module")
def clips():
    """Two rendered GM clips to calibrate on, and another one to tag."""
    try:
        return Calibration(clips=2).audio_files(), Calibration(clips=1, seed=99).audio_files()[0]
    except CalibrationAudioError as error:
        pytest.skip(f"cannot render music: {error}")


@pytest.fixture(scope="module")
def musicnn():
    return build_servable_model("musicnn", weights="mtt")


def _zoo_tag_scores(song):
    from pretrained.tags import MTT_TAGS

    frame = zoo.tag(song, top_k=None, runtime="onnx")
    return frame.set_index("tag").loc[list(MTT_TAGS), "score"].to_numpy()


@pytest.mark.parametrize("form, quantization, tolerance", [
    ("onnx", "int8", ONNX_INT8_TOLERANCE), ("tflite", "fp16", TFLITE_FP16_TOLERANCE),
    ("tflite", "int8", TFLITE_INT8_TOLERANCE)])
def test_reduced_precision_exports_give_zoo_tags_answer_within_tolerance(clips, musicnn, tmp_path, form,
                                                                         quantization, tolerance):
    calibration_files, song = clips
    export, predict = {"onnx": (export_onnx, onnx_predict), "tflite": (export_tflite, tflite_predict)}[form]
    path = tmp_path / f"musicnn-{quantization}.{form}"
    exported = export(musicnn, path, quantization=quantization, calibration=Calibration(files=calibration_files))
    assert exported.quantization == quantization
    waveform, _ = sf.read(song, dtype="float32")
    served = predict(exported.path, waveform[None])[0]
    assert np.abs(served - _zoo_tag_scores(song)).max() <= tolerance


def _tone(seconds=4.0, pitch=220):
    t = np.arange(int(seconds * SR)) / SR
    return (0.4 * np.sin(2 * np.pi * pitch * t)).astype(np.float32)


def test_cli_writes_int8_and_fp16_files_calibrated_on_ones_own_audio(tmp_path, capsys):
    sf.write(tmp_path / "mine.wav", _tone(), SR)
    files = {name: tmp_path / f"m.{name}" for name in ("onnx_int8", "tflite_int8", "tflite_fp16")}
    status = export_main(["--model=maxpool-vertical", f"--base_path={tmp_path / 'models'}", "--no_warmup",
                          "--skip_op_check", f"--calibration={tmp_path / 'mine.wav'}",
                          *(f"--{name}={path}" for name, path in files.items())])
    assert status == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    key = Calibration(files=(str(tmp_path / "mine.wav"),)).key
    assert f"wrote {files['onnx_int8']} (int8, calibrated on {key})" in out
    clip = _tone(3.5, 330)[None]
    assert onnx_predict(files["onnx_int8"], clip).shape == tflite_predict(files["tflite_int8"], clip).shape
    assert np.isfinite(tflite_predict(files["tflite_fp16"], clip)).all()


def test_cli_calibration_errors_are_one_line(tmp_path, capsys):
    missing = tmp_path / "missing.wav"
    status = export_main(["--model=maxpool-vertical", f"--base_path={tmp_path / 'models'}", "--no_warmup",
                          "--skip_op_check", f"--calibration={missing}", f"--onnx_int8={tmp_path / 'm.onnx'}"])
    assert status == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == f"error: calibration file {missing} does not exist"
    with pytest.raises(ValueError, match="unknown ONNX quantization 'fp16'; known: int8"):
        export_onnx("maxpool-vertical", tmp_path / "m.onnx", quantization="fp16")
