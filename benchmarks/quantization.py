"""What reduced precision costs and gains: every tagging runtime against fp32, per model.

    python -m benchmarks.quantization --music=FOLDER [--run_folders=runs/gm-ft] [--results_dir=benchmarks/results]

(e.g. ``apt-get install drascula-music`` and ``--music=/usr/share/scummvm/drascula/audio``: 31 tracks.)

Per model (musicnn and VGG with MTT and MSD weights, and each ``--run_folders`` run, e.g. a
zoo-train fine-tune on the GM set) and runtime (``--quant_runtimes``):

- patch throughput: patches/s in zoo-tag's batches of 8, the runtimes alternated ``--rounds``
  times in one process (median), and the ratio to fp32 ONNX Runtime (and to fp32 Keras for
  keras-bf16) from the same rounds;
- size of the converted file (the cached conversion the runtime reads);
- max and mean |score difference| from fp32 ONNX Runtime over every patch of real music
  (``--music``: up to ``--patches_per_file`` evenly spaced patches a file), and the top-5
  agreement: per file, the share of fp32's top 5 tags (of the mean over its patches) that the
  runtime's top 5 holds, averaged over the files;
- for a run trained on the GM set: the macro ROC-AUC on the GM test split (zoo.tag's patches,
  mean per clip) and its difference from fp32's.

Then zoo-tag end to end (whole processes, as ``benchmarks.tagging``: six 3-minute 44.1 kHz
stereo OGG tracks made from GM clips) under ``--e2e_runtimes`` against the original musicnn
pipeline, interleaved ``--e2e_repeats`` times. The int8 runtimes are calibrated on their default
(24 rendered GM clips, seed 28); conversions are made before any timing. Writes
``quantization.json`` and ``quantization.md`` to ``--results_dir`` with the date, the machine
and its matmul rate, and the command.
"""
import datetime
import json
import os
import sys
import tempfile
import time

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("music", None, "Folder of real music for the agreement with fp32 (required).")
flags.DEFINE_string("music_label", None, "What --music holds, for the report (default: the folder).")
flags.DEFINE_list("run_folders", [], "zoo-train run folders to include (e.g. runs/gm-ft).")
flags.DEFINE_list("pretrained", ["musicnn:mtt", "musicnn:msd", "vgg:mtt", "vgg:msd"], "Pretrained MODEL:WEIGHTS.")
flags.DEFINE_list("quant_runtimes", ["onnx", "onnx-int8", "keras", "keras-bf16", "tflite", "tflite-fp16",
                                     "tflite-int8"], "Runtimes compared (onnx is the fp32 reference).")
flags.DEFINE_list("e2e_runtimes", ["onnx", "onnx-int8", "keras-bf16"], "zoo-tag runtimes timed end to end.")
flags.DEFINE_integer("rounds", 5, "Alternated throughput rounds.")
flags.DEFINE_integer("patches_per_file", 12, "Real-music patches per file, at most.")
flags.DEFINE_integer("e2e_repeats", 3, "Interleaved end-to-end repetitions (0 skips end to end).")
flags.DEFINE_string("results_dir", os.path.join("benchmarks", "results"), "Where quantization.{json,md} go.")

REFERENCE = "onnx"
BATCH = 8  # zoo-tag's patches per call (zoo.tagging.analyser.BATCH_SIZE)
TIMED_PATCHES = 64


def _analysers(name, runtimes):
    from zoo.tagging.analyser import Analyser

    model, _, weights = name.partition(":")
    options = {"weights": weights} if weights else {}
    return {runtime: Analyser(model, runtime=runtime, **options) for runtime in runtimes}


def _music_patches(analyser, folder):
    """[(file, patches)]: up to ``--patches_per_file`` evenly spaced patches of each file."""
    import numpy as np

    from zoo.tagging.library import find_audio

    found = []
    for path, _ in find_audio([folder]):
        patches = np.concatenate([chunk.patches for chunk in analyser.chunks(path)])
        keep = np.unique(np.linspace(0, len(patches) - 1, min(len(patches), FLAGS.patches_per_file)).round())
        found.append((path, patches[keep.astype(int)]))
    return found


def _scores(runtime, patches):
    import numpy as np

    return np.concatenate([runtime(patches[i:i + BATCH])["scores"] for i in range(0, len(patches), BATCH)])


