"""Calibration clips for the int8 exports: whole clips (the exported models take clips), from the
audio ``zoo.tagging.calibration.Calibration`` names (rendered GM clips by default, or the user's
files), at the served sample rate.

    >>> from export.calibration import calibration_clips
    >>> clips = calibration_clips()          # 24 GM clips of 10 s, each [1, 160000] at 16 kHz
"""
import numpy as np

from zoo.audio.decoding import load_audio
from zoo.tagging.calibration import Calibration

__all__ = ["CLIP_SECONDS", "calibration_clips"]

CLIP_SECONDS = 10.0  # at most, from the middle of each of the user's files (GM clips are 10 s)


def calibration_clips(calibration=None, sample_rate=16000):
    """[1, samples] float32 clips, one per calibration file, at most ``CLIP_SECONDS`` long each."""
    calibration = calibration or Calibration()
    clips = []
    for path in calibration.audio_files():
        waveform = load_audio(path, target_rate=sample_rate)
        length = int(CLIP_SECONDS * sample_rate)
        start = max(0, (len(waveform) - length) // 2)
        clips.append(np.asarray(waveform[start:start + length], np.float32)[np.newaxis])
    return clips
