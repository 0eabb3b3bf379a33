"""python -m export --model=ID|FILE.keras|RUN_FOLDER --base_path=DIR [--weights=mtt] [--version=N] [--force]

Writes DIR/<model id>/<version>/ for TF Serving; optionally a models.config for every model
under DIR, a batching parameters file, and TFLite / ONNX files (also int8 and float16 ones:
--onnx_int8, --tflite_int8, --tflite_fp16, calibrated on --calibration files or GM clips).
"""
import argparse
import os
import sys

from zoo.host_allocator import tune_host_allocator

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads: keep the CLI's output readable
tune_host_allocator()

__all__ = ["main", "parse_args"]


def _parser():
    parser = argparse.ArgumentParser(prog="python -m export", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="zoo model id or alias (e.g. musicnn-vertical-horizontal), "
                                                      "a .keras file or a zoo-train run folder")
    parser.add_argument("--base_path", required=True, help="directory TF Serving watches (one folder per model)")
    parser.add_argument("--weights", default=None, help="pretrained weights name, e.g. mtt (default: random init)")
    parser.add_argument("--version", type=int, default=None, help="version number (default: the next one)")
    parser.add_argument("--force", action="store_true", help="replace an existing version")
    parser.add_argument("--top_k", type=int, default=None,
                        help="tags returned in top_k_tags (default 5, or every tag of a model with fewer)")
    parser.add_argument("--sample_rate", type=int, default=16000, help="model input rate in Hz (default 16000)")
    parser.add_argument("--input_seconds", type=float, default=None,
                        help="clip length of fixed-length back-ends (dense, fcn; default: musicnn's 3 s patch, "
                             "47616 samples = 187 frames); the others take any length")
    parser.add_argument("--no_warmup", action="store_true", help="leave out assets.extra/tf_serving_warmup_requests")
    parser.add_argument("--skip_op_check", action="store_true",
                        help="skip checking that the graph uses core TensorFlow ops only")
    parser.add_argument("--model_config", metavar="PATH",
                        help="also write a models.config (ModelServerConfig) for every model under base_path")
    parser.add_argument("--models_root", default="/models",
                        help="where the server sees base_path, for --model_config (default: /models, docker)")
    parser.add_argument("--batching_parameters", metavar="PATH",
                        help="also write a --batching_parameters_file text proto")
    parser.add_argument("--max_batch_size", type=int, default=32, help="for --batching_parameters (default 32)")
    parser.add_argument("--tflite", metavar="PATH", help="also write a .tflite model")
    parser.add_argument("--onnx", metavar="PATH", help="also write a .onnx model")
    parser.add_argument("--onnx_int8", metavar="PATH", help="also write a static int8 .onnx model (calibrated)")
    parser.add_argument("--tflite_int8", metavar="PATH",
                        help="also write an int8 .tflite model (weights and activations; calibrated)")
    parser.add_argument("--tflite_fp16", metavar="PATH", help="also write a .tflite model with float16 weights")
    parser.add_argument("--calibration", metavar="PATH", action="append", default=[],
                        help="audio file or folder the int8 models are calibrated on (repeatable; default: "
                             "General-MIDI clips rendered by the zoo)")
    parser.add_argument("--calibration_clips", type=int, default=None,
                        help="GM clips to render, or the most of the --calibration files to use (default 24)")
    return parser


def parse_args(argv=None):
    return _parser().parse_args(argv)


def _naming_errors():
    """A model named wrongly on the command line: exit 2, as zoo-tag and zoo.beam do."""
    import zoo

    return (zoo.UnknownModelError, zoo.InvalidOverrideError, zoo.UnknownWeightsError, zoo.ModelFileError)


def _user_errors():
    from export.errors import ExportError

    return (ExportError, ValueError, OSError)


def _describe(exported):
    return (
        f"exported {exported.name} version {exported.version} to {exported.path}\n"
        f"  serving_default: waveform float32 [batch, samples] (any length, {exported.sample_rate} Hz; scores "
        f"averaged over {exported.patch_samples}-sample patches as zoo.tag does) -> scores, top_k_tags, top_k_scores\n"
        "  embed: waveform -> embedding (averaged over the patches)\n"
        "  tag_names: waveform (only its batch size is read) -> tag_names"
    )


def _run(args):
    import tensorflow as tf

    from export import saved_model, server_config, to_onnx, to_tflite

    tf.get_logger().setLevel("ERROR")  # saving a lookup table logs a harmless collection warning

    length = {} if args.input_seconds is None else {"input_seconds": args.input_seconds}
    model, name, patch = saved_model.servable(args.model, weights=args.weights, sample_rate=args.sample_rate,
                                              **length)
    exported = saved_model.export_saved_model(
        model, args.base_path, args.version, args.force, top_k=args.top_k, sample_rate=args.sample_rate,
        model_name=name, warmup_requests=not args.no_warmup, check_ops=not args.skip_op_check,
        patch_length=patch,
    )
    print(_describe(exported))
    if args.model_config:
        names = server_config.exported_model_names(args.base_path)
        server_config.write_model_config(args.model_config, names, args.models_root)
        print(f"wrote {args.model_config} serving {', '.join(names)} from {args.models_root}")
    if args.batching_parameters:
        server_config.write_batching_parameters(args.batching_parameters, max_batch_size=args.max_batch_size)
        print(f"wrote {args.batching_parameters}")
    if args.tflite:
        to_tflite.export_tflite(model, args.tflite, patch_samples=patch)  # the model resolved above
        print(f"wrote {args.tflite}")
    if args.onnx:
        to_onnx.export_onnx(model, args.onnx, patch_samples=patch)
        print(f"wrote {args.onnx}")
    _reduced_precision(args, model, patch)


def _reduced_precision(args, model, patch):
    """The int8 / fp16 files asked for, the int8 ones calibrated on the same clips."""
    from export import to_onnx, to_tflite
    from zoo.tagging.calibration import Calibration

    options = {} if args.calibration_clips is None else {"clips": args.calibration_clips}
    calibration = Calibration(files=tuple(args.calibration), **options)
    common = {"patch_samples": patch, "calibration": calibration, "sample_rate": args.sample_rate}
    if args.onnx_int8:
        to_onnx.export_onnx(model, args.onnx_int8, quantization="int8", **common)
        print(f"wrote {args.onnx_int8} (int8, calibrated on {calibration.key})")
    if args.tflite_int8:
        to_tflite.export_tflite(model, args.tflite_int8, quantization="int8", **common)
        print(f"wrote {args.tflite_int8} (int8, calibrated on {calibration.key})")
    if args.tflite_fp16:
        to_tflite.export_tflite(model, args.tflite_fp16, quantization="fp16", **common)
        print(f"wrote {args.tflite_fp16} (float16 weights)")


def main(argv=None):
    args = parse_args(argv)
    try:
        _run(args)
    except _naming_errors() as error:
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    except _user_errors() as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
