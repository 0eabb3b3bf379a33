"""Tagging a library with zoo-tag: folders, error records, resume after SIGKILL, embeddings."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile

import zoo
from zoo.tagging.cli import main
from zoo.tagging.library import done_files, find_audio

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SR = 16000


def _tone(seconds, frequency, rate=SR):
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * frequency * t)
            + 0.05 * np.random.default_rng(int(frequency)).standard_normal(len(t))).astype(np.float32)


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """A folder with subfolders, upper-case extensions, a corrupt file, a text file."""
    root = tmp_path_factory.mktemp("library")
    (root / "b" / "deeper").mkdir(parents=True)
    soundfile.write(root / "one.wav", _tone(4, 220), SR)
    soundfile.write(root / "b" / "two.flac", _tone(7, 440, 44100), 44100)
    soundfile.write(root / "b" / "deeper" / "THREE.OGG", np.stack([_tone(5, 880)] * 2, axis=1), SR)
    soundfile.write(root / "a.wav", _tone(3.5, 330), SR)
    corrupt = root / "b" / "corrupt.flac"
    corrupt.write_bytes((root / "b" / "two.flac").read_bytes()[:2000])
    (root / "b" / "notes.txt").write_text("not audio")
    return root


def _records(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_folders_are_searched_recursively_in_a_stable_order(library):
    files = [os.path.relpath(f, library) for f, _ in find_audio([library])]
    assert files == ["a.wav", "b/corrupt.flac", "b/deeper/THREE.OGG", "b/two.flac", "one.wav"]


def test_every_audio_file_tagged_one_error_record_exit_1(library, tmp_path, capsys):
    output = tmp_path / "tags.jsonl"
    status = main([str(library), "--format", "jsonl", "--output", str(output), "--top-k", "3"])
    errors = capsys.readouterr().err.splitlines()
    assert status == 1
    records = _records(output)
    assert len(records) == 5
    failed = [r for r in records if "error" in r]
    assert [os.path.basename(r["file"]) for r in failed] == ["corrupt.flac"]
    assert all(len(r["tags"]) == 3 for r in records if "tags" in r)
    assert errors[0].startswith("zoo-tag: error: Cannot decode") and "corrupt.flac" in errors[0]
    assert errors[-1].startswith("zoo-tag: tagged 4, failed 1")
    # Scores equal zoo.tag's for the same file.
    two = next(r for r in records if r["file"].endswith("two.flac"))
    expected = zoo.tag(library / "b" / "two.flac", top_k=3)
    assert [t["tag"] for t in two["tags"]] == list(expected["tag"])
    np.testing.assert_allclose([t["score"] for t in two["tags"]], expected["score"], atol=1e-6)


def test_resume_skips_tagged_files_and_retries_failed_ones(library, tmp_path, capsys):
    output = tmp_path / "tags.jsonl"
    main([str(library), "--format", "jsonl", "--output", str(output)])
    capsys.readouterr()
    status = main([str(library), "--format", "jsonl", "--output", str(output), "--resume"])
    assert status == 1
    assert "tagged 0, failed 1, skipped 4" in capsys.readouterr().err
    records = _records(output)
    assert sum("tags" in r for r in records) == 4 and sum("error" in r for r in records) == 2


def test_sigkill_mid_run_then_resume_tags_each_file_exactly_once(tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(12):
        soundfile.write(folder / f"clip{i:02d}.wav", _tone(3.5, 200 + 40 * i), SR)
    output = tmp_path / "tags.jsonl"
    command = [sys.executable, "-m", "zoo.tagging.cli", str(folder), "--format", "jsonl", "--output", str(output)]
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    first = subprocess.Popen(command, cwd=REPO, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 180
    while time.time() < deadline and first.poll() is None:
        if output.exists() and output.read_text().count("\n") >= 3:
            break
        time.sleep(0.01)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert first.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    with open(output, "a") as handle:
        handle.write('{"file": "cut by the kill", "ta')  # what a kill mid-write leaves
    second = subprocess.run(command + ["--resume"], cwd=REPO, env=environment, capture_output=True, text=True)
    assert second.returncode == 0, second.stderr
    records = _records(output)
    files = [r["file"] for r in records]
    assert sorted(files) == sorted(str(folder / f"clip{i:02d}.wav") for i in range(12))
    assert len(files) == len(set(files)) == 12


def test_a_cut_last_line_is_dropped_before_appending(tmp_path):
    path = tmp_path / "tags.jsonl"
    path.write_text('{"file": "a", "tags": []}\n{"file": "b", "error": "x"}\n{"file": "c", "ta')
    assert done_files(path) == {"a"}
    assert path.read_text().endswith('"x"}\n')


def test_embeddings_are_saved_per_file_and_resumed(library, tmp_path, capsys):
    output, folder = tmp_path / "tags.jsonl", tmp_path / "emb"
    arguments = [str(library / "b"), "--format", "jsonl", "--output", str(output),
                 "--embeddings", "penultimate,taggram", "--embeddings_dir", str(folder)]
    assert main(arguments) == 1  # the corrupt file
    stored = np.load(folder / "two.flac.npz")
    expected = zoo.embeddings(library / "b" / "two.flac")  # the Keras model in TensorFlow
    # zoo-tag's default runtime is ONNX Runtime: the same features up to float rounding.
    np.testing.assert_allclose(stored["penultimate"], expected["penultimate"], rtol=1e-4, atol=1e-4)
    assert stored["taggram"].shape == (len(stored["time"]), 50)
    assert (folder / "deeper" / "THREE.OGG.npz").exists()
    capsys.readouterr()
    (folder / "deeper" / "THREE.OGG.npz").unlink()
    main(arguments + ["--resume"])
    assert "tagged 1, failed 1, skipped 1" in capsys.readouterr().err  # the lost .npz is made again
    assert (folder / "deeper" / "THREE.OGG.npz").exists()


@pytest.mark.parametrize("arguments, message", [
    (["--resume"], "--resume reads --output as JSON lines"),
    (["--embeddings", "penultimate"], "--embeddings needs --embeddings_dir"),
    (["--embeddings", "nope", "--embeddings_dir", "x"], "unknown embedding(s) nope"),
])
def test_bad_combinations_exit_2(library, capsys, arguments, message):
    assert main([str(library), *arguments]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_onnx_tagging_never_imports_tensorflow(library):
    from zoo.tagging import Analyser

    Analyser(runtime="onnx")  # converts once into the zoo cache (this process has TensorFlow)
    code = ("import sys; from zoo.tagging.cli import main; status = main(sys.argv[1:]); "
            "print(status, 'tensorflow' in sys.modules, 'keras' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code, str(library / "one.wav"), "--runtime", "onnx"],
                          capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "0 False False"


def test_import_zoo_does_not_import_tensorflow():
    code = "import sys, zoo; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert done.stdout.strip() == "False False", done.stderr[-2000:]


@pytest.mark.parametrize("runtime", ["tf", "tflite", "onnx"])
def test_every_runtime_gives_zoo_tags_scores(library, tmp_path, capsys, runtime):
    output = tmp_path / f"{runtime}.jsonl"
    song = library / "b" / "two.flac"
    assert main([str(song), "--runtime", runtime, "--format", "jsonl", "--output", str(output), "--top-k", "all"]) == 0
    [record] = _records(output)
    expected = zoo.tag(song, top_k=None).set_index("tag").score
    got = {t["tag"]: t["score"] for t in record["tags"]}
    assert max(abs(got[name] - score) for name, score in expected.items()) <= 1e-5


def test_layer_embeddings_need_a_runtime_that_gives_them(library, capsys):
    arguments = [str(library), "--runtime", "tflite", "--embeddings", "penultimate", "--embeddings_dir", "x"]
    assert main(arguments) == 2
    assert "need --runtime onnx or keras" in capsys.readouterr().err


def test_beam_on_the_direct_runner_writes_zoo_tags_records(library, tmp_path, capsys):
    pytest.importorskip("apache_beam")
    from zoo.tagging.beam import main as beam_main

    assert beam_main(["--input", str(library), "--output", str(tmp_path / "beam" / "tags"),
                      "--runner=DirectRunner"]) == 0
    shards = sorted((tmp_path / "beam").glob("tags-*.jsonl"))
    assert shards
    beam_records = sorted((json.loads(line) for shard in shards for line in shard.read_text().splitlines()),
                          key=lambda r: r["file"])
    output = tmp_path / "zoo-tag.jsonl"
    main([str(library), "--format", "jsonl", "--output", str(output)])
    ours = sorted(_records(output), key=lambda r: r["file"])
    # The same records; scores to float precision (zoo-tag batches patches of several files together,
    # and TensorFlow's CPU kernels round differently with the batch's make-up).
    assert [r["file"] for r in beam_records] == [r["file"] for r in ours]
    for theirs, mine in zip(beam_records, ours):
        assert theirs.keys() == mine.keys()
        if "error" in mine:
            assert theirs["error"] == mine["error"]
        else:
            assert [t["tag"] for t in theirs["tags"]] == [t["tag"] for t in mine["tags"]]
            np.testing.assert_allclose([t["score"] for t in theirs["tags"]], [t["score"] for t in mine["tags"]],
                                       atol=1e-5)
    assert sum("error" in r for r in beam_records) == 1
