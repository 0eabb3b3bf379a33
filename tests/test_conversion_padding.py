"""'same' convolutions whose kernel is shorter than their stride (frame-many's 128-sample kernel
at stride 256) convert to ONNX and TFLite with TensorFlow's padding (zoo.conversion.explicit_padding)."""
import keras
import numpy as np
import onnxruntime
import pytest
import tensorflow as tf

import zoo
from zoo.conversion.explicit_padding import SamePaddedConv, explicit_padding_twin
from zoo.conversion.to_onnx import convert_to_onnx
from zoo.conversion.to_tflite import convert_to_tflite


def _strided_conv_model():
    waveform = keras.Input((None, 1))
    return keras.Model(waveform, keras.layers.Conv1D(3, 128, strides=256, padding="same", name="frame128")(waveform))


def _onnx(model, x):
    session = onnxruntime.InferenceSession(convert_to_onnx(model).SerializeToString())
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def _tflite(model, x):
    interpreter = tf.lite.Interpreter(model_content=convert_to_tflite(model))
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(index, x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


# 47616 samples: TensorFlow's 'same' amount is negative, so it pads nothing (ONNX Runtime was off
# by up to 3.8 there before the twin); 47617 and 47700: it pads 127 and 44.
@pytest.mark.parametrize("length", [47616, 47617, 47700])
def test_onnx_and_tflite_pad_as_tensorflow_does(length):
    model = _strided_conv_model()
    x = np.random.default_rng(length).standard_normal((2, length, 1)).astype("float32")
    expected = np.asarray(model(x))
    np.testing.assert_allclose(_onnx(model, x), expected, atol=1e-5)
    np.testing.assert_allclose(_tflite(model, x), expected, atol=1e-5)
    twin = explicit_padding_twin(model)
    assert isinstance(twin.get_layer("frame128"), SamePaddedConv)
    np.testing.assert_allclose(np.asarray(twin(x)), expected, atol=1e-5)


def test_convolutions_that_need_no_change_are_left_alone():
    model = zoo.load("musicnn", input_stage=False)
    assert explicit_padding_twin(model) is model


def test_frame_many_tags_alike_on_every_runtime(tmp_path):
    path = tmp_path / "frame-many.keras"
    zoo.load("maxpool-frame-many", input_seconds=None, num_classes=2, tag_names=["a", "b"]).save(path)
    clip = (0.1 * np.random.default_rng(0).standard_normal(16000 * 7)).astype("float32")
    expected = zoo.taggram(clip, model=path, runtime="tf").to_numpy()
    for runtime in ("onnx", "tflite"):
        np.testing.assert_allclose(zoo.taggram(clip, model=path, runtime=runtime).to_numpy(), expected, atol=1e-5)
