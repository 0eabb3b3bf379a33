"""`.keras` files saved by an earlier release keep loading and predict the same.

tests/fixtures/saved_models/ holds files written with the code from before zoo's modules moved
into packages (their configs name modules such as ``zoo.models.layers`` and ``zoo.models.fast_conv``, which
no longer exist): a zoo-train fine-tuned musicnn with its tag names, a maxpool-vertical and a
length-agnostic waveform-front-end model, with the outputs that code computed
(tests/fixtures/saved_models/make.py wrote them).
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

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
        assert result["difference"] <= 1e-6, result


# Every Keras class name the zoo registered before its modules moved, with the module that
# registers it now (the `package>Class` names are what `.keras` configs refer to).
REGISTERED = {
    "zoo.models.layers": ["zoo>ReflectPad1D", "zoo>ComplexPower", "zoo>Log10Compression", "zoo>TemporalMaxMeanPooling",
                          "zoo>AttentionPooling1D", "zoo>TaggedSigmoid", "zoo>MinimumLength"],
    "zoo.models.fast_conv": ["zoo>SingleChannelConv2D"],
    "zoo.models.fused_batch_norm": ["zoo>BatchNormalization"],  # new in this release
    "zoo.models.portable_log_mel": ["zoo>FramedStft", "zoo>MelFilterbank"],  # new in this release
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
