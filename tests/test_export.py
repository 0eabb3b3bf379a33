"""TF Serving export: layout, versions and atomicity, signatures, parity in plain TensorFlow,
core-op check, warm-up requests, server config files, command line."""
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.apis import prediction_log_pb2
from tensorflow_serving.config import model_server_config_pb2

import export
from export import opcheck, saved_model, server_config, warmup
from export.errors import ExportError
from zoo.audio.streaming import stream_patches
from zoo.models.registry import LOG_MEL, WAVEFORM
from zoo.tagging.analyser import _patching

WAVEFORM_ID = "maxpool-frame-single"
SPECTROGRAM_ID = "musicnn-vertical-horizontal"
FIXED_ID = "dense-frame-single"
TAGS = [f"tag{i:02d}" for i in range(50)]
TOP_K = 5
ZOO_TAG_TOLERANCE = 1e-4  # the bound for "the same answer as zoo.tag" (docs/serving.md)


def _noise(batch, samples, seed=0):
    rng = np.random.default_rng(seed)
    return (0.3 * rng.standard_normal((batch, samples))).astype(np.float32)


def zoo_patch_means(model, clips, output="scores"):
    """What zoo.tag computes for each clip, through its own path (zoo.audio.streaming: NumPy log-mel of
    the whole clip, cut into 187-frame patches): the mean over patches of ``output``."""
    takes_log_mel = any(layer.name == "logmel" for layer in model.layers)
    source = model.get_layer("logmel").output if takes_log_mel else model.input
    body = keras.Model(source, model.output if output == "scores" else model.get_layer("head_dropout").input)
    means = []
    for clip in clips:
        chunks = stream_patches(clip, _patching(3.0, None), LOG_MEL if takes_log_mel else WAVEFORM)
        patches = np.concatenate([chunk.patches for chunk in chunks])
        means.append(body(patches, training=False).numpy().mean(axis=0))
    return np.stack(means)


@pytest.fixture(scope="module")
def models():
    ids = (WAVEFORM_ID, SPECTROGRAM_ID, FIXED_ID)
    return {mid: saved_model.build_servable_model(mid, tag_names=TAGS) for mid in ids}


@pytest.fixture(scope="module")
def exported(models, tmp_path_factory):
    base = tmp_path_factory.mktemp("models")
    # The op check costs a TensorFlow start-up per export; test_core_op_check runs it once.
    return {mid: export.export_saved_model(model, base, top_k=TOP_K, check_ops=False) for mid, model in models.items()}


def test_layout_is_what_tf_serving_loads(exported):
    spec = exported[SPECTROGRAM_ID]
    path = Path(spec.path)
    assert (spec.name, spec.version) == (SPECTROGRAM_ID, 1)
    assert path == Path(path.parent.parent, SPECTROGRAM_ID, "1")
    assert (path / "saved_model.pb").is_file() and (path / "variables").is_dir()
    assert (path / "assets" / "tags.txt").read_text().splitlines() == TAGS
    assert (path / "assets.extra" / "tf_serving_warmup_requests").is_file()
    assert [p.name for p in path.parent.iterdir()] == ["1"]  # no temporary directory left behind


def test_every_model_takes_any_length_and_averages_3_s_patches(exported):
    assert {spec.patch_samples for spec in exported.values()} == {47616}  # musicnn's 3 s patch: 187 frames


_PLAIN_TF_RUNNER = """
import json, sys
import numpy as np
import tensorflow as tf
jobs = json.loads(sys.stdin.read())
for job in jobs:
    loaded = tf.saved_model.load(job["saved_model"])
    inputs = np.load(job["inputs"])
    results = {}
    for length in inputs.files:
        for signature in ("serving_default", "embed"):
            outputs = loaded.signatures[signature](waveform=tf.constant(inputs[length]))
            for name, value in outputs.items():
                value = value.numpy()
                results[f"{length}/{name}"] = value.astype("S") if value.dtype == object else value
    np.savez(job["outputs"], **results)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("zoo", "export", "kapre", "tensorflow_io"))))
"""


