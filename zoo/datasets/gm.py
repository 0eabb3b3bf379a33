"""A multi-label music-tagging dataset rendered on this machine from General MIDI.

Each clip is a seeded random piece (``gm_plan``) rendered with fluidsynth and a GM soundfont,
mixed to mono, peak-normalised to a random level and stored as 16-bit FLAC (or wav). Its tags
are known by construction: instrument families (timbre) and tempo class, onset density and
rhythmic regularity (temporal); see ``GM_TAGS`` and ``GM_TAG_GROUPS``.

The set lives in a directory named after everything that determines it (generator version,
seed, split sizes, sample rate, clip length, format). Every clip is written atomically and the
annotation CSV last, so an interrupted run resumes where it stopped and a finished one is
reused as is; each file is checked when the set is opened, and a damaged one made again
(``zoo.files.cached_file``). The same arguments give the same labels and the same samples on a machine with
the same numpy, fluidsynth and soundfont.
"""
import concurrent.futures
import functools
import json
import os
import subprocess
import tempfile

import numpy as np
import pandas as pd
import soundfile as sf
from tqdm.auto import tqdm

from zoo.files import atomic_path, cached_file, entry_problem

from .fluidsynth import find_soundfont, render_midi
from .gm_plan import GM_TAG_GROUPS, GM_TAGS, piece_to_midi, plan_clip
from .tagging_dataset import SPLITS, TaggingDataset

__all__ = [
    "GM_VERSION",
    "GM_TAGS",
    "GM_TAG_GROUPS",
    "AUDIO_FORMATS",
    "make_gm_dataset",
    "gm_dataset_dir",
    "render_clip",
]

GM_VERSION = 1  # bump whenever a change to the generator or renderer changes the clips
AUDIO_FORMATS = {"flac": ("FLAC", "PCM_16"), "wav": ("WAV", "PCM_16")}
FULL_SCALE_PEAK = 0.89  # -1 dBFS, before the clip's random gain
RENDER_TIMEOUT_S = 60.0  # plus the clip's length; a clip takes well under a second
ANNOTATIONS_FILE = "annotations.csv"
INFO_FILE = "dataset.json"


def make_gm_dataset(root, n_train, n_valid, n_test, seed=0, sample_rate=16000, clip_seconds=10.0,
                    audio_format="flac", workers=None, progress=True, soundfont=None):
    """Render (or reuse) the GM tagging set under ``root`` and return it as a ``TaggingDataset``.

    ``workers`` fluidsynth renders run at once (default ``os.cpu_count()``).
    """
    if audio_format not in AUDIO_FORMATS:
        raise ValueError(f"audio_format must be one of {tuple(AUDIO_FORMATS)}, got {audio_format!r}")
    sizes = dict(zip(SPLITS, (n_train, n_valid, n_test)))
    directory = gm_dataset_dir(root, sizes, seed, sample_rate, clip_seconds, audio_format)
    entries = _clip_entries(sizes, audio_format)
    names = [*(path for _, _, path in entries), INFO_FILE, ANNOTATIONS_FILE]
    files = [os.path.join(directory, name) for name in names]
    if any(entry_problem(path) is not None for path in files):
        _build(directory, entries, seed, sample_rate, clip_seconds, audio_format, workers, progress, soundfont)
    return _load(directory, sample_rate, clip_seconds)


def gm_dataset_dir(root, sizes, seed, sample_rate, clip_seconds, audio_format):
    counts = "-".join(str(int(sizes[s])) for s in SPLITS)
    milliseconds = int(round(clip_seconds * 1000))
    name = f"gm-v{GM_VERSION}-seed{seed}-n{counts}-{sample_rate}hz-{milliseconds}ms-{audio_format}"
    return os.path.join(os.fspath(root), name)


def _clip_entries(sizes, audio_format):
    return [
        (split, index, f"audio/{split}/{split}-{index:05d}.{audio_format}")
        for split in SPLITS
        for index in range(sizes[split])
    ]


def _build(directory, entries, seed, sample_rate, clip_seconds, audio_format, workers, progress, soundfont_path):
    """Render the clips that are missing or damaged (``zoo.files.cached_file``), then the
    description and the annotations if they are."""
    # Looked up only when something is rendered: a set of the previous release is kept without it.
    soundfont = functools.cache(lambda: soundfont_path or find_soundfont())
    for split in SPLITS:
        os.makedirs(os.path.join(directory, "audio", split), exist_ok=True)
    plans = [plan_clip(seed, split, index, clip_seconds) for split, index, _ in entries]
    jobs = [(plan, os.path.join(directory, path)) for plan, (_, _, path) in zip(plans, entries)
            if entry_problem(os.path.join(directory, path)) is not None]
    _render_all(jobs, sample_rate, audio_format, soundfont, workers, progress)
    cached_file(os.path.join(directory, INFO_FILE),
                lambda temporary: _write_info(temporary, seed, entries, sample_rate, clip_seconds, audio_format,
                                              soundfont()),
                what="GM dataset description", check=_read_info)
    cached_file(os.path.join(directory, ANNOTATIONS_FILE),
                lambda temporary: _annotations(entries, plans).to_csv(temporary, index=False),
                what="GM annotations", check=lambda path: len(pd.read_csv(path)) == len(entries))


