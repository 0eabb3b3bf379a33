"""Tagging a library end to end: zoo-tag against the original musicnn pipeline, same files, same run.

    python -m benchmarks.tagging [--folder=DIR] [--out=benchmarks/results/tagging] [--repeats=2]

Whole processes, start-up included: ``zoo-tag FOLDER --format jsonl`` under each runtime, and
``python -m benchmarks.original_musicnn FILE...`` (librosa load and log-mel, the TF1 graph),
interleaved ``--repeats`` times after one untimed run of each (conversions cached); medians
of the wall time, the largest peak RSS. Then peak RSS of zoo-tag (default runtime) on one
3-minute and one 1-hour file. Without ``--folder``, a library is made from the rendered General-MIDI clips:
six 3-minute tracks at 44.1 kHz stereo, OGG Vorbis (what a music collection looks like to the
decoders). Writes ``tagging.json`` and ``tagging.md`` to ``--out`` with the machine named.
"""
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("folder", None, "Audio folder to tag (default: tracks made from the GM clips).")
flags.DEFINE_string("out", os.path.join("benchmarks", "results", "tagging"), "Where the results go.")
flags.DEFINE_integer("repeats", 3, "Interleaved repetitions of each pipeline.")
flags.DEFINE_list("runtimes", ["onnx", "keras", "tflite"], "zoo-tag runtimes to time.")
flags.DEFINE_integer("tracks", 6, "Tracks made from GM clips when --folder is not given.")
flags.DEFINE_float("track_seconds", 180.0, "Length of each made track.")
flags.DEFINE_float("long_seconds", 3600.0, "Length of the long file for the memory check (0 skips it).")

TRACK_RATE = 44100


def _gm_clips():
    from zoo.datasets import open_dataset, parse_dataset

    data = open_dataset(parse_dataset("gm"), progress=True)
    return [data.audio_path(p) for p in data.annotations["path"]]


def _track(clips, seconds, start):
    """Consecutive GM clips from ``start``, resampled to 44.1 kHz stereo, ``seconds`` long."""
    import numpy as np
    import soundfile as sf
    import soxr

    pieces, total, index = [], 0, start
    while total < seconds * 16000:
        audio, _ = sf.read(clips[index % len(clips)], dtype="float32")
        pieces.append(audio)
        total += len(audio)
        index += 1
    mono = np.concatenate(pieces)[: int(seconds * 16000)]
    upsampled = soxr.resample(mono, 16000, TRACK_RATE)
    return np.stack([upsampled, 0.8 * upsampled], axis=1), index


def _make_library(folder, count, seconds):
    import soundfile as sf

    clips, start = _gm_clips(), 0
    os.makedirs(folder, exist_ok=True)
    for number in range(count):
        path = os.path.join(folder, f"track{number + 1:02d}.ogg")
        track, start = _track(clips, seconds, start)
        if not os.path.exists(path):
            # In pieces: libsndfile 1.2.2's Vorbis encoder crashed (SIGSEGV) on a 3-minute write in one call.
            with sf.SoundFile(path, "w", samplerate=TRACK_RATE, channels=2, format="OGG", subtype="VORBIS") as out:
                for start in range(0, len(track), TRACK_RATE):
                    out.write(track[start:start + TRACK_RATE])
    return folder


def _timed(command, poll_seconds=0.02):
    """(wall seconds, peak RSS MB) of a whole child process; raises if it fails.

    The peak is the child's VmHWM, read every ``poll_seconds`` until it exits (the wait4
    rusage would report this process's own peak for a small child: see measure.peak_rss_mb).
    """
    from benchmarks import measure

    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    errors, peak = [], 0.0
    reader = threading.Thread(target=lambda: errors.append(child.stderr.read()), daemon=True)
    reader.start()  # a full stderr pipe would block the child
    while child.poll() is None:
        peak = max(peak, measure.peak_rss_mb(child.pid))
        time.sleep(poll_seconds)
    seconds = time.perf_counter() - start
    reader.join()
    child.stderr.close()
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])} ... failed:\n{errors[0].decode(errors='replace')[-2000:]}")
    return seconds, peak


def _zoo_tag(target, runtime, output):
    if os.path.exists(output):
        os.remove(output)
    return [sys.executable, "-m", "zoo.tagging.cli", target, "--format", "jsonl", "--output", output,
            "--runtime", runtime]


