"""The probe's default task set, rendered on this machine and offline in the HEAR task layout.

Three small scene tasks (16 kHz mono 16-bit wav, 4 s clips, about 220 clips in all):

- ``gm-instrument-families``: multilabel, train/valid/test, ["mAP", "d_prime", "aucroc"]. Seeded
  General-MIDI pieces (``zoo.datasets.gm_plan``) rendered with fluidsynth; the labels are the
  instrument families playing (the plan's timbre tags).
- ``gm-tempo``: multiclass, 5 folds, ["top1_acc"]. GM pieces labelled by their tempo class (slow,
  medium, fast), the same number of each in every fold.
- ``speech-music-noise``: multiclass, 5 folds, ["top1_acc"]. Speech spoken by espeak-ng (English
  voices and variants, speed, pitch and word gap drawn at random, sentences made from a seeded
  word list), GM music, and coloured noise (white, pink, brown; low-, high- or band-passed;
  slowly or quickly amplitude-modulated), balanced in every fold.

Each task lives in ``root/<task name>/``. A task folder is stamped first (``generator.json``:
generator version, seed, sizes, clip length), then every clip is written atomically with a
checksum beside it (``zoo.files.cached_file``), then the vocabulary, the split files and
``task_metadata.json`` last: an interrupted run resumes where it stopped, a finished set is reused
as is (a damaged or deleted clip is made again), and a folder stamped with other settings (or by
an older generator, ``DEFAULT_TASKS_VERSION``) is emptied and made anew. The same seed gives the
same files on a machine with the same numpy, soxr, espeak-ng, fluidsynth and soundfont.

Debian packages: fluidsynth, fluid-soundfont-gm, espeak-ng (``bash setup.sh`` installs them).

Example::

    from benchmarks.probe.default_tasks import make_default_tasks

    for task in make_default_tasks("probe-tasks"):    # about 30 s on 2 cores the first time
        print(task.name, task.split_mode, len(task.examples(task.splits()[0])))
"""
import concurrent.futures
import functools
import json
import math
import os
import pathlib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

import numpy as np
import soundfile as sf
import soxr
from tqdm.auto import tqdm

from zoo.datasets.fluidsynth import SoundfontNotFoundError, find_soundfont
from zoo.datasets.gm import render_clip
from zoo.datasets.gm_plan import TEMPO_CLASSES, TIMBRE_TAGS, plan_piece
from zoo.files import atomic_path, cached_file, entry_problem

from .tasks import METADATA_FILE, VOCABULARY_FILE, read_task

__all__ = [
    "DEFAULT_TASKS_VERSION",
    "DEFAULT_TASK_NAMES",
    "DEFAULT_SIZES",
    "DefaultTasksError",
    "make_default_tasks",
]

DEFAULT_TASKS_VERSION = 1  # bump whenever a change to the generator changes the files
SAMPLE_RATE = 16000
CLIP_SECONDS = 4.0
FOLDS = 5
STAMP_FILE = "generator.json"
INSTRUMENTS, TEMPO, SPEECH_MUSIC_NOISE = "gm-instrument-families", "gm-tempo", "speech-music-noise"
DEFAULT_TASK_NAMES = (INSTRUMENTS, TEMPO, SPEECH_MUSIC_NOISE)
# gm-instrument-families: clips in train, valid, test; the k-fold tasks: clips of each class in each fold.
DEFAULT_SIZES = {INSTRUMENTS: (96, 32, 64), TEMPO: 8, SPEECH_MUSIC_NOISE: 8}
SPEECH_MUSIC_NOISE_CLASSES = ("speech", "music", "noise")
SALT = 0x9B0E  # keeps these pieces apart from the GM tagging set's (gm_plan.plan_clip) of the same seed
TASK_KEYS = {INSTRUMENTS: 1, TEMPO: 2, SPEECH_MUSIC_NOISE: 3}
SHUFFLE_KEY = 99
PEAK = 0.89  # -1 dBFS, before the clip's random gain
GAIN_DB = (-6.0, 0.0)
RENDER_TIMEOUT_S = 60.0

# Speech: espeak-ng voices and variants that ship with espeak-ng itself (no mbrola voices).
VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029")
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5", "klatt", "klatt2",
            "klatt3", "croak")