def _agreement(scores, reference):
    import numpy as np

    differences = np.abs(np.concatenate(scores) - np.concatenate(reference))
    shared = [len(set(np.argsort(-s.mean(0))[:5]) & set(np.argsort(-r.mean(0))[:5])) / 5
              for s, r in zip(scores, reference)]
    return {"max_abs_difference": float(differences.max()), "mean_abs_difference": float(differences.mean()),
            "top5_agreement": float(np.mean(shared))}


def _throughput(analysers, patches):
    """{runtime: median patches/s} over alternated rounds, and each round's values."""
    import numpy as np

    batches = [patches[i:i + BATCH] for i in range(0, len(patches), BATCH)]
    rounds = {runtime: [] for runtime in analysers}
    for analyser in analysers.values():  # warm-up: first calls allocate and compile
        analyser.runtime(batches[0])
    for _ in range(FLAGS.rounds):
        for runtime, analyser in analysers.items():
            start = time.perf_counter()
            for batch in batches:
                analyser.runtime(batch)
            rounds[runtime].append(len(patches) / (time.perf_counter() - start))
    return {runtime: float(np.median(values)) for runtime, values in rounds.items()}, rounds


def _file_size(analyser):
    path = getattr(analyser.runtime, "path", None)  # the converted file it reads, if any
    return os.path.getsize(path) if path else None


