"""zoo.audio.load_audio: decoding, downmixing, resampling, and one clear error per problem."""
import numpy as np
import pytest
import soundfile

from zoo.audio import AudioError, load_audio

RATE = 44100


def tone(rate, seconds=1.0, frequency=440.0, amplitude=0.3):
    t = np.arange(int(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def stereo(rate):
    left = tone(rate)
    return np.stack([left, 0.5 * left], axis=1)  # mono mix = 0.75 * tone


# (file suffix, soundfile format, subtype, tolerance against the ideal 16 kHz tone)
ENCODINGS = [
    ("wav", "WAV", "PCM_16", 2e-3),
    ("wav", "WAV", "PCM_24", 2e-3),
    ("wav", "WAV", "PCM_32", 2e-3),  # tensorflow-io reads it as float; load_audio fixes that
    ("wav", "WAVEX", "PCM_32", 2e-3),
    ("wav", "WAV", "FLOAT", 2e-3),
    ("wav", "WAV", "PCM_U8", 2e-2),
    ("flac", "FLAC", "PCM_16", 2e-3),
    ("flac", "FLAC", "PCM_24", 2e-3),
    ("ogg", "OGG", "VORBIS", 5e-2),  # lossy
    ("mp3", "MP3", "MPEG_LAYER_III", 5e-2),  # lossy
]


@pytest.mark.parametrize("suffix, file_format, subtype, tolerance", ENCODINGS, ids=lambda v: str(v))
def test_decodes_downmixes_and_resamples_files(tmp_path, suffix, file_format, subtype, tolerance):
    path = tmp_path / f"tone.{suffix}"
    soundfile.write(path, stereo(RATE), RATE, format=file_format, subtype=subtype)
    waveform = load_audio(path)
    assert waveform.dtype == np.float32 and waveform.ndim == 1
    assert abs(len(waveform) - 16000) <= 1
    expected = 0.75 * tone(16000)
    middle = slice(800, 15200)  # resampler and codec edges aside
    assert np.abs(waveform[middle] - expected[: len(waveform)][middle]).max() < tolerance


def test_path_may_be_a_string_and_keeps_the_files_rate_when_asked(tmp_path):
    path = tmp_path / "tone.flac"
    soundfile.write(path, tone(22050), 22050)
    assert len(load_audio(str(path), target_rate=22050)) == 22050
    assert len(load_audio(path, sample_rate=22050)) == 16000


def test_arrays_are_converted_and_resampled():
    assert np.array_equal(load_audio(tone(16000)), tone(16000))  # sample_rate None: already 16 kHz
    assert len(load_audio(tone(RATE), sample_rate=RATE)) == 16000
    pcm = (tone(8000) * 32768).astype(np.int16)
    np.testing.assert_allclose(load_audio(pcm, sample_rate=8000, target_rate=8000), tone(8000), atol=1e-4)
    np.testing.assert_allclose(load_audio(stereo(16000)), 0.75 * tone(16000), atol=1e-6)
    assert load_audio([0.0, 0.1, -0.1]).dtype == np.float32


def test_silence_is_valid():
    assert not load_audio(np.zeros(16000)).any()


# --- one clear error per problem --------------------------------------------------------------

def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match="No such audio file"):
        load_audio(tmp_path / "missing.wav")


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(AudioError, match="is a directory"):
        load_audio(tmp_path)


@pytest.mark.parametrize("content", [b"", b"hello, not audio", bytes(range(256)) * 4], ids=["empty", "text", "noise"])
def test_file_that_is_not_audio(tmp_path, content):
    path = tmp_path / "song.wav"
    path.write_bytes(content)
    with pytest.raises(AudioError, match="not a wav, flac, ogg or mp3 file"):
        load_audio(path)


def test_corrupt_file_with_an_audio_header(tmp_path):
    path = tmp_path / "cut.wav"
    soundfile.write(path, tone(16000), 16000, subtype="PCM_24")
    path.write_bytes(path.read_bytes()[:1000])  # the header promises more samples than follow
    with pytest.raises(AudioError, match="Cannot decode"):
        load_audio(path)


def test_empty_audio(tmp_path):
    path = tmp_path / "empty.wav"
    soundfile.write(path, np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioError, match="no audio samples"):
        load_audio(path)
    with pytest.raises(AudioError, match="no audio samples"):
        load_audio(np.zeros(0))
    with pytest.raises(AudioError, match="no audio samples"):
        load_audio(np.zeros((0, 2)))


def test_non_finite_samples(tmp_path):
    path = tmp_path / "nan.wav"
    soundfile.write(path, np.full(1600, np.nan, np.float32), 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="1600 NaN or infinite samples"):
        load_audio(path)
    with pytest.raises(AudioError, match="1 NaN or infinite"):
        load_audio(np.r_[np.zeros(10), np.inf])


@pytest.mark.parametrize("shape", [(), (2, 16000), (100, 2, 2), (100, 0)])
def test_wrong_shape_or_channels(shape):
    with pytest.raises(AudioError, match="expected \\(samples,\\) or \\(samples, channels\\)"):
        load_audio(np.zeros(shape, np.float32))


@pytest.mark.parametrize("audio", [np.array(["a", "b"]), np.zeros(4, complex), [[0.0, 1.0], [0.0]]])
def test_not_samples(audio):
    with pytest.raises(AudioError):
        load_audio(audio)


@pytest.mark.parametrize("rate", [0, -8000, float("nan"), "16k", True])
def test_bad_sample_rate(rate):
    with pytest.raises(AudioError, match="sample_rate"):
        load_audio(np.zeros(100), sample_rate=rate)


def test_sample_rate_contradicting_the_file(tmp_path):
    path = tmp_path / "tone.wav"
    soundfile.write(path, tone(16000), 16000)
    with pytest.raises(AudioError, match="sampled at 16000 Hz"):
        load_audio(path, sample_rate=44100)


def test_errors_are_value_errors():
    assert issubclass(AudioError, ValueError)