SPEED_WPM = (130, 200)
PITCH = (20, 80)  # espeak-ng's 0-99 scale
WORD_GAP = (0, 4)  # in 10 ms units
WORDS_PER_SECOND_BOUND = 6  # faster than any speed above: text this long always outlasts the clip
MAX_SPEECH_OFFSET_S = 1.0
DETERMINERS = ("the", "a", "this", "that", "every", "one", "my", "your", "our", "their")
ADJECTIVES = ("quiet", "bright", "old", "small", "heavy", "green", "cold", "warm", "early", "late", "strange",
              "simple", "narrow", "golden", "busy", "empty", "gentle", "sudden", "distant", "careful")
NOUNS = ("river", "window", "teacher", "garden", "letter", "station", "morning", "kitchen", "doctor", "market",
         "mountain", "engine", "question", "village", "picture", "pocket", "basket", "island", "problem",
         "weather", "bridge", "candle", "farmer", "museum", "number", "orange", "planet", "rabbit", "sister",
         "ticket", "winter", "harbour", "library", "machine", "neighbour", "story", "table", "road", "bottle")
VERBS_PAST = ("found", "carried", "painted", "opened", "followed", "watched", "counted", "moved", "cleaned",
              "remembered", "visited", "answered", "dropped", "lifted", "borrowed", "noticed", "fixed", "sold")
VERBS_BASE = ("find", "carry", "paint", "open", "follow", "watch", "count", "move", "clean", "visit", "fix")
ADVERBS = ("slowly", "quickly", "again", "today", "yesterday", "carefully", "quietly", "often", "never", "soon")
PREPOSITIONS = ("near", "behind", "under", "across", "beside", "inside", "above", "along", "past", "around")
NAMES = ("Anna", "Peter", "Maria", "David", "Laura", "Thomas", "Sofia", "James", "Helen", "Martin")

# Noise: colour (spectral slope, power ~ 1/f**alpha), filter and amplitude modulation.
NOISE_COLOURS = {"white": 0.0, "pink": 1.0, "brown": 2.0}
NOISE_FILTERS = ("none", "lowpass", "highpass", "bandpass")
NOISE_MODULATIONS = {"none": None, "slow": (0.1, 1.0), "fast": (2.0, 12.0)}  # Hz
NOISE_CUTOFF_HZ = (200.0, 4000.0)
NOISE_LOWEST_HZ = 20.0  # where the pink and brown slopes stop rising


class DefaultTasksError(RuntimeError):
    """The default tasks cannot be rendered here (a missing program, a failed render, a folder
    that is not theirs): the message is one line and says what to do."""


@dataclass(frozen=True)
class _Clip:
    task: str
    split: str
    name: str
    labels: tuple
    source: str  # "gm", "speech" or "noise"
    plan: object  # a gm_plan.PiecePlan for "gm", the random key of the clip otherwise


@dataclass(frozen=True)
class _TaskPlan:
    name: str
    metadata: dict
    vocabulary: tuple
    clips: tuple

    def splits(self):
        return list(dict.fromkeys(clip.split for clip in self.clips))


def make_default_tasks(root, *, seed=0, progress=True, scale=1.0, clip_seconds=CLIP_SECONDS, workers=None):
    """Render (or reuse) the default task set under ``root`` and return its tasks.

    Args:
        root: the folder that holds the task folders (made if missing).
        seed: the seed of every piece, voice and noise; the same seed gives the same files.
        progress: show a tqdm progress bar while clips are rendered.
        scale: multiplies every size of ``DEFAULT_SIZES`` (at least one clip each): 0.05 for tests.
        clip_seconds: the length of every clip.
        workers: renders run at once (default ``os.cpu_count()``).

    Returns:
        the ``tasks.Task`` of each task, in ``DEFAULT_TASK_NAMES`` order (sorted by name).

    Raises:
        DefaultTasksError: (one line) espeak-ng, fluidsynth or the GM soundfont is missing (it
            names the Debian package), a render failed, or ``root/<task name>`` exists but was
            not made here.

    Example::

        tasks = make_default_tasks("probe-tasks", scale=0.05, clip_seconds=1.0, progress=False)
        print([(task.name, task.splits()) for task in tasks])
    """
    if not (isinstance(scale, (int, float)) and scale > 0):
        raise ValueError(f"scale must be a number > 0, got {scale!r}")
    if not (isinstance(clip_seconds, (int, float)) and clip_seconds > 0):
        raise ValueError(f"clip_seconds must be a number of seconds > 0, got {clip_seconds!r}")
    seed, root = int(seed), pathlib.Path(root)
    if root.exists() and not root.is_dir():
        raise DefaultTasksError(f"{root}: not a folder (the default tasks are written into a folder)")
    clip_seconds = float(clip_seconds)
    sizes = _scaled_sizes(scale)
    plans = [
        _instrument_task(seed, sizes[INSTRUMENTS], clip_seconds),
        _tempo_task(seed, sizes[TEMPO], clip_seconds),
        _speech_music_noise_task(seed, sizes[SPEECH_MUSIC_NOISE], clip_seconds),
    ]
    for plan in plans:
        _claim_folder(root / plan.name, plan.metadata["generator"])
    jobs = [(clip, _clip_path(root, clip)) for plan in plans for clip in plan.clips]
    jobs = [(clip, path) for clip, path in jobs if entry_problem(path) is not None]
    _render_all(jobs, clip_seconds, workers, progress)
    for plan in plans:
        _write_task_files(root / plan.name, plan)
    return [read_task(root / plan.name, SAMPLE_RATE) for plan in plans]