def _speed(folder, files, audio_seconds, scratch):
    import numpy as np

    original = [sys.executable, "-m", "benchmarks.original_musicnn", *files]
    for runtime in FLAGS.runtimes:  # converts (TFLite, ONNX) and caches once, outside the timing
        _timed(_zoo_tag(folder, runtime, os.path.join(scratch, "warm.jsonl")))
    commands = {"original": lambda: original,
                **{runtime: lambda r=runtime: _zoo_tag(folder, r, os.path.join(scratch, f"{r}.jsonl"))
                   for runtime in FLAGS.runtimes}}
    times, peaks = {name: [] for name in commands}, {name: [] for name in commands}
    for _ in range(FLAGS.repeats):
        for name, command in commands.items():
            seconds, peak = _timed(command())
            times[name].append(seconds)
            peaks[name].append(peak)
    medians = {name: float(np.median(values)) for name, values in times.items()}
    return {
        "seconds": times,
        "median_seconds": medians,
        "peak_rss_mb": {name: float(np.max(values)) for name, values in peaks.items()},
        "x_real_time": {name: audio_seconds / seconds for name, seconds in medians.items()},
        "speedup_vs_original": {name: medians["original"] / seconds for name, seconds in medians.items()},
    }


def _long_file(path, seconds):
    """A ``seconds`` long 44.1 kHz stereo FLAC, written in pieces (it never sits in memory whole)."""
    import soundfile as sf

    clips, start = _gm_clips(), 0
    with sf.SoundFile(path, "w", samplerate=TRACK_RATE, channels=2, format="FLAC") as out:
        for _ in range(int(seconds // 600)):
            track, start = _track(clips, 600, start)
            out.write(track)
    return path


def _memory(folder, scratch):
    import soundfile as sf

    from zoo.tagging.runtimes import DEFAULT_RUNTIME

    files = sorted(os.path.join(folder, name) for name in os.listdir(folder))
    short = files[0]
    long_path = _long_file(os.path.join(scratch, "one-hour.flac"), FLAGS.long_seconds)
    result = {"runtime": DEFAULT_RUNTIME}
    for label, path in (("short_file", short), ("long_file", long_path)):
        seconds, peak = _timed(_zoo_tag(path, DEFAULT_RUNTIME, os.path.join(scratch, "memory.jsonl")))
        result[label] = {"audio_seconds": sf.info(path).duration, "peak_rss_mb": peak, "wall_seconds": seconds}
    result["difference_mb"] = result["long_file"]["peak_rss_mb"] - result["short_file"]["peak_rss_mb"]
    return result


def _markdown(results):
    speed, machine = results["speed"], results["machine"]
    lines = [f"# Tagging a library end to end ({machine})", "",
             f"{results['files']} files, {results['audio_hours']:.3f} h of audio ({results['library']}); whole "
             f"processes, start-up included, median of {FLAGS.repeats}.", "",
             "| pipeline | wall s | x real time | vs original | peak RSS |", "|---|---:|---:|---:|---:|"]
    for name, seconds in speed["median_seconds"].items():
        label = "original musicnn (librosa + TF1 graph)" if name == "original" else f"zoo-tag --runtime {name}"
        lines.append(f"| {label} | {seconds:.1f} | {speed['x_real_time'][name]:.1f} | "
                     f"{speed['speedup_vs_original'][name]:.2f}x | {speed['peak_rss_mb'][name]:,.0f} MB |")
    memory = results.get("memory")
    if memory:
        lines += ["", f"| zoo-tag (default runtime, {memory['runtime']}) on | audio | wall s | peak RSS |",
                  "|---|---:|---:|---:|"]
        for label in ("short_file", "long_file"):
            lines.append(f"| {label.replace('_', ' ')} | {memory[label]['audio_seconds'] / 60:.1f} min | "
                         f"{memory[label]['wall_seconds']:.1f} | {memory[label]['peak_rss_mb']:,.0f} MB |")
        lines += ["", f"Peak RSS difference: {memory['difference_mb']:,.0f} MB."]
    return "\n".join(lines) + "\n"


def main(argv):
    del argv
    import soundfile as sf

    from benchmarks import measure
    from zoo.tagging.library import find_audio

    with tempfile.TemporaryDirectory(prefix="zoo-tagging-bench-") as scratch:
        folder = FLAGS.folder or _make_library(os.path.join(scratch, "library"), FLAGS.tracks, FLAGS.track_seconds)
        files = [file for file, _ in find_audio([folder])]
        audio_seconds = sum(sf.info(f).duration for f in files)
        results = {
            "machine": f"{measure.device_name()}, dense matmul {measure.matmul_gflops():.0f} GFLOP/s",
            "library": FLAGS.folder or f"{FLAGS.tracks} tracks of {FLAGS.track_seconds:g} s made from GM clips, "
                                       "44.1 kHz stereo OGG Vorbis",
            "files": len(files), "audio_hours": audio_seconds / 3600,
        }
        results["speed"] = _speed(folder, files, audio_seconds, scratch)
        if FLAGS.long_seconds:
            results["memory"] = _memory(folder, scratch)
    os.makedirs(FLAGS.out, exist_ok=True)
    with open(os.path.join(FLAGS.out, "tagging.json"), "w") as handle:
        json.dump(results, handle, indent=2)
    with open(os.path.join(FLAGS.out, "tagging.md"), "w") as handle:
        handle.write(_markdown(results))
    print(_markdown(results))
    return 0


if __name__ == "__main__":
    app.run(lambda argv: sys.exit(main(argv)))
