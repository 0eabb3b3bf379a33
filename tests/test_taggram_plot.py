"""Taggram pictures: zoo.plot_taggram from a file, an array or a taggram; zoo-tag --plot (one PNG
per file, folders mirrored, resumed) and --format timeline (each patch's times and top tags),
both from the one scoring pass of the Analyser."""
import csv
import io
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import soundfile

import zoo
from zoo.tagging.analyser import Analyser
from zoo.tagging.cli import main
from zoo.tagging.taggram_plot import png_bytes, save_figure, taggram_figure

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SR = 16000
PATCH_SECONDS = 187 * 256 / SR  # musicnn's patch: 187 log-mel frames


def _sound(seconds, seed):
    """A few seconds of chords over noise bursts: something the tags change over."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    tones = sum(np.sin(2 * np.pi * f * t) for f in rng.uniform(110, 880, 3)) / 3
    bursts = rng.standard_normal(len(t)) * (np.sin(2 * np.pi * rng.uniform(0.5, 2) * t) > 0.6)
    return (0.3 * tones + 0.1 * bursts).astype(np.float32)


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    root = tmp_path_factory.mktemp("pictures")
    (root / "sub").mkdir()
    soundfile.write(root / "one.wav", _sound(10, 1), SR)
    soundfile.write(root / "sub" / "two.flac", _sound(7, 2), SR)
    (root / "sub" / "cut.wav").write_bytes((root / "one.wav").read_bytes()[:3000])
    return root


def _labels(axes):
    return [label.get_text() for label in axes.get_yticklabels()]


def test_a_file_gives_the_top_tags_over_time_with_the_log_mel_above(library):
    figure = zoo.plot_taggram(library / "one.wav", top=6)
    expected = zoo.taggram(library / "one.wav")
    mel_axes, taggram_axes = figure.axes[:2]  # then the two colour bars
    assert len(figure.axes) == 4 and figure.axes[3].get_ylabel() == "score"
    assert _labels(taggram_axes) == list(expected.mean().sort_values(ascending=False, kind="stable").index[:6])
    assert taggram_axes.get_xlabel() == "time (s)"
    assert mel_axes.get_xlim() == taggram_axes.get_xlim() == (0.0, 10.0)  # one time axis, the clip's length
    assert figure.get_suptitle() == "one.wav"
    assert png_bytes(figure).startswith(b"\x89PNG")


def test_an_array_and_a_taggram_give_the_same_ranking(library):
    waveform, _ = soundfile.read(library / "one.wav", dtype="float32")
    from_array = zoo.plot_taggram(np.stack([waveform] * 2, axis=1), spectrogram=False, top=4, by="max")
    taggram = zoo.taggram(library / "one.wav")
    from_frame = zoo.plot_taggram(taggram, top=4, by="max")
    assert len(from_array.axes) == len(from_frame.axes) == 2  # no spectrogram: taggram and colour bar
    assert _labels(from_array.axes[0]) == _labels(from_frame.axes[0]) == list(
        taggram.max().sort_values(ascending=False, kind="stable").index[:4])
    assert from_frame.axes[0].get_xlim() == pytest.approx((0.0, 3 * PATCH_SECONDS))  # three patches
    assert len(_labels(zoo.plot_taggram(taggram, top=None).axes[0])) == 50


@pytest.mark.parametrize("call, error, message", [
    (lambda t: zoo.plot_taggram(t, spectrogram=True), ValueError, "spectrogram=True needs the audio"),
    (lambda t: zoo.plot_taggram(t, by="median"), ValueError, "by must be one of mean, max"),
    (lambda t: zoo.plot_taggram(t, top=0), ValueError, "top must be a positive integer"),
    (lambda t: taggram_figure(t.to_numpy()), TypeError, "a taggram is a DataFrame"),
    (lambda t: taggram_figure(t.iloc[:0]), ValueError, "the taggram is empty"),
    (lambda t: taggram_figure(t.astype(object).assign(guitar="x")), ValueError, "a taggram holds numbers"),
])
def test_bad_arguments_are_one_line_errors(library, call, error, message):
    taggram = pd.DataFrame(np.full((2, 3), 0.5), index=pd.Index([0.0, 2.992], name="time"),
                           columns=["guitar", "piano", "drums"])
    with pytest.raises(error, match=message) as raised:
        call(taggram)
    assert "\n" not in str(raised.value)


def test_save_figure_writes_whole_files_and_folders(tmp_path):
    figure = taggram_figure(pd.DataFrame({"rock": [0.1, 0.9]}, index=[0.0, 3.0]))
    path = save_figure(figure, tmp_path / "deep" / "er" / "x.png")
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.listdir(tmp_path / "deep" / "er") == ["x.png"]  # no temporary file left


def test_import_zoo_imports_no_matplotlib():
    code = "import sys, zoo; print('matplotlib' in sys.modules, 'zoo.tagging.taggram_plot' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert done.stdout.strip() == "False False", done.stderr[-2000:]


# --- zoo-tag --plot and --format timeline -------------------------------------------------------


def test_plot_writes_one_picture_per_tagged_file_mirroring_the_folders(library, tmp_path, capsys, monkeypatch):
    scored = []
    score = Analyser.score
    monkeypatch.setattr(Analyser, "score", lambda self, chunk: scored.append(len(chunk.patches)) or score(self, chunk))
    pictures, output, embeddings = tmp_path / "pictures", tmp_path / "tags.jsonl", tmp_path / "embeddings"
    arguments = [str(library), "--plot", str(pictures), "--format", "jsonl", "--output", str(output), "--top-k", "3",
                 "--embeddings", "penultimate", "--embeddings_dir", str(embeddings)]
    assert main(arguments) == 1  # the cut file
    assert sum(scored) == 3 + 2  # every patch scored once: tags, embeddings and pictures share the pass
    assert sorted(np.load(embeddings / "one.wav.npz")) == ["penultimate", "time"]  # not the picture's scores
    found = sorted(os.path.relpath(os.path.join(f, n), pictures) for f, _, names in os.walk(pictures) for n in names)
    assert found == ["one.wav.png", os.path.join("sub", "two.flac.png")]  # the cut file has none
    assert open(pictures / "one.wav.png", "rb").read(4) == b"\x89PNG"
    assert "cut.wav" in capsys.readouterr().err
    os.remove(pictures / "sub" / "two.flac.png")
    assert main(arguments + ["--resume"]) == 1
    assert "tagged 1, failed 1, skipped 1" in capsys.readouterr().err  # the lost picture is drawn again
    assert (pictures / "sub" / "two.flac.png").exists()


def test_timeline_lists_each_patch_with_its_top_tags(library, capsys):
    assert main([str(library / "one.wav"), str(library / "sub" / "cut.wav"), "--format", "timeline",
                 "--top-k", "2"]) == 1
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert list(rows[0]) == ["file", "start", "end", "tag", "score", "error"]
    tagged = [r for r in rows if not r["error"]]
    taggram = zoo.taggram(library / "one.wav")
    assert len(tagged) == 2 * len(taggram)
    for index, (start, scores) in enumerate(taggram.iterrows()):
        first, second = tagged[2 * index: 2 * index + 2]
        assert float(first["start"]) == pytest.approx(start, abs=1e-3)
        assert float(first["end"]) == pytest.approx(start + PATCH_SECONDS, abs=1e-3)
        best = scores.sort_values(ascending=False)
        assert {first["tag"], second["tag"]} == set(best.index[:2])
        assert float(first["score"]) == pytest.approx(best.iloc[0], abs=1e-4)
    failed = [r for r in rows if r["error"]]
    assert len(failed) == 1 and failed[0]["file"].endswith("cut.wav") and "Cannot decode" in failed[0]["error"]


def test_pictures_and_timelines_need_no_tensorflow(library, tmp_path):
    Analyser(runtime="onnx")  # converts once into the zoo cache (this process has TensorFlow)
    code = ("import sys; from zoo.tagging.cli import main; status = main(sys.argv[1:]); "
            "print(status, 'tensorflow' in sys.modules, 'keras' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code, str(library / "one.wav"), "--plot", str(tmp_path),
                           "--format", "timeline"], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "0 False False"
    assert (tmp_path / "one.wav.png").exists()
