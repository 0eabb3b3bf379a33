"""A model named by a .keras file or a zoo-train run folder (zoo.models.model_files, zoo.load)."""
import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from tolerances import CROSS_CPU_SCORES

import zoo
from zoo.models.model_files import ModelFileError

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "saved_models"


def test_zoo_load_takes_a_keras_file():
    expected = np.load(FIXTURES / "expected.npz")
    model = zoo.load(FIXTURES / "maxpool-vertical.keras")
    assert zoo.tag_names(model) == ["rock", "jazz", "piano"]
    np.testing.assert_allclose(model.predict(expected["input_3s"], verbose=0), expected["output_maxpool-vertical"],
                               atol=CROSS_CPU_SCORES)


def test_a_file_is_described_without_tensorflow():
    code = ("import json, sys; from zoo.models.model_files import model_file; "
            "d = model_file(sys.argv[1]); "
            "print(json.dumps([d.tag_names, d.input_samples, len(d.content_hash()), 'tensorflow' in sys.modules]))")
    for name, tags, samples in [("attention-frame-many", ["kick", "snare", "hat", "voice"], None),
                                ("musicnn-finetuned", ["high", "low", "noise"], 48000)]:
        run = subprocess.run([sys.executable, "-c", code, str(FIXTURES / f"{name}.keras")],
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stderr[-2000:]
        assert json.loads(run.stdout) == [tags, samples, 64, False]


def _plain_keras_model(path):
    inputs = keras.Input((4,))
    keras.Model(inputs, keras.layers.Dense(2, activation="sigmoid")(inputs)).save(path)


def _zoo_model_without_tag_names(path):
    zoo.load("maxpool-frame-single", num_classes=2).save(path)


def _corrupt(path):
    path.write_bytes((FIXTURES / "maxpool-vertical.keras").read_bytes()[:5000])


def _unfinished_run(path):
    path.mkdir()
    (path / "run.json").write_text(json.dumps({"model": "maxpool-vertical", "recipe.input_seconds": 3.0}))


def _plain_folder(path):
    path.mkdir()
    (path / "notes.txt").write_text("not a run")


@pytest.mark.parametrize("name, make, message", [
    ("plain.keras", _plain_keras_model, "holds a Keras model but not a zoo tagging model"),
    ("untagged.keras", _zoo_model_without_tag_names, "is a zoo model without tag names"),
    ("cut.keras", _corrupt, "is not a readable .keras file"),
    ("run", _unfinished_run, "has no finished epoch yet (no model.keras)"),
    ("folder", _plain_folder, "is a folder but not a zoo-train run folder"),
    ("missing.keras", lambda path: None, "no such model file or run folder"),
])
def test_unusable_files_are_named_in_one_line(tmp_path, name, make, message):
    make(tmp_path / name)
    with pytest.raises(ModelFileError) as refused:
        zoo.load(tmp_path / name)
    assert message in str(refused.value) and len(str(refused.value).splitlines()) == 1
    assert str(tmp_path / name) in str(refused.value)


def test_options_apply_to_registry_ids_only():
    with pytest.raises(ValueError, match="loads the saved model as it is; num_classes apply to registry ids only"):
        zoo.load(str(FIXTURES / "maxpool-vertical.keras"), num_classes=3)


def test_a_folder_named_like_a_model_id_does_not_hide_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "maxpool-vertical").mkdir()
    assert zoo.load("maxpool-vertical").name == "maxpool_vertical"
    with pytest.raises(ModelFileError, match="not a zoo-train run folder"):
        zoo.load("./maxpool-vertical")
