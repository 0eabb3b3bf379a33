"""zoo.audio.streaming: chunked patches equal the whole-clip computation on a long rendered file."""
import keras
import numpy as np
import pytest
import soundfile
from test_tagging import write_song

from zoo.audio import load_audio
from zoo.audio.streaming import MEL, stream_patches
from zoo.datasets.fluidsynth import SoundfontNotFoundError, render_midi
from zoo.models.input_stage import log_mel
from zoo.tagging import embeddings, taggram
from zoo.tagging.analyser import _patching
from zoo.tagging.network import PatchModel, tagger


@pytest.fixture(scope="module")
def long_song(tmp_path_factory):
    """75 s of rendered music at 44.1 kHz stereo: resampled in streaming blocks of 30 s."""
    folder = tmp_path_factory.mktemp("long")
    try:
        path = render_midi(write_song(folder / "song.mid", seconds=75.0), folder / "rendered.wav", sample_rate=44100)
    except SoundfontNotFoundError as error:
        pytest.skip(f"cannot render music: {error}")
    stereo, rate = soundfile.read(path, dtype="float32", always_2d=True)
    if stereo.shape[1] == 1:
        stereo = np.concatenate([stereo, 0.5 * stereo], axis=1)
    soundfile.write(folder / "song.flac", stereo, rate)
    return folder / "song.flac"


def _whole_clip_patches(waveform, patching):
    """The reference: one log-mel of the whole (padded) clip, then cut (what zoo.tag did before)."""
    padded = np.pad(waveform, (0, max(0, patching.samples - len(waveform))))
    inputs = keras.Input((None,))
    spectrogram = keras.Model(inputs, log_mel(inputs, MEL))(padded[None]).numpy()[0]
    starts = np.arange(0, len(spectrogram) - patching.frames + 1, patching.hop_frames)
    return np.stack([spectrogram[s:s + patching.frames] for s in starts])


@pytest.mark.parametrize("hop_seconds", [None, 1.0])
def test_chunked_log_mel_patches_equal_the_whole_file(long_song, hop_seconds):
    patching = _patching(3.0, hop_seconds)
    reference = _whole_clip_patches(load_audio(long_song), patching)
    chunks = list(stream_patches(long_song, patching, "log-mel", chunk_patches=5))
    assert len(chunks) > 3
    streamed = np.concatenate([c.patches for c in chunks])
    assert streamed.shape == reference.shape
    np.testing.assert_allclose(streamed, reference, atol=1e-5)


def test_chunked_scores_equal_the_whole_file(long_song):
    patching = _patching(3.0, None)
    model = tagger(PatchModel("musicnn-vertical-horizontal", "mtt", patching.samples))
    whole = model.predict(_whole_clip_patches(load_audio(long_song), patching), verbose=0)
    streamed = taggram(long_song)
    assert streamed.shape == whole.shape and len(whole) >= 25
    assert np.abs(streamed.to_numpy() - whole).max() <= 1e-5
    np.testing.assert_allclose(streamed.index, np.arange(len(whole)) * 187 * 256 / 16000)


def test_waveform_patches_are_the_clip_cut(long_song):
    patching = _patching(3.0, None)
    waveform = load_audio(long_song)
    streamed = np.concatenate([c.patches for c in stream_patches(long_song, patching, "waveform", chunk_patches=4)])
    starts = np.arange(len(streamed)) * patching.frames * MEL.hop_length
    np.testing.assert_array_equal(streamed, np.stack([waveform[s:s + patching.samples] for s in starts]))


def test_short_clips_are_padded_to_one_patch():
    patching = _patching(3.0, None)
    clip = np.random.default_rng(1).uniform(-0.5, 0.5, 20000).astype(np.float32)
    [chunk] = list(stream_patches(clip, patching, "log-mel"))
    np.testing.assert_allclose(chunk.patches, _whole_clip_patches(clip, patching), atol=1e-5)


def test_embeddings_stream_too(long_song):
    features = embeddings(long_song)
    patches = len(taggram(long_song))
    assert features["penultimate"].shape == (patches, 200) and features["timbral"].shape[0] == patches