# --- what each task holds ----------------------------------------------------------------------------


def _scaled_sizes(scale):
    def scaled(count):
        return max(1, int(round(count * scale)))

    return {INSTRUMENTS: tuple(scaled(n) for n in DEFAULT_SIZES[INSTRUMENTS]),
            TEMPO: scaled(DEFAULT_SIZES[TEMPO]),
            SPEECH_MUSIC_NOISE: scaled(DEFAULT_SIZES[SPEECH_MUSIC_NOISE])}


def _key(seed, task, *key):
    """The entropy of a random generator: the seed, then what it draws for."""
    return (int(seed), SALT, TASK_KEYS[task], *key)


def _rng(seed, task, *key):
    return np.random.default_rng(list(_key(seed, task, *key)))


def _metadata(name, seed, sizes, clip_seconds, prediction_type, evaluation, vocabulary):
    metadata = {
        "task_name": name,
        "version": f"default-v{DEFAULT_TASKS_VERSION}",
        "embedding_type": "scene",
        "prediction_type": prediction_type,
        "split_mode": "trainvaltest" if isinstance(sizes, tuple) else "new_split_kfold",
        "sample_duration": clip_seconds,
        "evaluation": list(evaluation),
    }
    if not isinstance(sizes, tuple):
        metadata["nfolds"] = FOLDS
    # Not read by hear-eval-kit: what made the task, as in the folder's stamp.
    metadata["generator"] = {
        "made_by": "benchmarks.probe.default_tasks", "version": DEFAULT_TASKS_VERSION, "seed": seed,
        "sizes": list(sizes) if isinstance(sizes, tuple) else sizes, "clip_seconds": clip_seconds,
        "sample_rate": SAMPLE_RATE, "classes": list(vocabulary),
    }
    return metadata


def _instrument_task(seed, sizes, clip_seconds):
    vocabulary = TIMBRE_TAGS
    clips, number = [], 0
    for split_id, (split, count) in enumerate(zip(("train", "valid", "test"), sizes)):
        for index in range(count):
            plan = plan_piece(_rng(seed, INSTRUMENTS, split_id, index), clip_seconds)
            families = {part.family for part in plan.parts}
            labels = tuple(tag for tag in vocabulary if tag in families)
            clips.append(_Clip(INSTRUMENTS, split, f"{number:04d}.wav", labels, "gm", plan))
            number += 1
    metadata = _metadata(INSTRUMENTS, seed, sizes, clip_seconds, "multilabel", ("mAP", "d_prime", "aucroc"),
                         vocabulary)
    return _TaskPlan(INSTRUMENTS, metadata, vocabulary, tuple(clips))


def _tempo_task(seed, per_class, clip_seconds):
    """Pieces drawn in turn until each tempo class has its share: a balanced set by choice of seeds."""
    vocabulary = tuple(TEMPO_CLASSES)
    wanted = per_class * FOLDS
    found = {tempo: [] for tempo in vocabulary}
    draw = 0
    while any(len(plans) < wanted for plans in found.values()):
        plan = plan_piece(_rng(seed, TEMPO, draw), clip_seconds)
        draw += 1
        if len(found[plan.tempo_class]) < wanted:
            found[plan.tempo_class].append(plan)
    folds = [
        [(tempo, found[tempo][fold * per_class + j]) for tempo in vocabulary for j in range(per_class)]
        for fold in range(FOLDS)
    ]
    clips = _fold_clips(seed, TEMPO, folds, lambda tempo, plan: _Clip(TEMPO, "", "", (tempo,), "gm", plan))
    metadata = _metadata(TEMPO, seed, per_class, clip_seconds, "multiclass", ("top1_acc",), vocabulary)
    return _TaskPlan(TEMPO, metadata, vocabulary, clips)


