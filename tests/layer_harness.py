"""One test harness for every Keras layer the zoo and the export package register (keras-hub's
TestCase, in small): each registered class is built from its entry in EXAMPLES and must

- come back from ``get_config`` / ``from_config`` (through JSON, as in a ``.keras`` file) with an
  equal config and, its weights copied, equal outputs;
- inside a tiny ``keras.Model`` saved to ``.keras`` and loaded, be the registered class again and
  give equal outputs;
- on JAX and PyTorch (``python tests/layer_harness.py WORKDIR`` with KERAS_BACKEND set, one process
  per backend for every layer): load the ``.keras`` file TensorFlow saved, give TensorFlow's
  outputs, and pass the two checks above on that backend.

Classes are found by their registered names ("zoo>SingleChannelConv2D"), never by module path, and
the modules that register them by their source (``register_keras_serializable`` in zoo/ or
export/): a layer moved to another module is still found, and a new one fails the test until it
has an entry in EXAMPLES.
"""
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("zoo", "export")  # the registered names' prefixes ("zoo>TaggedSigmoid")
SOURCE_FOLDERS = ("zoo", "export")
OTHER_BACKENDS = ("jax", "torch")
REFERENCES = "references.npz"
# One layer on another backend against TensorFlow's outputs: float32 FFTs, convolutions and
# reductions summed in another order (values here are at most ~10).
CROSS_BACKEND_TOLERANCE = 1e-4


@dataclass(frozen=True)
class Example:
    """A small instance of one registered layer: constructor arguments and the input shapes
    (batch first; one shape per input of a layer taking a list)."""

    kwargs: dict
    input_shapes: tuple
    skip: dict = field(default_factory=dict)  # backend -> why the layer cannot run there


_CONV1D = {"filters": 2, "kernel_size": 2, "strides": 3, "padding": "same", "use_bias": True}

EXAMPLES = {
    # zoo.models: input_stage, pooling, head, length_guard
    "zoo>ReflectPad1D": Example({"pad": 3}, ((2, 10),)),
    "zoo>ComplexPower": Example({}, ((2, 3, 5, 1, 2),)),  # FramedStft's (re, im) pairs; kapre's complex: TF only
    "zoo>Log10Compression": Example({"scale": 100.0}, ((2, 6),)),
    "zoo>TemporalMaxMeanPooling": Example({}, ((2, 5, 3),)),
    "zoo>AttentionPooling1D": Example({"units": 4}, ((2, 5, 3),)),
    "zoo>TaggedSigmoid": Example({"tag_names": ["rock", "piano", "slow"]}, ((2, 3),)),
    "zoo>MinimumLength": Example({"min_samples": 8, "sample_rate": 16000, "model_name": "tiny"}, ((2, 16),)),
    # the CPU speed kernels (zoo.kernels): one-channel input and a tall one-column kernel take their routes
    "zoo>FrequencyMaxPooling2D": Example({"pool_size": (1, 4)}, ((2, 3, 4, 2),)),
    "zoo>Conv2D": Example({"filters": 3, "kernel_size": (4, 1), "padding": "same"}, ((2, 7, 5, 1),)),
    "zoo>SingleChannelConv2D": Example({"filters": 3, "kernel_size": (4, 1), "padding": "same"}, ((2, 7, 5, 1),)),
    "zoo>BatchNormalization": Example({"epsilon": 1e-3}, ((2, 5, 3),)),
    # zoo.models.portable_log_mel
    "zoo>FramedStft": Example({"n_fft": 16, "hop_length": 4}, ((2, 64, 1),)),
    "zoo>MelFilterbank": Example({"filterbank_kwargs": {"sample_rate": 16000, "n_freq": 9, "n_mels": 4,
                                                        "f_min": 0.0, "f_max": 8000.0}}, ((2, 5, 9, 1),)),
    # zoo.conversion
    "zoo>SamePaddedConv": Example({"conv_class": "Conv1D", "conv_config": _CONV1D}, ((2, 10, 2),)),
    "export>WindowedDftPower": Example({"n_fft": 8, "hop_length": 4}, ((2, 32, 1),)),
    # zoo.tagging.inference_graph
    "zoo>PooledAffine": Example({"pool_size": (2, 2), "strides": (2, 2), "padding": "valid", "sign": [1.0, -1.0],
                                 "scale": [0.5, 2.0], "shift": [0.1, -0.3]}, ((2, 4, 6, 2),)),
    "zoo>NormalisedAfterPooling": Example({}, ((2, 4, 3),)),
    # export.patching
    "export>PadToLength": Example({"samples": 12}, ((2, 8),)),
    "export>Patches": Example({"length": 3, "step": 4}, ((2, 13, 2),)),
    "export>MeanOverPatches": Example({}, ((6, 3), (2, 10))),  # 2 clips of 3 patches each
}


def registering_modules():
    """Dotted names of the modules in zoo/ and export/ that register Keras objects."""
    found = []
    for folder in SOURCE_FOLDERS:
        for path in sorted((REPO / folder).rglob("*.py")):
            if "register_keras_serializable(" in path.read_text():
                parts = list(path.relative_to(REPO).with_suffix("").parts)
                found.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


