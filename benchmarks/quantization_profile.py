"""Where a patch's time goes in ONNX Runtime, per convolution / product, fp32 against int8.

    python -m benchmarks.quantization_profile [--model=musicnn:mtt] [--results_dir=benchmarks/results]

ONNX Runtime's own profiler (kernel time per node) over the same real-music-like patches (rendered
GM clips of another seed than the calibration's) in zoo-tag's batches of 8, for three forms of one
model: fp32 (the ``onnx`` runtime's file), ``onnx-int8`` as the zoo makes it (shallow convolutions
kept float, ``zoo.conversion.onnx_int8.MIN_INT8_DEPTH``) and every Conv / MatMul in int8
(``min_depth=0``). Writes ``quantization_profile.md`` with the date, machine and command: the
reason behind the depth rule, and what is left in float32.
"""
import collections
import datetime
import json
import os
import re
import sys
import tempfile

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("model", "musicnn:mtt", "MODEL:WEIGHTS to profile.")
flags.DEFINE_string("results_dir", os.path.join("benchmarks", "results"), "Where quantization_profile.md goes.")
flags.DEFINE_integer("profile_rounds", 4, "Passes over the patches (the first is not counted).")

BATCH = 8


def _profile(path, patches):
    """{(op type, node): ms per patch}, total ms per patch, for the ONNX file ``path``."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # as zoo-tag runs it
    session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    for start in range(0, len(patches), BATCH):  # warm-up, not profiled
        session.run(["scores"], {name: patches[start:start + BATCH]})
    options.enable_profiling = True
    with tempfile.TemporaryDirectory() as scratch:
        options.profile_file_prefix = os.path.join(scratch, "profile")
        session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        for _ in range(FLAGS.profile_rounds):
            for start in range(0, len(patches), BATCH):
                session.run(["scores"], {name: patches[start:start + BATCH]})
        with open(session.end_profiling()) as handle:
            events = json.load(handle)
    count = FLAGS.profile_rounds * len(patches)
    times = collections.Counter()
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            node = event["name"][: -len("_kernel_time")]
            times[(event["args"]["op_name"], node)] += event["dur"] / 1000 / count
    return times, sum(times.values())


_LAYER_PREFIXES = ("frontend_", "midend_", "backend_", "head_")


def _layer_names(paths):
    """{node name: its Keras layer}, read from the names of the nodes' weights, inputs and outputs
    (tf2onnx renames some nodes, e.g. Conv__213; the int8 tool adds _token_N to the ones it fuses)."""
    import onnx

    layers = {}
    for path in paths:
        for node in onnx.load(path).graph.node:
            for name in (node.name, *node.input[1:], *node.output, *node.input[:1]):
                part = next((p for p in name.split("/") if p.startswith(_LAYER_PREFIXES)), None)
                if part:
                    layers[node.name] = part.rsplit("_1", 1)[0]
                    break
    return layers


def _layer(node, layers):
    """The layer of a profiled node ("fused X/MatMulAddFusion", "X:0_nchwc", "X_token_7": X's)."""
    node = re.sub(r"_token_\d+$", "", re.sub(r":\d+_\w+$", "", node.removeprefix("fused ")))
    if node not in layers:
        node = node.rsplit("/", 1)[0] if node.endswith("Fusion") else node
    return layers.get(node, node)


def _forms(model, weights, analyser, scratch):
    """{form: ONNX file}: the fp32 and int8 runtimes' files, and every Conv / MatMul in int8."""
    from zoo.conversion.onnx_int8 import quantize_onnx_int8
    from zoo.tagging.analyser import Analyser
    from zoo.tagging.calibration import Calibration

    int8 = Analyser(model, weights=weights, runtime="onnx-int8").runtime.path
    every = os.path.join(scratch, "every-conv-int8.onnx")
    with open(analyser.runtime.path, "rb") as handle:
        fp32 = handle.read()
    calibration = Calibration().patches(analyser.patching.samples, analyser.input_kind)  # onnx-int8's
    with open(every, "wb") as handle:
        handle.write(quantize_onnx_int8(fp32, calibration, min_depth=0))
    return {"fp32": analyser.runtime.path, "onnx-int8": int8, "every conv int8": every}


def main(argv):
    del argv
    import numpy as np

    from benchmarks import measure
    from zoo.tagging.analyser import Analyser
    from zoo.tagging.calibration import Calibration

    model, _, weights = FLAGS.model.partition(":")
    weights = weights or "mtt"
    analyser = Analyser(model, weights=weights, runtime="onnx")
    files = Calibration(clips=8, seed=99).audio_files()  # not the calibration's clips
    patches = np.concatenate([np.concatenate([c.patches for c in analyser.chunks(f)]) for f in files])[:24]
    with tempfile.TemporaryDirectory(prefix="zoo-int8-profile-") as scratch:
        forms = _forms(model, weights, analyser, scratch)
        profiles = {name: _profile(path, patches) for name, path in forms.items()}
        names = _layer_names(forms.values())
    kinds = ("Conv", "QLinearConv", "MatMul", "QLinearMatMul")
    layers = collections.defaultdict(dict)
    for name, (times, _) in profiles.items():
        for (op, node), ms in times.items():
            if op in kinds or op.startswith(("QLinear", "Fused")):
                layer = _layer(node, names)
                layers[layer][name] = layers[layer].get(name, 0.0) + ms
    lines = [f"# Where a patch's time goes: {FLAGS.model} in ONNX Runtime, fp32 and int8 "
             f"({measure.device_name()}, {os.cpu_count()} cores, dense matmul {measure.matmul_gflops():.0f} GFLOP/s)",
             "", f"Measured {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC with "
             f"`python -m benchmarks.quantization_profile {' '.join(sys.argv[1:])}`: ONNX Runtime's profiler, "
             f"kernel time per node, {len(patches)} patches of rendered GM clips in batches of {BATCH}, "
             f"{FLAGS.profile_rounds} passes after a warm-up; ms per patch.", "",
             "| layer (convolution / product) | " + " | ".join(profiles) + " |",
             "|---|" + "---:|" * len(profiles)]
    for layer, values in sorted(layers.items(), key=lambda item: -item[1].get("fp32", 0.0)):
        lines.append(f"| {layer} | " + " | ".join(f"{values.get(name, 0.0):.2f}" for name in profiles) + " |")
    lines.append("| **all nodes** | " + " | ".join(f"**{total:.2f}**" for _, total in profiles.values()) + " |")
    text = "\n".join(lines) + "\n"
    os.makedirs(FLAGS.results_dir, exist_ok=True)
    with open(os.path.join(FLAGS.results_dir, "quantization_profile.md"), "w") as handle:
        handle.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    app.run(lambda argv: sys.exit(main(argv)))
