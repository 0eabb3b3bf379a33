"""musicnn 0.1.0's checkpoints in Keras, proven equal to the original TF1 graphs.

The first run downloads the musicnn wheel with pip into the cache ($ZOO_CACHE_DIR, default
~/.cache/audio-zoo) and converts the four checkpoints; later runs reuse both.
"""
import ast
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import keras
import librosa
import mido
import numpy as np
import pytest
import soundfile

import zoo
from pretrained import UnknownWeightsError
from pretrained import musicnn as ported
from pretrained.reference import ReferenceGraph, batch_norm_epsilons, batch_norm_inputs
from pretrained.source import PretrainedSourceError, checkpoint_dir, musicnn_wheel
from pretrained.tags import MSD_TAGS, MTT_TAGS
from zoo.datasets.fluidsynth import SoundfontNotFoundError, render_midi
from zoo.models.input_stage import frames_to_samples, waveform_to_frames
from zoo.tagging import taggram

REPO = Path(__file__).resolve().parents[1]
SR = 16000
FRAMES = 187
PATCH_SECONDS = frames_to_samples(FRAMES) / SR  # 2.976 s: exactly 187 log-mel frames
NAMES = [checkpoint.name for checkpoint in ported.CHECKPOINTS]
PORT_TOLERANCE = 1e-4  # same log-mel in, same probabilities out
END_TO_END_TOLERANCE = 1e-3  # our in-graph log-mel vs librosa's (measured ~1e-6 apart in p)


# --- real music: short pieces written as MIDI and rendered with a GM soundfont -------------

DRUMS = 9  # General MIDI percussion channel
KICK, SNARE, CLOSED_HAT, CLAP = 36, 38, 42, 39
MAJOR, MINOR = (0, 4, 7), (0, 3, 7)


def _track(channel, program, notes):
    """A MIDI track from notes (start beat, beats, pitch, velocity)."""
    ticks = 480
    events = []
    for start, length, pitch, velocity in notes:
        events.append((round(start * ticks), 1, "note_on", pitch, velocity))
        events.append((round((start + length) * ticks), 0, "note_off", pitch, 0))
    track = mido.MidiTrack()
    if channel != DRUMS:
        track.append(mido.Message("program_change", channel=channel, program=program, time=0))
    now = 0
    for tick, _, kind, pitch, velocity in sorted(events):
        track.append(mido.Message(kind, channel=channel, note=pitch, velocity=velocity, time=tick - now))
        now = tick
    return track


def _chords(progression, bars, octave):
    return [(4 * bar + beat, 1.9, octave + root + step, 70)
            for bar in range(bars) for (root, quality) in [progression[bar % len(progression)]]
            for beat in (0, 2) for step in quality]


def _bass(progression, bars, octave):
    return [(4 * bar + beat, 0.9, octave + progression[bar % len(progression)][0], 95)
            for bar in range(bars) for beat in range(4)]


def _melody(progression, bars, octave, rhythm):
    # Chord tones walked up and down in the piece's rhythm (beats within a bar).
    notes, contour = [], (0, 1, 2, 1, 2, 0, 1, 2)
    for bar in range(bars):
        root, quality = progression[bar % len(progression)]
        for i, beat in enumerate(rhythm):
            step = quality[contour[(i + bar) % len(contour)]]
            notes.append((4 * bar + beat, 0.45, octave + 12 + root + step, 100))
    return notes


def _drums(bars, pattern):
    return [(4 * bar + beat, 0.25, drum, 100) for bar in range(bars) for beat, drum in pattern]


ROCK_DRUMS = [(b, KICK) for b in (0, 2.5)] + [(b, SNARE) for b in (1, 3)] + [(b / 2, CLOSED_HAT) for b in range(8)]
POP_DRUMS = [(b, KICK) for b in (0, 2)] + [(b, SNARE) for b in (1, 3)] + [(b, CLOSED_HAT) for b in range(4)]
TECHNO_DRUMS = [(b, KICK) for b in range(4)] + [(b, CLAP) for b in (1, 3)] + [(b + 0.5, CLOSED_HAT) for b in range(4)]