def registered_layers():
    """{registered name: class} of every object registered under PACKAGES, after importing the
    zoo (which registers its model layers) and every module that registers one."""
    import importlib

    import keras

    import zoo  # noqa: F401  (registers the model layers once Keras loads)
    from zoo.models.keras_registration import register_layers

    register_layers()
    for module in registering_modules():
        importlib.import_module(module)
    return {name: cls for name, cls in keras.saving.get_custom_objects().items()
            if name.partition(">")[0] in PACKAGES and ">" in name}


def example(name):
    if name not in EXAMPLES:
        raise AssertionError(f"{name} is registered but has no entry in tests/layer_harness.py EXAMPLES: "
                             "add constructor arguments and input shapes for it")
    return EXAMPLES[name]


def file_name(name):
    return name.replace(">", "__")


def example_inputs(name):
    """The example's inputs: float32, in [0.1, 1) (positive, for logarithms), the same every call."""
    rng = np.random.default_rng(sum(map(ord, name)))
    return [rng.uniform(0.1, 1.0, shape).astype(np.float32) for shape in example(name).input_shapes]


def _numpy(outputs):
    import keras

    return np.asarray(keras.ops.convert_to_numpy(outputs))


def _call(layer_or_model, inputs):
    return _numpy(layer_or_model(inputs if len(inputs) > 1 else inputs[0]))


def _fill_weights(layer, name):
    """Weights other than the initial ones (ones and zeros would hide a lost weight), positive
    (a batch norm's moving variance)."""
    rng = np.random.default_rng(sum(map(ord, name)) + 1)
    layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(np.float32) for w in layer.get_weights()])


def build_model(name, cls):
    """A keras.Model of the inputs and the example layer, its weights filled."""
    import keras

    spec = example(name)
    inputs = [keras.Input(shape[1:], name=f"input_{i}") for i, shape in enumerate(spec.input_shapes)]
    layer = cls(**spec.kwargs, name="layer")
    inputs = inputs if len(inputs) > 1 else inputs[0]
    model = keras.Model(inputs, layer(inputs), name="tiny")
    _fill_weights(layer, name)
    return model


def _json(config):
    return json.loads(json.dumps(config))


def check_round_trip(name, cls, layer, inputs):
    """from_config(get_config()), through JSON: an equal config, and (weights copied) equal outputs."""
    config = _json(layer.get_config())
    twin = cls.from_config(config)
    assert type(twin) is cls, (name, type(twin))
    assert _json(twin.get_config()) == config, f"{name}: the config changed in a from_config round trip"
    expected = _call(layer, inputs)
    _call(twin, inputs)  # builds the twin's weights
    twin.set_weights(layer.get_weights())
    actual = _call(twin, inputs)
    np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=1e-6, err_msg=f"{name}: from_config outputs")


def check_saved_model(name, cls, model, inputs, folder):
    """The model saved to .keras and loaded: the registered class again, equal outputs."""
    import keras

    path = os.path.join(folder, f"{file_name(name)}.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded.get_layer("layer")) is cls, (name, type(loaded.get_layer("layer")))
    np.testing.assert_allclose(_call(loaded, inputs), _call(model, inputs), rtol=1e-6, atol=1e-6,
                               err_msg=f"{name}: outputs of the loaded .keras model")
    return path


def check_layer(name, cls, folder):
    """Both checks of one layer on this process' backend; returns (model, its outputs, .keras path)."""
    model = build_model(name, cls)
    inputs = example_inputs(name)
    check_round_trip(name, cls, model.get_layer("layer"), inputs)
    path = check_saved_model(name, cls, model, inputs, folder)
    return model, _call(model, inputs), path


def write_references(folder):
    """On TensorFlow: every layer checked, its .keras file and outputs kept in ``folder`` for the
    other backends."""
    references = {}
    for name, cls in sorted(registered_layers().items()):
        _, outputs, _ = check_layer(name, cls, folder)
        references[file_name(name)] = outputs
    np.savez(os.path.join(folder, REFERENCES), **references)


def check_backend(folder):
    """On JAX or PyTorch: {registered name: "ok", "skipped: why" or the failure} for every layer."""
    import keras

    backend = keras.config.backend()
    references = np.load(os.path.join(folder, REFERENCES))
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name, cls in sorted(registered_layers().items()):
            try:
                spec = example(name)
                if backend in spec.skip:
                    results[name] = f"skipped: {spec.skip[backend]}"
                    continue
                inputs = example_inputs(name)
                saved = keras.models.load_model(os.path.join(folder, f"{file_name(name)}.keras"))
                assert type(saved.get_layer("layer")) is cls, (name, type(saved.get_layer("layer")))
                np.testing.assert_allclose(_call(saved, inputs), references[file_name(name)],
                                           rtol=CROSS_BACKEND_TOLERANCE, atol=CROSS_BACKEND_TOLERANCE,
                                           err_msg=f"{name}: {backend} against TensorFlow")
                check_round_trip(name, cls, saved.get_layer("layer"), inputs)
                check_saved_model(name, cls, saved, inputs, scratch)
                results[name] = "ok"
            except Exception as error:  # noqa: BLE001 - every layer reported, not the first failure only
                results[name] = f"{type(error).__name__}: {' '.join(str(error).split())[:1500]}"
    return backend, results


def main(folder):
    backend, results = check_backend(folder)
    with open(os.path.join(folder, f"results-{backend}.json"), "w") as handle:
        json.dump(results, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main(sys.argv[1]))