def _speech_music_noise_task(seed, per_class, clip_seconds):
    vocabulary = SPEECH_MUSIC_NOISE_CLASSES
    folds = []
    for fold in range(FOLDS):
        members = []
        for class_id, label in enumerate(vocabulary):
            for j in range(per_class):
                key = (class_id, fold * per_class + j)
                if label == "music":
                    plan = plan_piece(_rng(seed, SPEECH_MUSIC_NOISE, *key), clip_seconds)
                else:
                    plan = _key(seed, SPEECH_MUSIC_NOISE, *key)
                members.append((label, plan))
        folds.append(members)
    sources = {"speech": "speech", "music": "gm", "noise": "noise"}
    clips = _fold_clips(seed, SPEECH_MUSIC_NOISE, folds,
                        lambda label, plan: _Clip(SPEECH_MUSIC_NOISE, "", "", (label,), sources[label], plan))
    metadata = _metadata(SPEECH_MUSIC_NOISE, seed, per_class, clip_seconds, "multiclass", ("top1_acc",), vocabulary)
    return _TaskPlan(SPEECH_MUSIC_NOISE, metadata, vocabulary, clips)


def _fold_clips(seed, task, folds, make_clip):
    """The clips of each fold in a seeded order, numbered across the task (names say nothing of labels)."""
    clips, number = [], 0
    for fold, members in enumerate(folds):
        order = _rng(seed, task, SHUFFLE_KEY, fold).permutation(len(members))
        for position in order:
            clip = make_clip(*members[position])
            clips.append(_Clip(clip.task, f"fold{fold:02d}", f"{number:04d}.wav", clip.labels, clip.source,
                               clip.plan))
            number += 1
    return tuple(clips)


# --- the folder, its clips and its description ----------------------------------------------------------


def _claim_folder(directory, stamp):
    """Make ``directory`` this generator's, for these settings: keep it when its stamp matches, empty
    it when it was stamped with other settings, refuse a folder that was not made here."""
    stamp_file = directory / STAMP_FILE
    if stamp_file.is_file():
        try:
            with open(stamp_file, encoding="utf-8") as handle:
                if json.load(handle) == stamp:
                    return
        except (ValueError, OSError):
            pass  # damaged: made again below
        shutil.rmtree(directory)
    elif directory.is_dir() and any(directory.iterdir()):
        raise DefaultTasksError(f"{directory}: exists but was not made by make_default_tasks (it has no "
                                f"{STAMP_FILE}); remove it or choose another root")
    directory.mkdir(parents=True, exist_ok=True)
    with atomic_path(str(stamp_file)) as temporary, open(temporary, "w", encoding="utf-8") as handle:
        json.dump(stamp, handle, indent=2)


def _clip_path(root, clip):
    return str(root / clip.task / str(SAMPLE_RATE) / clip.split / clip.name)


def _write_task_files(directory, plan):
    """The vocabulary, the split files and, last, the metadata (each made only if missing or damaged)."""
    def write_text(text):
        def make(temporary):
            with open(temporary, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
        return make

    def as_json(value):
        return json.dumps(value, indent=2) + "\n"

    vocabulary = "idx,label\n" + "".join(f"{i},{label}\n" for i, label in enumerate(plan.vocabulary))
    cached_file(str(directory / VOCABULARY_FILE), write_text(vocabulary), what="probe task vocabulary")
    for split in plan.splits():
        labels = {clip.name: list(clip.labels) for clip in plan.clips if clip.split == split}
        cached_file(str(directory / f"{split}.json"), write_text(as_json(labels)), what="probe task split")
    cached_file(str(directory / METADATA_FILE), write_text(as_json(plan.metadata)), what="probe task metadata")


def _render_all(jobs, clip_seconds, workers, progress):
    """Render ``jobs`` (clip, path) in threads: each is a subprocess (fluidsynth, espeak-ng) or numpy
    and libsndfile work that releases the GIL, and threads never fork a parent that holds TensorFlow."""
    if not jobs:
        return
    sources = {clip.source for clip, _ in jobs}
    soundfont = _check_gm_renderer() if "gm" in sources else None
    if "speech" in sources:
        _check_speech_renderer()
    workers = workers or os.cpu_count() or 1
    samples = int(round(clip_seconds * SAMPLE_RATE))
    bar = tqdm(total=len(jobs), desc="Rendering the default probe tasks", unit="clip", disable=not progress)
    with bar, concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(cached_file, path, functools.partial(_render, clip, clip_seconds, soundfont),
                        what=f"{clip.task} clip", check=functools.partial(_has_length, samples))
            for clip, path in jobs
        ]
        try:
            for future in concurrent.futures.as_completed(futures):
                future.result()
                bar.update(1)
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _has_length(samples, path):
    info = sf.info(path)
    return info.frames == samples and info.samplerate == SAMPLE_RATE and info.channels == 1


