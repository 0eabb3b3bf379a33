"""Audio in: decoding any file or array to 16 kHz mono, musicnn's log-mel in NumPy, and the
patches tagging scores, cut chunk by chunk in bounded memory.

- ``decoding``: ``load_audio`` / ``audio_blocks`` (libsndfile + soxr, block by block), ``AudioError``.
- ``log_mel``: the NumPy log-mel (equal to the models' in-graph input stage within 5e-6).
- ``streaming``: ``stream_patches``, the one streaming / patching path.

May import: ``zoo.models`` (the log-mel settings) and the floors below it. No TensorFlow.
"""
from zoo.audio.decoding import DEFAULT_RATE, AudioError, audio_blocks, load_audio

__all__ = ["DEFAULT_RATE", "AudioError", "audio_blocks", "load_audio"]
