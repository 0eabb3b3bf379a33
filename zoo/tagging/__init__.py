"""Tagging audio with a trained model: files, arrays and whole libraries.

- ``analyser``: ``tag``, ``taggram``, ``embeddings`` and the ``Analyser`` every path goes through.
- ``network``: the Keras network tagging runs, embedding layers as extra outputs.
- ``inference_graph``: the inference rewrite (batch norm after the pool: same outputs, less work).
- ``runtimes``: what scores the patches, by name (keras, onnx, tflite, and the reduced-precision
  onnx-int8, keras-bf16, tflite-int8, tflite-fp16), conversions cached; ``calibration``: the audio
  the int8 forms are calibrated on (rendered GM clips, or the user's files).
- ``library``: folders, JSON-lines records, resume; ``cli``: ``zoo-tag``; ``beam``: the Apache
  Beam pipeline (``python -m zoo.beam``).
- ``taggram_plot``: ``plot_taggram`` (``zoo.plot_taggram``), the taggram pictures; matplotlib is
  imported when one is drawn.

May import: ``zoo.datasets``, ``zoo.audio``, ``zoo.conversion``, ``zoo.models`` and the floors
below them; not ``zoo.training``, its sibling. Importing it does not import TensorFlow
(zoo-tag's onnx runtime never needs it).
"""
from zoo.tagging.analyser import (
    AGGREGATES,
    DEFAULT_MODEL,
    Analyser,
    analyse,
    check_embeddings,
    embedding_names,
    embeddings,
    pretrained_model,
    tag,
    taggram,
)

__all__ = ["AGGREGATES", "DEFAULT_MODEL", "Analyser", "analyse", "check_embeddings", "embedding_names", "embeddings",
           "pretrained_model", "tag", "taggram"]