def _check_gm_renderer():
    if shutil.which("fluidsynth") is None:
        raise DefaultTasksError("fluidsynth is not installed: install the Debian packages fluidsynth and "
                                "fluid-soundfont-gm (sudo apt-get install fluidsynth fluid-soundfont-gm, or bash "
                                "setup.sh)")
    try:
        return find_soundfont()
    except SoundfontNotFoundError as error:
        raise DefaultTasksError(str(error)) from None


def _check_speech_renderer():
    if shutil.which("espeak-ng") is None:
        raise DefaultTasksError("espeak-ng is not installed: install the Debian package espeak-ng (sudo apt-get "
                                "install espeak-ng, or bash setup.sh)")


def _render(clip, clip_seconds, soundfont, path):
    """Write ``clip`` to ``path`` (a wav): mono, 16 kHz, 16-bit, exactly ``clip_seconds`` long."""
    where = f"{clip.task}/{clip.split}/{clip.name}"
    try:
        if clip.source == "gm":
            render_clip(clip.plan, path, SAMPLE_RATE, "wav", soundfont)
            return
        rng = np.random.default_rng(list(clip.plan))
        samples = int(round(clip_seconds * SAMPLE_RATE))
        audio = _speech(rng, samples) if clip.source == "speech" else _noise(rng, samples)
    except subprocess.CalledProcessError as error:
        raise DefaultTasksError(f"{os.path.basename(error.cmd[0])} failed on {where}: "
                                f"{_first_line(error.stderr)}") from None
    except subprocess.TimeoutExpired as error:
        raise DefaultTasksError(f"{os.path.basename(error.cmd[0])} did not finish {where} in "
                                f"{error.timeout:.0f} s") from None
    gain_db = rng.uniform(*GAIN_DB)
    with atomic_path(path) as temporary:
        sf.write(temporary, _peak_normalise(audio, gain_db), SAMPLE_RATE, format="WAV", subtype="PCM_16")


def _first_line(text):
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else "no message"


def _peak_normalise(audio, gain_db):
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    scale = PEAK * 10 ** (gain_db / 20) / peak if peak > 0 else 1.0
    return (audio * scale).astype(np.float32)


def _fit(audio, samples, start=0):
    """``samples`` of ``audio`` from ``start``, padded with silence where it is shorter."""
    audio = audio[start:start + samples]
    return np.pad(audio, (0, samples - len(audio)))


# --- speech ---------------------------------------------------------------------------------------


def _sentence(rng):
    """One sentence from the word lists, in one of a few shapes."""
    def pick(words):
        return words[int(rng.integers(len(words)))]

    shape = int(rng.integers(5))
    if shape == 0:
        words = [pick(DETERMINERS), pick(ADJECTIVES), pick(NOUNS), pick(VERBS_PAST), pick(DETERMINERS),
                 pick(NOUNS), pick(PREPOSITIONS), "the", pick(NOUNS)]
    elif shape == 1:
        words = [pick(NAMES), pick(VERBS_PAST), pick(DETERMINERS), pick(ADJECTIVES), pick(NOUNS), pick(ADVERBS)]
    elif shape == 2:
        words = ["did", pick(NAMES), pick(VERBS_BASE), "the", pick(NOUNS), pick(PREPOSITIONS), pick(DETERMINERS),
                 pick(ADJECTIVES), pick(NOUNS)]
    elif shape == 3:
        words = [pick(ADVERBS), "the", pick(NOUNS), "and", "the", pick(NOUNS), "were", pick(ADJECTIVES)]
    else:
        words = ["we", pick(VERBS_PAST), pick(DETERMINERS), pick(NOUNS), "when", pick(NAMES), pick(VERBS_PAST),
                 "it", pick(ADVERBS)]
    text = " ".join(words)
    return text[0].upper() + text[1:] + ("?" if shape == 2 else ".")


