"""zoo.tagging (tag, taggram, embeddings) and the zoo-tag command line on rendered music."""
import json
import os
import subprocess
import sys
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile

import zoo.weights
from pretrained.tags import MSD_TAGS, MTT_TAGS
from zoo.datasets.fluidsynth import SoundfontNotFoundError, render_midi
from zoo.models.registry import UnknownModelError
from zoo.tagging import embeddings, tag, taggram
from zoo.tagging.cli import main
from zoo.weights import UnknownWeightsError, WeightsEntry

REPO = Path(__file__).resolve().parents[1]
SR = 16000
PATCH = 2.992  # seconds between musicnn patch starts: 187 frames of 256 samples


def write_song(path, seconds=10.0, tempo=120):
    """Piano chords, a strings melody and a rock beat as a General MIDI file."""
    beats = int(seconds * tempo / 60)
    song = mido.MidiFile(type=0, ticks_per_beat=480)
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo), time=0),
                            mido.Message("program_change", channel=0, program=0, time=0),
                            mido.Message("program_change", channel=1, program=48, time=0)])
    events = []
    for beat in range(beats):
        chord = (48, 52, 55) if (beat // 4) % 2 == 0 else (45, 48, 52)
        events += [(beat, 0, note, 70) for note in chord]
        events += [(beat, 1, 72 + (beat * 5) % 12, 90)]
        events += [(beat, 9, 36 if beat % 2 == 0 else 38, 100), (beat + 0.5, 9, 42, 80)]
    messages = []
    for start, channel, note, velocity in events:
        messages += [(round(start * 480), "note_on", channel, note, velocity),
                     (round((start + 0.45) * 480), "note_off", channel, note, 0)]
    now = 0
    for tick, kind, channel, note, velocity in sorted(messages, key=lambda m: (m[0], m[1] == "note_on")):
        track.append(mido.Message(kind, channel=channel, note=note, velocity=velocity, time=tick - now))
        now = tick
    song.tracks.append(track)
    song.save(path)
    return path


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    folder = tmp_path_factory.mktemp("song")
    try:
        return render_midi(write_song(folder / "song.mid"), folder / "song.wav", sample_rate=SR)
    except SoundfontNotFoundError as error:
        pytest.skip(f"cannot render music: {error}")


def patches_in(path):
    samples = soundfile.info(str(path)).frames
    return (1 + samples // 256 - 187) // 187 + 1


# --- the Python API ---------------------------------------------------------------------------

def test_tag_returns_top_k_sorted(song):
    tags = tag(song)
    assert list(tags.columns) == ["tag", "score"] and len(tags) == 5
    assert set(tags["tag"]) <= set(MTT_TAGS)
    assert tags["score"].is_monotonic_decreasing
    assert ((tags["score"] > 0) & (tags["score"] < 1)).all()
    every = tag(song, top_k=None)
    assert len(every) == 50 and list(every["tag"][:5]) == list(tags["tag"])


def test_aggregates_and_other_weights(song):
    mean = tag(song, top_k=None).set_index("tag")["score"]
    peak = tag(song, top_k=None, aggregate="max").set_index("tag")["score"]
    assert (peak[mean.index] >= mean - 1e-7).all()
    assert set(tag(song, model="vgg", weights="msd")["tag"]) <= set(MSD_TAGS)


def test_taggram_has_one_row_per_musicnn_patch(song):
    scores = taggram(song)
    assert scores.index.name == "time" and list(scores.columns) == list(MTT_TAGS)
    assert len(scores) == patches_in(song)
    np.testing.assert_allclose(scores.index, PATCH * np.arange(len(scores)))
    overlapping = taggram(song, hop_seconds=1.0)
    assert len(overlapping) > 2 * len(scores)


def test_arrays_and_short_clips(song):
    waveform, rate = soundfile.read(song, dtype="float32")
    from_array = taggram(waveform, sample_rate=rate)
    np.testing.assert_allclose(from_array.to_numpy(), taggram(song).to_numpy(), atol=1e-5)
    assert len(taggram(waveform[:SR], sample_rate=rate)) == 1  # padded to one patch
    assert len(tag(np.zeros(SR // 2))) == 5  # silence is audio too


def test_musicnn_embeddings_are_consistent(song):
    features = embeddings(song)
    n = patches_in(song)
    shapes = {name: value.shape for name, value in features.items()}
    assert shapes == {
        "timbral": (n, 187, 408), "temporal": (n, 187, 153), "cnn1": (n, 187, 64), "cnn2": (n, 187, 64),
        "cnn3": (n, 187, 64), "max_pool": (n, 753), "mean_pool": (n, 753), "penultimate": (n, 200),
        "frames": (n, 187, 753),
    }
    # The back-end pools over the dense concatenation of front-end and mid-end features.
    stacked = np.concatenate([features[k] for k in ("timbral", "temporal", "cnn1", "cnn2", "cnn3")], axis=-1)
    np.testing.assert_allclose(features["max_pool"], stacked.max(axis=1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(features["mean_pool"], stacked.mean(axis=1), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(features["frames"], stacked, rtol=1e-5, atol=1e-5)  # the map the pooling reads


def test_vgg_embeddings(song):
    features = embeddings(song, model="dense-small-rectangular", weights="mtt")
    assert sorted(features) == ["embedding", "frames", *(f"pool{i}" for i in range(1, 6))]
    assert features["pool5"].shape == (patches_in(song), 2, 1, 128)
    # The head's input is the flattened last pool; the back-end reads it frame by frame.
    np.testing.assert_allclose(features["embedding"], features["pool5"].reshape(len(features["pool5"]), -1),
                               rtol=1e-5, atol=1e-5)
    assert features["frames"].shape == (patches_in(song), 2, 128)


def test_waveform_models_get_waveform_patches(song, monkeypatch):
    # No released weights take a waveform yet; an entry leaving random weights stands in.
    entry = WeightsEntry("maxpool-sample-level", "random", tuple(f"tag{i}" for i in range(3)), lambda m: m)
    zoo.weights.available()  # the providers are read first, so that the stand-in is not overwritten
    monkeypatch.setitem(zoo.weights._REGISTRY, entry.model_id, {entry.name: entry})
    scores = taggram(song, model="samplecnn", weights="random")
    assert list(scores.columns) == ["tag0", "tag1", "tag2"] and len(scores) == patches_in(song)
    assert sorted(embeddings(song, model="samplecnn", weights="random")) == ["embedding", "frames", "penultimate",
                                                                             "pooled"]


@pytest.mark.parametrize("arguments, error, message", [
    ({"model": "musicn"}, UnknownModelError, "Did you mean"),
    ({"weights": "imagenet"}, UnknownWeightsError, "available: msd, mtt"),
    ({"model": "rnn-frame-single"}, UnknownWeightsError, "no pretrained weights"),
    ({"weights": None}, ValueError, "needs pretrained weights"),
    ({"aggregate": "median"}, ValueError, "aggregate"),
    ({"top_k": 0}, ValueError, "top_k"),
    ({"patch_seconds": 0}, ValueError, "patch_seconds"),
    ({"model": "vgg", "patch_seconds": 5.0}, ValueError, "3 s input"),
])
def test_api_errors(arguments, error, message):
    with pytest.raises(error, match=message):
        tag(np.zeros(SR), **arguments)


# --- the command line ---------------------------------------------------------------------------

def run_cli(*arguments):
    # TF_CPP_MIN_LOG_LEVEL=3 silences TensorFlow's C++ start-up lines, which the zoo
    # itself does not control; everything else on stderr is ours.
    return subprocess.run(
        [sys.executable, "-m", "zoo.tagging.cli", *map(str, arguments)],
        capture_output=True, text=True, check=False, cwd=REPO, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )


def test_cli_tags_a_file(song):
    result = run_cli(song, "--format", "json", "--top-k", "3")
    assert result.returncode == 0, result.stderr
    [entry] = json.loads(result.stdout)
    assert entry["file"] == str(song) and len(entry["tags"]) == 3
    assert [t["tag"] for t in entry["tags"]] == list(tag(song, top_k=3)["tag"])


def test_cli_bad_file_is_one_line_and_an_error_record(tmp_path):
    result = run_cli(tmp_path / "missing.wav")
    assert result.returncode == 1
    error, summary = result.stderr.splitlines()
    assert error == f"zoo-tag: error: No such audio file: {tmp_path / 'missing.wav'}"
    assert summary.startswith("zoo-tag: tagged 0, failed 1")
    assert result.stdout.splitlines() == [str(tmp_path / "missing.wav"),
                                          f"  error: No such audio file: {tmp_path / 'missing.wav'}"]


def test_cli_formats(song, capsys):
    assert main([str(song), "--top-k", "2"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0] == str(song) and len(table) == 3
    assert main([str(song), "--format", "csv", "--top-k", "all", "--model", "vgg", "--weights", "msd"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0] == "file,tag,score,error" and len(rows) == 51


def bad_inputs(folder):
    corrupt = folder / "corrupt.wav"
    soundfile.write(corrupt, np.zeros(SR, np.float32), SR, subtype="PCM_24")
    corrupt.write_bytes(corrupt.read_bytes()[:500])
    (folder / "notes.mp3").write_text("not audio")
    soundfile.write(folder / "empty.wav", np.zeros(0, np.float32), SR)
    soundfile.write(folder / "nan.wav", np.full(SR, np.nan, np.float32), SR, subtype="FLOAT")
    soundfile.write(folder / "ok.wav", np.zeros(SR, np.float32), SR)
    return {
        "missing file": ([folder / "missing.wav"], "No such audio file"),
        "corrupt file": ([corrupt], "Cannot decode"),
        "not audio": ([folder / "notes.mp3"], "not a wav, flac, ogg or mp3 file"),
        "empty audio": ([folder / "empty.wav"], "no audio samples"),
        "all-NaN audio": ([folder / "nan.wav"], "NaN or infinite"),
        "unknown weights": ([folder / "ok.wav", "--weights", "imagenet"], "No pretrained weights 'imagenet'"),
        "model without weights": ([folder / "ok.wav", "--model", "attention-sample-level"], "no pretrained weights"),
        "unknown model": ([folder / "ok.wav", "--model", "musicnm"], "Unknown model 'musicnm'"),
    }


def test_cli_bad_inputs_each_give_one_line(tmp_path, capsys):
    for case, (arguments, message) in bad_inputs(tmp_path).items():
        status = main([str(a) for a in arguments])
        captured = capsys.readouterr()
        lines = captured.err.splitlines()
        assert lines[0].startswith("zoo-tag: error: ") and message in lines[0], (case, lines)
        if case in ("unknown weights", "model without weights", "unknown model"):  # the command line
            assert status == 2 and len(lines) == 1 and captured.out == "", case
        else:  # one bad file: its error record, and the closing summary
            assert status == 1 and len(lines) == 2 and "failed 1" in lines[1], (case, lines)
            assert f"error: {message}" in captured.out or message in captured.out, case


def test_cli_usage_errors(capsys):
    assert main(["song.wav", "--top-k", "0"]) == 2
    assert main(["song.wav", "--format", "xml"]) == 2
    assert main([]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3 and all(line.startswith("zoo-tag: error: ") for line in lines)