# name: tempo, (chord, melody, bass) GM programs, progression, melody rhythm, drum pattern
PIECES = {
    "rock": (132, (29, 30, 33), [(4, MINOR), (0, MAJOR), (2, MAJOR), (9, MINOR)], (0, 0.5, 1.5, 2, 3), ROCK_DRUMS),
    "piano_pop": (96, (0, 73, 32), [(0, MAJOR), (7, MAJOR), (9, MINOR), (5, MAJOR)], (0, 1, 1.5, 2, 3), POP_DRUMS),
    "techno": (128, (89, 81, 38), [(9, MINOR), (5, MAJOR), (0, MAJOR), (7, MAJOR)], (0, 0.75, 1.5, 2.5, 3.25),
               TECHNO_DRUMS),
}


def write_piece(path, tempo, programs, progression, rhythm, drums, seconds=12.0):
    bars = int(np.ceil(seconds * tempo / 240))
    chord_program, melody_program, bass_program = programs
    song = mido.MidiFile(type=1, ticks_per_beat=480)
    conductor = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo), time=0)])
    song.tracks.extend([
        conductor,
        _track(0, chord_program, _chords(progression, bars, 48)),
        _track(1, melody_program, _melody(progression, bars, 60, rhythm)),
        _track(2, bass_program, _bass(progression, bars, 28)),
        _track(DRUMS, 0, _drums(bars, drums)),
    ])
    song.save(path)
    return path


def render_pieces(folder):
    """{name: 16 kHz wav path} of the pieces above; skips the test without fluidsynth."""
    rendered = {}
    for name, spec in PIECES.items():
        midi = write_piece(folder / f"{name}.mid", *spec)
        try:
            rendered[name] = render_midi(midi, folder / f"{name}.wav", sample_rate=SR)
        except SoundfontNotFoundError as error:
            pytest.skip(f"cannot render music: {error}")
    return rendered


@pytest.fixture(scope="module")
def pieces(tmp_path_factory):
    return render_pieces(tmp_path_factory.mktemp("music"))


# --- musicnn's preprocessing, re-implemented (float32: not musicnn's float16 overflow) -----

def musicnn_log_mel(waveform):
    mel = librosa.feature.melspectrogram(
        y=waveform, sr=SR, n_fft=512, hop_length=256, n_mels=96, center=True, pad_mode="reflect"
    ).T.astype(np.float32)
    return np.log10(np.float32(10000) * mel + np.float32(1))


def musicnn_patches(log_mel, frames=FRAMES):
    """musicnn's extractor batching: consecutive non-overlapping patches, tail dropped."""
    return np.stack([log_mel[s:s + frames] for s in range(0, len(log_mel) - frames + 1, frames)])


def read_wav(path):
    waveform, rate = soundfile.read(path, dtype="float32", always_2d=True)
    assert rate == SR
    return waveform.mean(axis=1)


@pytest.fixture(scope="module")
def references():
    graphs = {}

    def reference(name):
        if name not in graphs:
            graphs[name] = ReferenceGraph(name)
        return graphs[name]

    yield reference
    for graph in graphs.values():
        graph.close()


@pytest.fixture(scope="module")
def log_mel_patches(pieces):
    random = np.random.default_rng(7).uniform(0.0, 4.0, (4, FRAMES, 96)).astype(np.float32)
    music = [musicnn_patches(musicnn_log_mel(read_wav(path)))[:2] for path in pieces.values()]
    return np.concatenate([random, *music])


def log_mel_port(checkpoint):
    model = zoo.load(checkpoint.model_id, weights=checkpoint.weights, input_stage=False, input_seconds=PATCH_SECONDS)
    assert model.input.shape[1] == waveform_to_frames(frames_to_samples(FRAMES)) == FRAMES
    return model


