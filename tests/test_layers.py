"""Every registered zoo / export layer through the shared harness (tests/layer_harness.py): config
round trip, .keras save and load, here on TensorFlow and in one process per other backend."""
import json
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import layer_harness  # noqa: E402

REGISTERED = layer_harness.registered_layers()


def test_every_registered_layer_has_an_example_and_every_example_a_layer():
    missing = sorted(set(REGISTERED) - set(layer_harness.EXAMPLES))
    stale = sorted(set(layer_harness.EXAMPLES) - set(REGISTERED))
    assert not missing, f"registered without an entry in layer_harness.EXAMPLES: {missing}"
    assert not stale, f"EXAMPLES entries no class is registered as: {stale}"


def test_the_cpu_kernels_are_found_by_their_registered_names():
    # They move between modules (zoo.kernels); the harness must keep finding them.
    assert {"zoo>SingleChannelConv2D", "zoo>BatchNormalization", "zoo>FrequencyMaxPooling2D"} <= set(REGISTERED)


@pytest.mark.parametrize("name", sorted(REGISTERED))
def test_layer_round_trips_and_saves(name, tmp_path):
    layer_harness.check_layer(name, REGISTERED[name], str(tmp_path))


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    folder = tmp_path_factory.mktemp("layers")
    layer_harness.write_references(str(folder))
    return folder


@pytest.mark.parametrize("backend", layer_harness.OTHER_BACKENDS)
def test_layers_on_other_backends_load_tensorflow_files_and_round_trip(backend, references):
    environment = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    run = subprocess.run([sys.executable, layer_harness.__file__, str(references)], capture_output=True, text=True,
                         env=environment, cwd=layer_harness.REPO, timeout=600)
    assert run.returncode == 0, run.stderr[-4000:]
    results = json.loads((references / f"results-{backend}.json").read_text())
    assert sorted(results) == sorted(REGISTERED)
    failures = {name: result for name, result in results.items() if result != "ok" and not result.startswith("skipped")}
    assert not failures, f"{backend}:\n" + "\n".join(f"{name}: {result}" for name, result in failures.items())
