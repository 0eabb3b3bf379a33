"""Bad input found by trying the zoo as a new user would: each is named in one line, or works."""
import json
import os

import numpy as np
import pytest
import soundfile

import zoo
from zoo.tagging.cli import main as zoo_tag
from zoo.training.cli import main as zoo_train

SR = 16000


def _tone(seconds=3.5, frequency=440.0):
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def test_zoo_train_out_that_is_a_file_is_one_line(tmp_path, capsys):
    taken = tmp_path / "notes.txt"
    taken.write_text("mine")
    status = zoo_train(["--model=maxpool-frame-single", "--dataset=gm:4,2,2", f"--out={taken}", "--epochs=1"])
    error = capsys.readouterr().err.strip()
    assert status == 1 and len(error.splitlines()) == 1, error
    assert f"out_dir {taken} is an existing file" in error
    assert taken.read_text() == "mine"


def test_zoo_tag_on_folders_without_audio_says_so_and_fails(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "readme.txt").write_text("no music here")
    output = tmp_path / "tags.jsonl"
    status = zoo_tag([str(tmp_path / "empty"), str(tmp_path / "docs"), "--format", "jsonl", "--output", str(output)])
    error = capsys.readouterr().err.strip()
    assert status == 2 and len(error.splitlines()) == 1
    assert "no audio files (.wav .flac .ogg .mp3) found under" in error and "docs" in error
    assert not output.exists()


def test_a_wav_whose_name_is_not_utf8_is_tagged(tmp_path, capsys):
    folder = os.fsencode(tmp_path / "old collection")
    os.mkdir(folder)
    name = os.fsdecode(folder + b"/caf\xe9 latin-1.wav")  # Latin-1 bytes: not valid UTF-8
    soundfile.write(os.fsencode(name), _tone(), SR)
    expected = zoo.tag(name, top_k=3, runtime="onnx")
    output = tmp_path / "tags.jsonl"
    status = zoo_tag([os.fsdecode(folder), "--format", "jsonl", "--output", str(output), "--top-k", "3"])
    assert status == 0, capsys.readouterr().err
    (record,) = [json.loads(line) for line in output.read_text(errors="surrogateescape").splitlines()]
    assert record["file"] == name and [t["tag"] for t in record["tags"]] == list(expected.tag)
    assert zoo_tag([name, "--top-k", "3"]) == 0  # the table on standard output shows the byte
    assert "caf\\xe9 latin-1.wav" in capsys.readouterr().out


def test_pretrained_weights_refuse_another_sample_rate():
    with pytest.raises(ValueError, match="'mtt' of 'musicnn-vertical-horizontal' were trained on 16000 Hz audio; "
                                         "sample_rate=8000 would put them under another input stage"):
        zoo.load("musicnn", weights="mtt", sample_rate=8000)
    assert zoo.load("maxpool-vertical", sample_rate=8000).input_shape == (None, 24000)  # no weights: any rate


def test_duplicate_tag_names_are_refused():
    with pytest.raises(ValueError, match="tag_names must be distinct; repeated: 'a'"):
        zoo.load("maxpool-vertical", num_classes=2, tag_names=["a", "a"])


def test_train_names_a_dataset_of_the_wrong_type(tmp_path):
    with pytest.raises(ValueError, match=r"dataset must be a name \(gm, .*manifest:PATH.csv.*\), a spec dict .* "
                                         r"or a TaggingDataset; got 42 \(int\)"):
        zoo.train("maxpool-frame-single", 42, out_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()