def top_tags(scores, names, k=3):
    return [names[i] for i in np.argsort(-scores.mean(axis=0), kind="stable")[:k]]


# --- the ports equal the original graphs --------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_port_equals_original_graph_on_log_mel_patches(name, references, log_mel_patches):
    checkpoint = ported.find_checkpoint(name)
    expected = references(name).predict(log_mel_patches)
    actual = log_mel_port(checkpoint).predict(log_mel_patches, verbose=0)
    delta = np.abs(actual - expected).max()
    print(f"{name}: max |dp| on {len(log_mel_patches)} log-mel patches = {delta:.2e}")
    assert delta <= PORT_TOLERANCE


@pytest.mark.parametrize("name", NAMES)
def test_waveform_model_matches_original_graph_on_music(name, references, pieces):
    # zoo.load(..., weights=...) takes a waveform; the original graph gets musicnn's librosa
    # preprocessing of the same 2.976 s patch.
    checkpoint = ported.find_checkpoint(name)
    model = zoo.load(checkpoint.model_id, weights=checkpoint.weights, input_seconds=PATCH_SECONDS)
    for piece, path in pieces.items():
        waveform, samples = read_wav(path), frames_to_samples(FRAMES)
        patches = np.stack([waveform[s:s + samples] for s in range(0, len(waveform) - samples + 1, samples)])
        expected = references(name).predict(np.stack([musicnn_log_mel(patch) for patch in patches]))
        actual = model.predict(patches, verbose=0)
        delta = np.abs(actual - expected).max()
        ours, theirs = top_tags(actual, checkpoint.tag_names), top_tags(expected, checkpoint.tag_names)
        print(f"{name} {piece} waveform patches: max |dp| = {delta:.2e}; top-3 ours {ours}, original {theirs}")
        assert delta <= END_TO_END_TOLERANCE
        assert ours == theirs


@pytest.mark.parametrize("name", NAMES)
def test_tagging_matches_musicnn_pipeline_on_music(name, references, pieces):
    # musicnn's extractor: one log-mel of the whole clip, cut into 187-frame patches.
    checkpoint = ported.find_checkpoint(name)
    for piece, path in pieces.items():
        expected = references(name).predict(musicnn_patches(musicnn_log_mel(read_wav(path))))
        actual = taggram(path, model=checkpoint.model_id, weights=checkpoint.weights)
        assert actual.shape == expected.shape
        assert list(actual.columns) == list(checkpoint.tag_names)
        delta = np.abs(actual.to_numpy() - expected).max()
        ours, theirs = top_tags(actual.to_numpy(), checkpoint.tag_names), top_tags(expected, checkpoint.tag_names)
        print(f"{name} {piece} whole clip: max |dp| = {delta:.2e}; top-3 ours {ours}, original {theirs}")
        assert delta <= END_TO_END_TOLERANCE
        assert ours == theirs


# --- the mapping is read from the checkpoints, not guessed ---------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_batch_norm_numbering_and_epsilon_follow_the_graph(name):
    checkpoint = ported.find_checkpoint(name)
    folder = checkpoint_dir(name)
    graph_inputs = batch_norm_inputs(folder)
    model = ported.build_model(checkpoint)
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert sorted(checkpoint.scopes[layer.name] for layer in norms) == sorted(graph_inputs)
    for layer in norms:
        producer = layer.input._keras_history.operation.name
        feeding = graph_inputs[checkpoint.scopes[layer.name]]
        if producer in checkpoint.scopes:  # a conv or dense layer of ours feeds this BN
            assert feeding == [f"{checkpoint.scopes[producer]}/Relu"], layer.name
        else:
            assert not any(source.endswith("/Relu") for source in feeding), layer.name
    assert batch_norm_epsilons(folder) == {np.float32(layer.epsilon) for layer in norms}