def _speech_text(rng, seconds):
    """Sentences with enough words to outlast ``seconds`` at any speed used."""
    sentences, words = [], 0
    while words < seconds * WORDS_PER_SECOND_BOUND + 4:
        sentences.append(_sentence(rng))
        words += len(sentences[-1].split())
    return " ".join(sentences)


def _speech(rng, samples):
    """Speech by espeak-ng with a random voice, variant, speed, pitch and word gap, from a random
    point in its first second, resampled to 16 kHz."""
    voice = f"{VOICES[int(rng.integers(len(VOICES)))]}+{VARIANTS[int(rng.integers(len(VARIANTS)))]}"
    speed = int(rng.integers(SPEED_WPM[0], SPEED_WPM[1] + 1))
    pitch = int(rng.integers(PITCH[0], PITCH[1] + 1))
    gap = int(rng.integers(WORD_GAP[0], WORD_GAP[1] + 1))
    text = _speech_text(rng, samples / SAMPLE_RATE)
    with tempfile.TemporaryDirectory(prefix="probe-speech-") as scratch:
        wav = os.path.join(scratch, "speech.wav")
        command = ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-g", str(gap), "-w", wav, text]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=RENDER_TIMEOUT_S)
        audio, rate = sf.read(wav, dtype="float32", always_2d=True)
    audio = audio.mean(axis=1)
    if rate != SAMPLE_RATE:
        audio = soxr.resample(audio, rate, SAMPLE_RATE, quality="HQ").astype(np.float32)
    spare = max(0, min(len(audio) - samples, int(MAX_SPEECH_OFFSET_S * SAMPLE_RATE)))
    return _fit(audio, samples, int(rng.integers(spare + 1)))


# --- noise ----------------------------------------------------------------------------------------


def _noise(rng, samples):
    """Seeded coloured noise (white, pink or brown), maybe low-, high- or band-passed, maybe
    amplitude-modulated slowly (swells) or quickly (tremolo): shaped in the frequency domain."""
    colour = tuple(NOISE_COLOURS)[int(rng.integers(len(NOISE_COLOURS)))]
    kind = NOISE_FILTERS[int(rng.integers(len(NOISE_FILTERS)))]
    modulation = tuple(NOISE_MODULATIONS)[int(rng.integers(len(NOISE_MODULATIONS)))]
    frequencies = np.fft.rfftfreq(samples, 1.0 / SAMPLE_RATE)
    floor = np.maximum(frequencies, NOISE_LOWEST_HZ)
    gain = floor ** (-NOISE_COLOURS[colour] / 2)  # amplitude, so power goes as 1/f**alpha
    cutoff = math.exp(rng.uniform(math.log(NOISE_CUTOFF_HZ[0]), math.log(NOISE_CUTOFF_HZ[1])))
    ratio = frequencies / cutoff
    if kind == "lowpass":  # second-order Butterworth magnitudes
        gain = gain / np.sqrt(1 + ratio ** 4)
    elif kind == "highpass":
        gain = gain * ratio ** 2 / np.sqrt(1 + ratio ** 4)
    elif kind == "bandpass":  # a Gaussian bump on a log-frequency axis, 0.3 to 1.5 octaves wide
        width = rng.uniform(0.3, 1.5)
        gain = gain * np.exp(-0.5 * (np.log2(np.maximum(frequencies, 1.0) / cutoff) / width) ** 2)
    spectrum = np.fft.rfft(rng.standard_normal(samples)) * gain
    audio = np.fft.irfft(spectrum, n=samples)
    rates = NOISE_MODULATIONS[modulation]
    if rates is not None:
        time = np.arange(samples) / SAMPLE_RATE
        rate, depth, phase = rng.uniform(*rates), rng.uniform(0.3, 0.9), rng.uniform(0, 2 * math.pi)
        audio = audio * (1 - depth * (0.5 + 0.5 * np.sin(2 * math.pi * rate * time + phase)))
    return audio.astype(np.float32)
