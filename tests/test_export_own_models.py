"""Serving a model of one's own: a zoo-train run folder exported with the
export CLI as a SavedModel with its own tag names, plus TFLite and ONNX, answering what zoo.tag
answers for it."""
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import zoo
from export.__main__ import main as export_main
from export.to_onnx import onnx_predict
from export.to_tflite import tflite_predict

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_training import TAGS, write_manifest  # noqa: E402

SR = 16000


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """A model trained inside the test: maxpool-frame-single on 1 s crops, 2 epochs."""
    folder = tmp_path_factory.mktemp("own-export")
    manifest = write_manifest(folder, count=12)
    result = zoo.train("maxpool-frame-single", f"manifest:{manifest}", out_dir=folder / "my-run", epochs=2,
                       batch_size=4, input_seconds=1, verbose=False)
    return Path(result.out_dir)


def _clip(seconds=4.3):
    t = np.arange(int(seconds * SR)) / SR
    return (0.4 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.random.default_rng(5).standard_normal(len(t))
            ).astype(np.float32)


def test_a_run_folder_is_served_with_its_tag_names_and_zoo_tags_scores(run_folder, tmp_path, capsys):
    status = export_main([f"--model={run_folder}", f"--base_path={tmp_path / 'models'}", "--skip_op_check",
                          f"--tflite={tmp_path / 'mine.tflite'}", f"--onnx={tmp_path / 'mine.onnx'}"])
    assert status == 0, capsys.readouterr().err
    version = tmp_path / "models" / "my-run" / "1"
    assert "exported my-run version 1" in capsys.readouterr().out
    clip = _clip()
    expected = zoo.tag(clip, model=run_folder, top_k=None)
    expected = dict(zip(expected.tag, expected.score))
    served = tf.saved_model.load(str(version))
    names = [n.decode()
             for n in served.signatures["tag_names"](waveform=tf.constant(clip[None]))["tag_names"][0].numpy()]
    assert names == sorted(TAGS)
    scores = served.signatures["serving_default"](waveform=tf.constant(clip[None]))["scores"].numpy()[0]
    wanted = np.array([expected[name] for name in names])
    np.testing.assert_allclose(scores, wanted, atol=1e-4)
    np.testing.assert_allclose(tflite_predict(tmp_path / "mine.tflite", clip[None])[0], wanted, atol=1e-4)
    np.testing.assert_allclose(onnx_predict(tmp_path / "mine.onnx", clip[None])[0], wanted, atol=1e-4)


def test_options_for_registry_ids_are_refused_with_a_file(run_folder, tmp_path, capsys):
    status = export_main([f"--model={run_folder}", f"--base_path={tmp_path}", "--weights=mtt"])
    error = capsys.readouterr().err.strip()
    assert status == 2 and len(error.splitlines()) == 1 and "exported as it was saved" in error


@pytest.mark.parametrize("named", ["run folder", ".keras"])
def test_every_entry_point_takes_the_run_folder_and_its_keras_file(run_folder, tmp_path, named, capsys):
    import json

    import soundfile

    from export.saved_model import export_saved_model
    from zoo.tagging.beam import main as beam_main
    from zoo.tagging.cli import main as zoo_tag

    model = run_folder if named == "run folder" else run_folder / "model.keras"
    library = tmp_path / "library"
    library.mkdir()
    for index in range(2):
        soundfile.write(library / f"clip{index}.wav", _clip(2.5 + index), SR)
    assert zoo.tag_names(zoo.load(model)) == sorted(TAGS)
    assert list(zoo.taggram(_clip(), model=model).columns) == sorted(TAGS)
    assert zoo_tag([str(library), "--model", str(model), "--format", "jsonl",
                    "--output", str(tmp_path / "t.jsonl")]) == 0
    tagged = {r["file"]: r for r in map(json.loads, (tmp_path / "t.jsonl").read_text().splitlines())}
    assert beam_main([f"--input={library}", f"--output={tmp_path / 'beam' / 'tags'}", f"--model={model}",
                      "--runner=DirectRunner"]) == 0
    (shard,) = (tmp_path / "beam").iterdir()
    beamed = {r["file"]: r for r in map(json.loads, shard.read_text().splitlines())}
    assert sorted(beamed) == sorted(tagged)
    for file, record in tagged.items():
        assert [t["tag"] for t in beamed[file]["tags"]] == [t["tag"] for t in record["tags"]]
        np.testing.assert_allclose([t["score"] for t in beamed[file]["tags"]], [t["score"] for t in record["tags"]],
                                   atol=1e-5)
    exported = export_saved_model(model, tmp_path / "models", check_ops=False, warmup_requests=False)
    assert exported.tag_names == tuple(sorted(TAGS)) and exported.patch_samples == SR  # its input: the 1 s crop
    capsys.readouterr()


def test_the_command_lines_refuse_an_unusable_model_file_with_status_2(tmp_path, capsys):
    from zoo.tagging.beam import main as beam_main

    unfinished = tmp_path / "run"
    unfinished.mkdir()
    (unfinished / "run.json").write_text("{}")
    assert export_main([f"--model={unfinished}", f"--base_path={tmp_path / 'models'}"]) == 2
    assert "no finished epoch yet" in capsys.readouterr().err
    assert beam_main([f"--input={tmp_path}", f"--output={tmp_path / 'out'}", f"--model={unfinished}"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "no finished epoch yet" in error


def test_the_python_export_functions_take_a_keras_file(run_folder, tmp_path):
    from export.to_onnx import export_onnx
    from export.to_tflite import export_tflite

    clip = _clip()
    expected = zoo.tag(clip, model=run_folder / "model.keras", top_k=None)
    wanted = np.array([dict(zip(expected.tag, expected.score))[name] for name in sorted(TAGS)])
    export_onnx(run_folder / "model.keras", tmp_path / "m.onnx")
    export_tflite(str(run_folder / "model.keras"), tmp_path / "m.tflite")
    np.testing.assert_allclose(onnx_predict(tmp_path / "m.onnx", clip[None])[0], wanted, atol=1e-4)
    np.testing.assert_allclose(tflite_predict(tmp_path / "m.tflite", clip[None])[0], wanted, atol=1e-4)