@pytest.mark.parametrize("name", ["MTT_musicnn", "MSD_vgg"])
def test_conversion_needs_every_variable_exactly_once(name):
    checkpoint = ported.find_checkpoint(name)
    values = ported.checkpoint_values(checkpoint)
    assert not any("Adam" in variable or "power" in variable for variable in values)
    model = ported.port_weights(checkpoint, ported.build_model(checkpoint), values)
    with pytest.raises(ported.ConversionError, match="unused"):
        ported.port_weights(checkpoint, model, {**values, "extra/kernel": np.zeros(3)})
    missing = {k: v for k, v in values.items() if not k.startswith("batch_normalization/")}
    with pytest.raises(ported.ConversionError, match="has no batch_normalization/"):
        ported.port_weights(checkpoint, model, missing)


def test_tag_vocabularies_are_the_wheels():
    with zipfile.ZipFile(musicnn_wheel()) as wheel:
        source = wheel.read("musicnn/configuration.py").decode()
    labels = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign) and node.targets[0].id.endswith("_LABELS")
    }
    assert list(MTT_TAGS) == labels["MTT_LABELS"]
    assert list(MSD_TAGS) == labels["MSD_LABELS"]


# --- loading -------------------------------------------------------------------------------

def test_weights_load_only_into_the_pretrained_architecture():
    with pytest.raises(ported.ConversionError, match="midend_conv1"):
        zoo.load("musicnn", weights="mtt", midend_filters=32)
    with pytest.raises(ported.ConversionError, match="3 s input"):
        zoo.load("vgg", weights="mtt", input_seconds=5.0)
    with pytest.raises(UnknownWeightsError, match="available: msd, mtt"):
        zoo.load("musicnn", weights="imagenet")
    with pytest.raises(UnknownWeightsError, match="no pretrained weights"):
        zoo.load("rnn-frame-single", weights="mtt")


def test_keras_file_round_trip_keeps_tags_and_scores(tmp_path):
    model = zoo.load("musicnn", weights="msd", input_seconds=PATCH_SECONDS)
    waveform = np.random.default_rng(3).uniform(-0.5, 0.5, (2, frames_to_samples(FRAMES))).astype(np.float32)
    path = tmp_path / "musicnn_msd.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    assert zoo.tag_names(restored) == list(MSD_TAGS)
    np.testing.assert_allclose(restored.predict(waveform, verbose=0), model.predict(waveform, verbose=0), atol=1e-6)


def test_offline_sources(tmp_path, monkeypatch):
    checkpoint = ported.find_checkpoint("MTT_vgg")
    wheel, folder = musicnn_wheel(), tmp_path / "checkpoints"
    shutil.copytree(checkpoint_dir(checkpoint.name), folder / checkpoint.name)
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("ZOO_MUSICNN_WHEEL", str(folder))
    assert checkpoint_dir(checkpoint.name) == folder / checkpoint.name
    assert ported.convert(checkpoint).is_file()
    monkeypatch.setenv("ZOO_MUSICNN_WHEEL", str(wheel))
    assert checkpoint_dir("MSD_vgg") == tmp_path / "cache" / "musicnn" / "checkpoints" / "MSD_vgg"
    monkeypatch.setenv("ZOO_MUSICNN_WHEEL", str(tmp_path / "missing.whl"))
    with pytest.raises(PretrainedSourceError, match="does not exist"):
        checkpoint_dir(checkpoint.name)
    with pytest.raises(PretrainedSourceError, match="no musicnn checkpoint"):
        checkpoint_dir(checkpoint.name, source=tmp_path)


def test_convert_command_reports_each_checkpoint():
    result = subprocess.run(
        [sys.executable, "-m", "pretrained", "convert"],
        capture_output=True, text=True, check=False, cwd=REPO, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[1] for line in lines] == NAMES
    assert all(line.endswith(" s)") for line in lines)