def _run_in_plain_tensorflow(jobs, cwd):
    """Run the SavedModels in `python -I` from an empty directory: TensorFlow only."""
    result = subprocess.run([sys.executable, "-I", "-c", _PLAIN_TF_RUNNER], input=json.dumps(jobs),
                            capture_output=True, text=True, cwd=cwd, timeout=300,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_saved_model_in_plain_tensorflow_gives_zoo_tags_answer_at_any_length(models, exported, tmp_path):
    # Shorter than one patch (zero-padded), and 3.4 patches (the tail dropped).
    lengths = (16000, 162000)
    jobs, inputs = [], {}
    for mid, spec in exported.items():
        inputs[mid] = {f"n{n}": _noise(2, n, seed=n) for n in lengths}
        np.savez(tmp_path / f"{mid}-in.npz", **inputs[mid])
        jobs.append({"saved_model": spec.path, "inputs": str(tmp_path / f"{mid}-in.npz"),
                     "outputs": str(tmp_path / f"{mid}-out.npz")})
    empty = tmp_path / "empty"
    empty.mkdir()
    foreign_modules = _run_in_plain_tensorflow(jobs, empty)
    assert foreign_modules == []

    for mid, model in models.items():
        served = np.load(tmp_path / f"{mid}-out.npz")
        for key, x in inputs[mid].items():
            scores = served[f"{key}/scores"]
            assert np.abs(scores - zoo_patch_means(model, x)).max() <= ZOO_TAG_TOLERANCE, (mid, key)
            embedding = zoo_patch_means(model, x, "embedding")
            assert np.abs(served[f"{key}/embedding"] - embedding).max() <= ZOO_TAG_TOLERANCE, (mid, key)
            best = np.argsort(-scores, axis=1, kind="stable")[:, :TOP_K]
            assert served[f"{key}/top_k_tags"].astype(str).tolist() == np.asarray(TAGS)[best].tolist()
            np.testing.assert_allclose(served[f"{key}/top_k_scores"], np.take_along_axis(scores, best, 1))


def test_saved_model_cli_lists_the_signatures(exported):
    cli = Path(sys.executable).with_name("saved_model_cli")
    result = subprocess.run([str(cli), "show", "--dir", exported[SPECTROGRAM_ID].path, "--all"],
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-2000:]
    shown = result.stdout
    for signature in ("serving_default", "embed", "tag_names"):
        assert f"signature_def['{signature}']" in shown
    for output in ("scores", "top_k_tags", "top_k_scores", "embedding", "tag_names"):
        assert f"outputs['{output}']" in shown
    assert "inputs['waveform'] tensor_info:\n        dtype: DT_FLOAT\n        shape: (-1, -1)" in shown
    assert "outputs['top_k_tags'] tensor_info:\n        dtype: DT_STRING\n        shape: (-1, 5)" in shown


def test_core_op_check_accepts_the_spectrogram_graph_and_spots_tensorflow_io_ops(exported):
    import tensorflow_io as tfio

    mp3_graph = tf.function(tfio.audio.decode_mp3).get_concrete_function(tf.TensorSpec([], tf.string)).graph
    tfio_ops = {node.op for node in mp3_graph.as_graph_def().node if node.op.startswith("IO>")}
    served_ops = export.saved_model_op_types(exported[SPECTROGRAM_ID].path)
    assert {"RFFT", "MirrorPad", "LookupTableFindV2"} <= served_ops
    assert not any(op.startswith("IO>") for op in served_ops)
    # One fresh process that imports TensorFlow alone judges both sets.
    assert opcheck.ops_unknown_to_core_tensorflow(served_ops | tfio_ops) == sorted(tfio_ops)


def test_core_op_check_refuses_an_unknown_op(exported, monkeypatch):
    monkeypatch.setattr(opcheck, "ops_unknown_to_core_tensorflow", lambda ops: ["IO>AudioDecodeMP3"])
    with pytest.raises(ExportError, match="stock TF Serving does not have: IO>AudioDecodeMP3"):
        export.check_core_ops(exported[WAVEFORM_ID].path)


def test_warmup_requests_parse_as_prediction_logs(exported):
    spec = exported[SPECTROGRAM_ID]
    path = os.path.join(spec.path, warmup.WARMUP_FILE)
    logs = [prediction_log_pb2.PredictionLog.FromString(r) for r in tf.data.TFRecordDataset(path).as_numpy_iterator()]
    assert [log.predict_log.request.model_spec.signature_name for log in logs] == ["serving_default", "embed",
                                                                                   "tag_names"]
    for log in logs:
        request = log.predict_log.request
        assert request.model_spec.name == SPECTROGRAM_ID
        assert request.inputs["waveform"].dtype == tf.float32.as_datatype_enum
        assert tf.make_ndarray(request.inputs["waveform"]).shape == (1, 48000)
    fixed = export.read_warmup_file(os.path.join(exported[FIXED_ID].path, warmup.WARMUP_FILE))
    assert tf.make_ndarray(fixed[0].predict_log.request.inputs["waveform"]).shape == (1, 48000)


def test_model_config_for_several_models_parses(exported, tmp_path):
    base = Path(exported[WAVEFORM_ID].path).parent.parent
    names = export.exported_model_names(base)
    assert names == sorted(exported)
    path = export.write_model_config(tmp_path / "models.config", names, versions=[1])
    config = text_format.Parse(Path(path).read_text(), model_server_config_pb2.ModelServerConfig())
    entries = config.model_config_list.config
    assert [(c.name, c.base_path, c.model_platform) for c in entries] == [
        (name, f"/models/{name}", "tensorflow") for name in names
    ]
    assert list(entries[0].model_version_policy.specific.versions) == [1]


def test_batching_parameters_file_parses():
    text = text_format.MessageToString(export.batching_parameters(max_batch_size=16, allowed_batch_sizes=[4, 16]))
    assert "max_batch_size {\n  value: 16\n}" in text
    parsed = text_format.Parse(text, server_config.batching_parameters_message_class()())
    assert parsed.max_batch_size.value == 16 and list(parsed.allowed_batch_sizes) == [4, 16]
    assert parsed.pad_variable_length_inputs is False
    with pytest.raises(ExportError, match="end with max_batch_size"):
        export.batching_parameters(max_batch_size=16, allowed_batch_sizes=[4, 8])


# -- versions and atomicity ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_model():
    return saved_model.build_servable_model(WAVEFORM_ID, tag_names=TAGS)


def _export_small(model, base, **kwargs):
    return export.export_saved_model(model, base, check_ops=False, warmup_requests=False, **kwargs)


def _entries(model_dir):
    return sorted(p.name for p in Path(model_dir).iterdir())


def test_versions_count_up_and_an_existing_one_is_refused(small_model, tmp_path):
    assert [_export_small(small_model, tmp_path).version for _ in range(2)] == [1, 2]
    assert _export_small(small_model, tmp_path, version=7).version == 7
    assert _export_small(small_model, tmp_path).version == 8
    with pytest.raises(ExportError, match="version 7 already exists.*force"):
        _export_small(small_model, tmp_path, version=7)
    assert _entries(tmp_path / WAVEFORM_ID) == ["1", "2", "7", "8"]


def test_force_replaces_a_version_only_once_the_new_one_is_complete(small_model, tmp_path):
    _export_small(small_model, tmp_path, version=3)
    _export_small(small_model, tmp_path, version=3, force=True, top_k=7)
    signature = tf.saved_model.load(str(tmp_path / WAVEFORM_ID / "3")).signatures["serving_default"]
    assert signature.structured_outputs["top_k_tags"].shape.as_list() == [None, 7]
    assert _entries(tmp_path / WAVEFORM_ID) == ["3"]


def test_a_version_is_built_hidden_beside_its_final_place(small_model, tmp_path, monkeypatch):
    seen = {}
    real_write = warmup.write_warmup_file

    def spy(work_dir, name, n_samples):
        seen["work_dir"] = Path(work_dir)
        seen["final_exists"] = (tmp_path / WAVEFORM_ID / "1").exists()
        return real_write(work_dir, name, n_samples)

    monkeypatch.setattr(warmup, "write_warmup_file", spy)
    export.export_saved_model(small_model, tmp_path, check_ops=False)
    assert seen["final_exists"] is False
    assert seen["work_dir"].parent == tmp_path / WAVEFORM_ID and seen["work_dir"].name.startswith(".")
    assert _entries(tmp_path / WAVEFORM_ID) == ["1"]


@pytest.mark.parametrize("force", [False, True])
def test_a_crash_mid_export_leaves_no_version_directory(small_model, tmp_path, monkeypatch, force):
    if force:
        _export_small(small_model, tmp_path, version=1)
    before = (tmp_path / WAVEFORM_ID / "1" / "saved_model.pb").read_bytes() if force else None

    def crash(*args, **kwargs):
        raise RuntimeError("disk full (injected)")

    monkeypatch.setattr(warmup, "write_warmup_file", crash)
    with pytest.raises(RuntimeError, match="injected"):
        export.export_saved_model(small_model, tmp_path, version=1, force=force, check_ops=False)
    if force:  # the old version is untouched
        assert _entries(tmp_path / WAVEFORM_ID) == ["1"]
        assert (tmp_path / WAVEFORM_ID / "1" / "saved_model.pb").read_bytes() == before
    else:
        assert _entries(tmp_path / WAVEFORM_ID) == []


def test_bad_arguments_get_one_clear_error(small_model, tmp_path):
    with pytest.raises(ExportError, match="top_k must be between 1 and 50"):
        _export_small(small_model, tmp_path, top_k=51)
    with pytest.raises(ExportError, match="version must be a non-negative integer"):
        _export_small(small_model, tmp_path, version="2")
    with pytest.raises(ExportError, match="include_top=True"):
        _export_small(keras.Model(small_model.inputs, small_model.get_layer("head_dropout").input), tmp_path,
                      model_name="headless")
    with pytest.raises(ExportError, match="model name"):
        _export_small(small_model, tmp_path, model_name="../escape")
    assert not (tmp_path / WAVEFORM_ID).exists() or _entries(tmp_path / WAVEFORM_ID) == []


# -- command line --------------------------------------------------------------------------------


def _cli(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.run([sys.executable, "-m", "export", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)


def test_command_line_exports_and_writes_the_model_config(tmp_path):
    result = _cli("--model=maxpool-frame-single", f"--base_path={tmp_path / 'models'}", "--top_k=3",
                  "--skip_op_check", f"--model_config={tmp_path / 'models.config'}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "exported maxpool-frame-single version 1" in result.stdout
    assert (tmp_path / "models" / "maxpool-frame-single" / "1" / "saved_model.pb").is_file()
    config = text_format.Parse((tmp_path / "models.config").read_text(), model_server_config_pb2.ModelServerConfig())
    assert [c.name for c in config.model_config_list.config] == ["maxpool-frame-single"]

    again = _cli("--model=maxpool-frame-single", f"--base_path={tmp_path / 'models'}", "--version=1", cwd=tmp_path)
    unknown = _cli("--model=musicn", f"--base_path={tmp_path / 'models'}", cwd=tmp_path)
    expected = {"version 1 already exists": (again, 1), "Unknown model 'musicn'. Did you mean: musicnn": (unknown, 2)}
    for message, (failed, status) in expected.items():
        assert failed.returncode == status
        assert f"error: {message}" in failed.stderr and "Traceback" not in failed.stderr
