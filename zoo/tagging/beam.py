"""Tag a library too big for one machine: an Apache Beam pipeline (``pip install '.[beam]'``).

    python -m zoo.beam --input=/music --output=out/tags [--model=musicnn --weights=mtt --top_k=5
        --runtime=onnx] [Beam pipeline options: --runner=FlinkRunner --flink_master=... ]

Writes JSON-lines shards ``PREFIX-00000-of-0000N.jsonl`` holding exactly the records that
``zoo-tag --format jsonl`` writes, failed files included. Files are matched where the pipeline
is built (a folder, searched as zoo-tag does, or a glob) and must be readable by every worker at
the same path (a shared filesystem). Each worker loads the model once through our ModelHandler
(Beam's TensorFlow handler loads with tf.keras, which rejects Keras 3 models) and
tags each file with ``zoo.tagging.Analyser``, the path zoo-tag uses.
"""
import argparse
import glob
import json
import os
import sys

__all__ = ["ZooTagger", "build_pipeline", "expand_input", "main"]


def expand_input(pattern):
    """The files of a folder (recursive audio search) or of a glob, sorted."""
    from zoo.tagging.library import AUDIO_EXTENSIONS, find_audio

    if os.path.isdir(pattern):
        return [file for file, _ in find_audio([pattern])]
    matches = sorted(glob.glob(pattern, recursive=True))
    return [m for m in matches if os.path.isfile(m) and os.path.splitext(m)[1].lower() in AUDIO_EXTENSIONS]


try:
    from apache_beam.ml.inference.base import ModelHandler
except ImportError:  # the optional extra is not installed: main() says so in one line
    ModelHandler = object


class ZooTagger(ModelHandler):
    """A Beam ModelHandler: file paths in, zoo-tag records out (one bad file, one error record)."""

    def __init__(self, model, weights, top_k, runtime):
        super().__init__()
        self._settings = dict(model=model, weights=weights, top_k=top_k, runtime=runtime)

    def load_model(self):
        from zoo.tagging.analyser import Analyser

        return Analyser(**self._settings)

    def run_inference(self, batch, model, inference_args=None):
        from zoo.tagging.library import error_record, tags_record

        records = []
        for file in batch:
            try:
                tags, _ = model(file)
                records.append(tags_record(file, tags))
            except Exception as error:  # noqa: BLE001 - one bad file never stops the run
                records.append(error_record(file, error if str(error) else type(error).__name__))
        return records

    def batch_elements_kwargs(self):
        return {"min_batch_size": 1, "max_batch_size": 8}

    def share_model_across_processes(self):
        return False


def build_pipeline(pipeline, files, output, *, model, weights, top_k, runtime):
    import apache_beam as beam
    from apache_beam.ml.inference.base import RunInference

    return (
        pipeline
        | "Files" >> beam.Create(files)
        | "Spread" >> beam.Reshuffle()
        | "Tag" >> RunInference(ZooTagger(model, weights, top_k, runtime))
        | "JSON" >> beam.Map(json.dumps)
        | "Write" >> beam.io.WriteToText(output, file_name_suffix=".jsonl")
    )


def _arguments(argv):
    from zoo.tagging.analyser import DEFAULT_MODEL
    from zoo.tagging.runtimes import DEFAULT_RUNTIME, RUNTIME_ALIASES, RUNTIMES

    parser = argparse.ArgumentParser(prog="python -m zoo.beam", description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", required=True, help="a folder (searched recursively) or a glob")
    parser.add_argument("--output", required=True, help="prefix of the JSON-lines shards")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--weights", default="mtt")
    parser.add_argument("--top_k", type=int, default=5)
    parser.add_argument("--runtime", default=DEFAULT_RUNTIME, choices=sorted([*RUNTIMES, *RUNTIME_ALIASES]))
    return parser.parse_known_args(argv)


def main(argv=None):
    """Build and run the pipeline; returns 0, or 2 with one line for bad arguments."""
    args, beam_args = _arguments(sys.argv[1:] if argv is None else argv)
    if ModelHandler is object:
        print("zoo.beam: error: Apache Beam is not installed: pip install '.[beam]'", file=sys.stderr)
        return 2
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    try:
        from zoo.tagging.analyser import Analyser

        # names checked, converted once
        Analyser(args.model, weights=args.weights, top_k=args.top_k, runtime=args.runtime)
    except (ValueError, KeyError) as error:
        print(f"zoo.beam: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    files = expand_input(args.input)
    if not files:
        print(f"zoo.beam: error: no audio files match {args.input!r}", file=sys.stderr)
        return 2
    with beam.Pipeline(options=PipelineOptions(beam_args)) as pipeline:
        build_pipeline(pipeline, files, args.output, model=args.model, weights=args.weights, top_k=args.top_k,
                       runtime=args.runtime)
    return 0


if __name__ == "__main__":
    sys.exit(main())