def _gm_roc_auc(analysers, spec):
    """{runtime: macro ROC-AUC on the test split of the GM set ``spec`` (the run's own)}."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    from zoo.datasets import open_dataset

    data = open_dataset(spec, progress=False)
    labels = data.labels("test")
    result = {}
    for runtime, analyser in analysers.items():
        clips = []
        for path in data.audio_paths("test"):
            patches = np.concatenate([chunk.patches for chunk in analyser.chunks(path)])
            clips.append(_scores(analyser.runtime, patches).mean(axis=0))
        scores = np.stack(clips)
        columns = [i for i in range(labels.shape[1]) if 0 < labels[:, i].sum() < len(labels)]
        result[runtime] = float(np.mean([roc_auc_score(labels[:, i], scores[:, i]) for i in columns]))
    return result


def _model_row(name, music):
    import numpy as np

    analysers = _analysers(name, FLAGS.quant_runtimes)
    reference = analysers[REFERENCE]
    files = _music_patches(reference, music)  # every runtime of one model takes the same patches
    expected = [_scores(reference.runtime, patches) for _, patches in files]
    row = {"model": name, "files": len(files), "patches": int(sum(len(p) for _, p in files)), "runtimes": {}}
    timed = np.concatenate([patches for _, patches in files])[:TIMED_PATCHES]
    speed, rounds = _throughput(analysers, timed)
    spec = _gm_dataset(name) if os.path.isdir(name) else None
    gm = _gm_roc_auc(analysers, spec) if spec else {}
    for runtime, analyser in analysers.items():
        scores = [_scores(analyser.runtime, patches) for _, patches in files]
        entry = {"patches_per_s": speed[runtime], "rounds_patches_per_s": rounds[runtime],
                 "vs_fp32_onnx": speed[runtime] / speed[REFERENCE], "file_bytes": _file_size(analyser),
                 **_agreement(scores, expected)}
        if runtime == "keras-bf16" and "keras" in speed:
            entry["vs_fp32_keras"] = speed[runtime] / speed["keras"]
        if gm:
            entry["gm_test_roc_auc"] = gm[runtime]
            entry["gm_roc_auc_difference"] = gm[runtime] - gm[REFERENCE]
        row["runtimes"][runtime] = entry
        print(f"{name} {runtime}: {json.dumps({k: v for k, v in entry.items() if k != 'rounds_patches_per_s'})}",
              flush=True)
    return row


def _gm_dataset(folder):
    """The GM set a run folder was trained on (its dataset spec), or None."""
    try:
        with open(os.path.join(folder, "run.json")) as handle:
            spec = json.load(handle)["dataset"]
    except (OSError, KeyError, ValueError):
        return None
    return spec if spec.get("kind") == "gm" else None


def _end_to_end(scratch):
    import numpy as np

    from benchmarks.tagging import _make_library, _timed, _zoo_tag
    from zoo.tagging.library import find_audio

    folder = _make_library(os.path.join(scratch, "library"), 6, 180.0)
    files = [file for file, _ in find_audio([folder])]
    commands = {"original": lambda: [sys.executable, "-m", "benchmarks.original_musicnn", *files]}
    for runtime in FLAGS.e2e_runtimes:
        commands[runtime] = lambda r=runtime: _zoo_tag(folder, r, os.path.join(scratch, f"{r}.jsonl"))
        _timed(commands[runtime]())  # conversions cached before timing
    times = {name: [] for name in commands}
    for _ in range(FLAGS.e2e_repeats):
        for name, command in commands.items():
            times[name].append(_timed(command())[0])
    medians = {name: float(np.median(values)) for name, values in times.items()}
    return {"library": "6 tracks of 180 s made from GM clips, 44.1 kHz stereo OGG Vorbis", "seconds": times,
            "median_seconds": medians,
            "speedup_vs_original": {name: medians["original"] / seconds for name, seconds in medians.items()}}


def _size(entry):
    return "—" if entry["file_bytes"] is None else f"{entry['file_bytes'] / 1e6:.2f} MB"


def _markdown(results):
    lines = [f"# Reduced-precision tagging runtimes ({results['machine']})", "",
             f"Measured {results['date']} with `{results['command']}`.", "",
             "Patch throughput: patches/s in batches of 8, runtimes alternated in one process "
             f"({FLAGS.rounds} rounds, median); × fp32 is against fp32 ONNX Runtime in the same rounds. "
             "Differences and top-5 agreement: against fp32 ONNX Runtime on real music "
             f"({results['music']}); ROC-AUC: GM test split (160 clips), for the GM-trained run.", ""]
    for row in results["models"]:
        lines += [f"## {row['model']} ({row['files']} files, {row['patches']} patches)", "",
                  "| runtime | patches/s | × fp32 | file | max abs diff | mean abs diff | top-5 agreement |"
                  + (" ROC-AUC | Δ ROC-AUC |" if "gm_test_roc_auc" in row["runtimes"][REFERENCE] else ""),
                  "|---|---:|---:|---:|---:|---:|---:|"
                  + ("---:|---:|" if "gm_test_roc_auc" in row["runtimes"][REFERENCE] else "")]
        for runtime, entry in row["runtimes"].items():
            ratio = f"{entry['vs_fp32_onnx']:.2f}"
            if "vs_fp32_keras" in entry:
                ratio += f" ({entry['vs_fp32_keras']:.2f} × keras)"
            line = (f"| {runtime} | {entry['patches_per_s']:.1f} | {ratio} | {_size(entry)} | "
                    f"{entry['max_abs_difference']:.4f} | {entry['mean_abs_difference']:.5f} | "
                    f"{entry['top5_agreement'] * 100:.1f}% |")
            if "gm_test_roc_auc" in entry:
                line += f" {entry['gm_test_roc_auc']:.4f} | {entry['gm_roc_auc_difference']:+.4f} |"
            lines.append(line)
        lines.append("")
    e2e = results.get("end_to_end")
    if e2e:
        lines += ["## zoo-tag end to end (musicnn MTT)", "",
                  f"{e2e['library']}; whole processes, start-up included, median of {FLAGS.e2e_repeats} interleaved.",
                  "", "| pipeline | wall s | vs original |", "|---|---:|---:|"]
        for name, seconds in e2e["median_seconds"].items():
            label = "original musicnn (librosa + TF1 graph)" if name == "original" else f"zoo-tag --runtime {name}"
            lines.append(f"| {label} | {seconds:.1f} | {e2e['speedup_vs_original'][name]:.2f}x |")
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv):
    del argv
    if not FLAGS.music:
        print("error: --music FOLDER (real music, e.g. the Debian package drascula-music's) is required",
              file=sys.stderr)
        return 2
    from benchmarks import measure

    results = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{measure.device_name()}, {os.cpu_count()} cores, dense matmul "
                   f"{measure.matmul_gflops():.0f} GFLOP/s",
        "command": "python -m benchmarks.quantization " + " ".join(sys.argv[1:]),
        "music": FLAGS.music_label or FLAGS.music,
        "models": [_model_row(name, FLAGS.music) for name in [*FLAGS.pretrained, *FLAGS.run_folders]],
    }
    if FLAGS.e2e_repeats:
        with tempfile.TemporaryDirectory(prefix="zoo-quantization-bench-") as scratch:
            results["end_to_end"] = _end_to_end(scratch)
    os.makedirs(FLAGS.results_dir, exist_ok=True)
    with open(os.path.join(FLAGS.results_dir, "quantization.json"), "w") as handle:
        json.dump(results, handle, indent=2)
    text = _markdown(results)
    with open(os.path.join(FLAGS.results_dir, "quantization.md"), "w") as handle:
        handle.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    app.run(lambda argv: sys.exit(main(argv)))
