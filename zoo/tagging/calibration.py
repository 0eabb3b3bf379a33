"""The audio that sets an int8 runtime's activation ranges: General-MIDI clips rendered by the zoo
(``zoo.datasets.gm``) by default, or the user's own files; the same patches every time (seeded).

    >>> from zoo.tagging.calibration import Calibration
    >>> Calibration().key                                  # 'gm24s28': 24 rendered clips, seed 28
    >>> Calibration(files=("~/Music/jazz",), clips=64).key   # 'files-<hash of the files' bytes>-64s28'

A calibration is part of the name of the int8 conversion it makes (``key``), so another set of
files (or of counts) converts again, and the same one reuses the cached conversion.
"""
import hashlib
import os
from dataclasses import dataclass

import numpy as np

from zoo.arguments import positive_int

__all__ = ["CALIBRATION_SEED", "DEFAULT_CLIPS", "Calibration", "CalibrationAudioError"]

DEFAULT_CLIPS = 24  # 10 s GM clips: 72 of musicnn's 3 s patches (measured enough: quantization.md)
CALIBRATION_SEED = 28  # not the GM training set's (0): the calibration clips are pieces no model trained on
PATCHES_PER_CLIP = 3  # at most, from each of the user's files (evenly spaced): many files, not one long one


class CalibrationAudioError(ValueError):
    """The default calibration clips cannot be rendered here (no fluidsynth or soundfont)."""


@dataclass(frozen=True)
class Calibration:
    """Where the calibration patches come from.

    Args:
        files: the user's audio files or folders (searched as zoo-tag does); empty: rendered GM clips.
        clips: GM clips to render, or the most of the user's files to use (a seeded choice).
        seed: the GM clips' seed, or the seed that chooses among the user's files.
    """

    files: tuple = ()
    clips: int = None  # None: DEFAULT_CLIPS
    seed: int = CALIBRATION_SEED

    def __post_init__(self):
        if self.clips is None:
            object.__setattr__(self, "clips", DEFAULT_CLIPS)
        object.__setattr__(self, "files", tuple(os.path.expanduser(str(f)) for f in
                                                ((self.files,) if isinstance(self.files, (str, os.PathLike))
                                                 else self.files)))
        positive_int(self.clips, "calibration clips")

    def audio_files(self):
        """The calibration audio files, in a fixed order."""
        if not self.files:
            from zoo.cache import cache_dir
            from zoo.datasets.fluidsynth import SoundfontNotFoundError
            from zoo.datasets.gm import make_gm_dataset

            try:
                data = make_gm_dataset(cache_dir("datasets"), self.clips, 1, 1, seed=self.seed, progress=False)
            except (SoundfontNotFoundError, OSError) as error:
                raise CalibrationAudioError(
                    f"the int8 calibration renders General-MIDI clips with fluidsynth, which failed here "
                    f"({' '.join(str(error).split())[:200]}); install fluidsynth and a GM soundfont (bash setup.sh), "
                    "or calibrate on your own files (zoo.tagging.runtimes.CalibratedRuntime)") from None
            return data.audio_paths("train")
        from zoo.tagging.library import find_audio

        found = sorted(str(path) for path, _ in find_audio(list(self.files)))
        missing = [path for path in found if not os.path.isfile(path)]
        if missing:
            raise ValueError(f"calibration file {missing[0]} does not exist")
        if not found:
            raise ValueError(f"no audio files found in the calibration files {', '.join(self.files)}")
        if len(found) > self.clips:
            chosen = np.random.default_rng(self.seed).choice(len(found), self.clips, replace=False)
            found = [found[i] for i in sorted(chosen)]
        return found

    @property
    def key(self):
        """A short name for the patches this calibration gives (part of a conversion's file name)."""
        if not self.files:
            return f"gm{self.clips}s{self.seed}"
        from zoo.files import file_sha256

        digest = hashlib.sha256("".join(file_sha256(f) for f in self.audio_files()).encode()).hexdigest()
        return f"files-{digest[:12]}-{self.clips}s{self.seed}"

    def patches(self, samples, input_kind):
        """The calibration patches for a model scoring ``samples``-sample patches of ``input_kind``
        (log-mel: [patches, frames, mels]; waveform: [patches, samples]), as zoo.tag cuts them."""
        from zoo.audio.streaming import Patching, stream_patches
        from zoo.models.log_mel_config import waveform_to_frames
        from zoo.models.registry import WAVEFORM

        frames = waveform_to_frames(samples)
        patching = Patching(frames, frames, samples if input_kind == WAVEFORM else None)
        patches = []
        for path in self.audio_files():
            clip = np.concatenate([chunk.patches for chunk in stream_patches(path, patching, input_kind)])
            keep = np.unique(np.linspace(0, len(clip) - 1, min(len(clip), PATCHES_PER_CLIP)).round().astype(int))
            patches.append(clip[keep])
        return np.concatenate(patches).astype(np.float32)
