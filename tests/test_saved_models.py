"""`.keras` files saved by an earlier release keep loading and predict the same.

tests/fixtures/saved_models/ holds files written by earlier code (their configs name modules such as
``zoo.layers``, which no longer exist): a zoo-train fine-tuned musicnn with its tag names, a
maxpool-vertical and a length-agnostic waveform-front-end model, with the outputs that code computed
(tests/fixtures/saved_models/make.py wrote them).
"""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tolerances import CROSS_CPU_SCORES

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "saved_models"
SAVED = {  # file -> (its tag names, the stored input it was run on)
    "musicnn-finetuned": (["high", "low", "noise"], "3s"),
    "maxpool-vertical": (["rock", "jazz", "piano"], "3s"),
    "attention-frame-many": (["kick", "snare", "hat", "voice"], "2.2s"),
}

# A fresh process, as a user would load the files: `import zoo` and Keras, in either order, or
# with kapre first (which imports TensorFlow half-way through its own import).
LOAD = """
import json, sys, numpy as np
{imports}
expected = np.load(sys.argv[2])
for name, input_name in json.loads(sys.argv[3]).items():
    model = keras.models.load_model(f"{{sys.argv[1]}}/{{name}}.keras")
    scores = model.predict(expected["input_" + input_name], verbose=0)
    difference = float(np.max(np.abs(scores - expected["output_" + name])))
    print(json.dumps({{"name": name, "tags": zoo.tag_names(model), "difference": difference}}))
"""


@pytest.mark.parametrize("imports", ["import zoo, keras", "import keras, zoo", "import zoo, kapre, keras"])
def test_files_saved_by_the_last_release_load_and_predict_the_same(imports):
    inputs = {name: input_name for name, (_, input_name) in SAVED.items()}
    run = subprocess.run([sys.executable, "-c", LOAD.format(imports=imports), str(FIXTURES),
                          str(FIXTURES / "expected.npz"), json.dumps(inputs)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    results = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert [r["name"] for r in results] == list(SAVED)
    for result in results:
        assert result["tags"] == SAVED[result["name"]][0]
        assert result["difference"] <= CROSS_CPU_SCORES, result


# Every Keras class name the zoo registers, with the module that registers it: the
# `package>Class` names are what saved `.keras` configs refer to, so none may change or go.
REGISTERED = {
    "zoo.models.input_stage": ["zoo>ReflectPad1D", "zoo>ComplexPower", "zoo>Log10Compression"],
    "zoo.models.pooling": ["zoo>TemporalMaxMeanPooling", "zoo>AttentionPooling1D"],
    "zoo.models.head": ["zoo>TaggedSigmoid"],
    "zoo.models.length_guard": ["zoo>MinimumLength"],
    "zoo.kernels.single_channel_conv": ["zoo>SingleChannelConv2D", "zoo>Conv2D"],
    "zoo.kernels.batch_norm": ["zoo>BatchNormalization"],
    "zoo.kernels.frequency_max": ["zoo>FrequencyMaxPooling2D"],
    "zoo.models.portable_log_mel": ["zoo>FramedStft", "zoo>MelFilterbank"],
    "zoo.tagging.inference_graph": ["zoo>PooledAffine", "zoo>NormalisedAfterPooling"],
    "zoo.conversion.real_valued_stft": ["export>WindowedDftPower"],
    "export.patching": ["export>PadToLength", "export>Patches", "export>MeanOverPatches"],
}


def test_every_registered_keras_name_is_kept():
    import importlib

    import keras

    for module, names in REGISTERED.items():
        importlib.import_module(module)
        for name in names:
            assert keras.saving.get_registered_object(name) is not None, name


def _skip_last_batch_norm(model):
    """The same model with its last batch norm made the identity (as if the port had left it out)."""
    norm = [layer for layer in model.layers if "BatchNormalization" in type(layer).__name__][-1]
    gamma, beta, mean, variance = norm.get_weights()
    norm.set_weights([gamma * 0 + 1, beta * 0, mean * 0, variance * 0 + 1 - norm.epsilon])
    return model


def _reverse_last_kernel_rows(model):
    """The same model with its last Dense kernel's input rows reversed (features in the wrong order)."""
    import keras

    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)][-1]
    kernel, *rest = dense.get_weights()
    dense.set_weights([kernel[::-1], *rest])
    return model


def _reverse_first_kernel_filters(model):
    """The same model with its first kernel's filters in reverse order (weights in the wrong order)."""
    kernel = next(w for w in model.weights if len(w.shape) >= 2)
    kernel.assign(kernel.numpy()[..., ::-1])
    return model


# The fixtures' untrained models have identity batch norms, which leaving out cannot change.
REWIRED = [("musicnn-finetuned", _skip_last_batch_norm)] + [
    (name, rewire) for name in SAVED for rewire in (_reverse_last_kernel_rows, _reverse_first_kernel_filters)]


@pytest.mark.parametrize("name, rewire", REWIRED)
def test_a_wrongly_wired_model_misses_the_stored_outputs_by_far_more_than_the_tolerance(name, rewire):
    import keras

    import zoo  # noqa: F401  (registers the zoo's layers)

    expected = np.load(FIXTURES / "expected.npz")
    model = rewire(keras.models.load_model(FIXTURES / f"{name}.keras"))
    scores = model.predict(expected["input_" + SAVED[name][1]], verbose=0)
    # The smallest margin is attention-frame-many's: its untrained scores span only 0.4968-0.5002.
    assert np.max(np.abs(scores - expected["output_" + name])) > 2 * CROSS_CPU_SCORES
