"""What the demo page gives one upload: zoo-tag's JSON record and the taggram picture.

One path, as zoo-tag's: the ``Analyser`` scores the patches once (ONNX Runtime by default), its
tags make the record and its per-patch scores the picture (``zoo.tagging.taggram_plot``), with
the log-mel above them for clips up to ``spectrogram_seconds`` long (the spectrogram needs the
whole waveform in memory; a longer clip gets the taggram alone, which streams).

    >>> from zoo.demo.choices import model_choices
    >>> choices, default = model_choices("musicnn", "mtt")
    >>> tagged = Tagger(choices)("upload.mp3", "song.mp3", default)   # the file on disk, the name shown
    >>> tagged.record["tags"][0], len(tagged.png)
"""
import threading
import time
from dataclasses import dataclass

import pandas as pd
import soundfile as sf

from zoo.audio.decoding import DEFAULT_RATE, AudioError, load_audio, soundfile_path
from zoo.tagging.analyser import Analyser
from zoo.tagging.library import tags_record
from zoo.tagging.taggram_plot import png_bytes, taggram_figure

__all__ = ["SPECTROGRAM_SECONDS", "Tagged", "Tagger"]

SPECTROGRAM_SECONDS = 20 * 60  # 77 MB of 16 kHz float32 waveform at most


@dataclass(frozen=True)
class Tagged:
    record: dict  # {"file": NAME, "tags": [{"tag", "score"}, ...]}, as zoo-tag --format jsonl writes it
    png: bytes  # the taggram picture
    audio_seconds: float
    elapsed_seconds: float
    model_label: str


def _seconds(path):
    try:
        return float(sf.info(soundfile_path(path)).duration)
    except Exception:  # noqa: BLE001 - the analysis names what is wrong with the file
        return None


class Tagger:
    """Tags uploads with the offered models, each model's ``Analyser`` made on its first use.

    Args:
        choices: the ``Choice``s the page offers (``model_choices``).
        top_k: tags in the record and rows in the picture.
        runtime: what scores the patches ("onnx", "keras" or "tflite"), as for zoo-tag.
        spectrogram_seconds: the longest clip whose log-mel is drawn above the taggram.
    """

    def __init__(self, choices, *, top_k=10, runtime="onnx", spectrogram_seconds=SPECTROGRAM_SECONDS):
        self.choices = {choice.key: choice for choice in choices}
        self.top_k, self.runtime, self.spectrogram_seconds = top_k, runtime, spectrogram_seconds
        self._analysers = {}
        # One upload is analysed at a time: the runtime already uses every core, and memory stays
        # that of one clip; a second upload waits for the first and is then answered.
        self._lock = threading.Lock()

    def analyser(self, key):
        """The ``Analyser`` of the choice ``key`` (KeyError for one the page does not offer)."""
        choice = self.choices[key]
        if key not in self._analysers:
            self._analysers[key] = Analyser(choice.model, weights=choice.weights, top_k=self.top_k,
                                            embeddings=("taggram",), runtime=self.runtime)
        return self._analysers[key]

    def __call__(self, path, name, key):
        """``Tagged`` for the audio file at ``path``, uploaded as ``name``, with the choice ``key``.
        AudioError (naming ``name``, not ``path``) for a file that is no audio it can decode."""
        with self._lock:
            start = time.perf_counter()
            analyser = self.analyser(key)
            seconds = _seconds(path)
            try:
                waveform = None
                if seconds is not None and seconds <= self.spectrogram_seconds:
                    waveform = load_audio(path)  # decoded once, for the scores and the spectrogram
                tags, arrays = analyser(path if waveform is None else waveform)
            except AudioError as error:
                raise AudioError(str(error).replace(str(path), name)) from None
            if waveform is not None:
                seconds = len(waveform) / DEFAULT_RATE
            elif seconds is None:  # libsndfile could not say, and yet it decoded
                seconds = float(arrays["time"][-1]) + analyser.patch_seconds
            taggram = pd.DataFrame(arrays["taggram"], index=pd.Index(arrays["time"], name="time"),
                                   columns=analyser.tag_names)
            choice = self.choices[key]
            figure = taggram_figure(taggram, top=self.top_k, by=analyser.aggregate, waveform=waveform,
                                    patch_seconds=analyser.patch_seconds, title=f"{name}  ({choice.short})")
            png = png_bytes(figure)
            return Tagged(tags_record(name, tags), png, seconds, time.perf_counter() - start, choice.short)
