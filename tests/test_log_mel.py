"""zoo.audio.log_mel: tagging's NumPy log-mel equals the models' in-graph (kapre) input stage."""
import keras
import numpy as np
from kapre.backend import filterbank_mel

from zoo.audio.log_mel import log_mel_frames
from zoo.models.input_stage import log_mel
from zoo.models.log_mel_config import LogMelConfig, mel_filterbank


def test_mel_filterbank_is_kapres():
    config = LogMelConfig()
    theirs = filterbank_mel(sample_rate=config.sample_rate, n_freq=config.n_freq, n_mels=config.n_mels,
                            f_min=config.f_min, f_max=config.top_frequency, htk=False, norm="slaney")
    ours = mel_filterbank(config)
    assert ours.shape == (257, 96) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-6, atol=1e-9)


def test_log_mel_frames_equal_the_input_stage():
    rng = np.random.default_rng(3)
    t = np.arange(16000 * 4) / 16000
    segment = (0.4 * np.sin(2 * np.pi * 440 * t) + 0.1 * rng.standard_normal(len(t))).astype(np.float32)
    inputs = keras.Input((None,))
    graph = keras.Model(inputs, log_mel(inputs, LogMelConfig(), center=False))(segment[None]).numpy()[0]
    ours = log_mel_frames(segment)
    assert ours.shape == graph.shape == (1 + (len(segment) - 512) // 256, 96)
    assert np.abs(ours - graph).max() <= 5e-6


def test_a_segment_shorter_than_one_frame_has_no_frames():
    assert log_mel_frames(np.zeros(100, np.float32)).shape == (0, 96)