def _render_all(jobs, sample_rate, audio_format, soundfont, workers, progress):
    """Render ``jobs`` (plan, path) in parallel.

    Threads suffice: each job's work is a fluidsynth subprocess plus a little numpy and libsndfile
    (which release the GIL), and a thread pool never forks a parent that may hold TensorFlow.
    """
    workers = workers or os.cpu_count() or 1
    bar = tqdm(total=len(jobs), desc="Rendering GM clips", unit="clip", disable=not progress or not jobs)
    with bar, concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_render_cached, plan, path, sample_rate, audio_format, soundfont) for plan, path in jobs]
        for future in concurrent.futures.as_completed(futures):
            future.result()
            bar.update(1)


def _render_cached(plan, path, sample_rate, audio_format, soundfont):
    """The clip at ``path``, rendered if missing or damaged; a clip of the previous release (no
    sidecar) is kept if it decodes to its full length."""
    samples = int(round(plan.seconds * sample_rate))
    return cached_file(path, lambda temporary: render_clip(plan, temporary, sample_rate, audio_format, soundfont()),
                       what="rendered GM clip", check=lambda clip: len(sf.read(clip)[0]) == samples)


def render_clip(plan, path, sample_rate=16000, audio_format="flac", soundfont=None):
    """Render one planned piece to ``path``: mono, exactly ``plan.seconds`` long, 16-bit."""
    with tempfile.TemporaryDirectory(prefix="gm-render-") as scratch:
        midi_path = os.path.join(scratch, "piece.mid")
        wav_path = os.path.join(scratch, "piece.wav")
        piece_to_midi(plan).save(midi_path)
        render_midi(midi_path, wav_path, sample_rate=sample_rate, soundfont=soundfont, sample_format="float",
                    timeout=RENDER_TIMEOUT_S + plan.seconds)
        stereo, _ = sf.read(wav_path, dtype="float32", always_2d=True)
    samples = int(round(plan.seconds * sample_rate))
    clip = _peak_normalise(_fit_length(stereo.mean(axis=1), samples), plan.gain_db)
    container, subtype = AUDIO_FORMATS[audio_format]
    with atomic_path(path) as temporary:
        sf.write(temporary, clip, sample_rate, format=container, subtype=subtype)
    return path


def _fit_length(audio, samples):
    """fluidsynth renders until the last release tail has died away: cut, or pad with silence."""
    return np.pad(audio[:samples], (0, max(0, samples - len(audio))))


def _peak_normalise(audio, gain_db):
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak == 0.0:
        return audio
    return (audio * (FULL_SCALE_PEAK * 10 ** (gain_db / 20) / peak)).astype(np.float32)


def _annotations(entries, plans):
    labels = np.stack([plan.labels(GM_TAGS) for plan in plans])
    frame = pd.DataFrame(labels, columns=list(GM_TAGS))
    frame.insert(0, "split", [split for split, _, _ in entries])
    frame.insert(0, "path", [path for _, _, path in entries])
    return frame


def _write_info(path, seed, entries, sample_rate, clip_seconds, audio_format, soundfont):
    info = {
        "generator_version": GM_VERSION,
        "seed": seed,
        "sizes": {s: sum(1 for split, _, _ in entries if split == s) for s in SPLITS},
        "sample_rate": sample_rate,
        "clip_seconds": clip_seconds,
        "audio_format": audio_format,
        "soundfont": os.path.basename(soundfont),
        "soundfont_bytes": os.path.getsize(soundfont),
        "fluidsynth": _fluidsynth_version(),
        "numpy": np.__version__,
    }
    with open(path, "w") as handle:
        json.dump(info, handle, indent=2)


def _fluidsynth_version():
    result = subprocess.run(["fluidsynth", "--version"], capture_output=True, text=True)
    return result.stdout.splitlines()[0].strip() if result.stdout else "unknown"


def _read_info(path):
    if not os.path.isfile(path):
        return {}
    with open(path) as handle:
        return json.load(handle)


def _load(directory, sample_rate, clip_seconds):
    annotations = pd.read_csv(os.path.join(directory, ANNOTATIONS_FILE))
    info = _read_info(os.path.join(directory, INFO_FILE))
    return TaggingDataset(
        name="gm",
        root=directory,
        annotations=annotations,
        tags=GM_TAGS,
        tag_groups=dict(GM_TAG_GROUPS),
        sample_rate=sample_rate,
        clip_seconds=clip_seconds,
        info=info,
    )
