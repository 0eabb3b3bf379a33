"""The served functions, all taking ``waveform``, float32 [batch, samples] at the model's rate.

Every clip may have any length (at least one sample): the graph cuts it into zoo.tag's patches
and averages over them (export.patching), so a served model answers what zoo.tag answers.

- serving_default: scores [batch, classes], top_k_tags [batch, k] (string), top_k_scores.
- embed: embedding [batch, units], the back-end's output (the tagging head's input), averaged
  over the patches.
- tag_names: tag_names [batch, classes] (string); reads only the batch size of its input
  (any float32 [batch, samples], e.g. [1, 1]), so clients can label ``scores`` without a
  copy of the vocabulary.

The tag names live in ``assets/tags.txt``; a lookup table initialised from that asset turns
indices into names, so the vocabulary shipped with a version is the one it answers with.
"""
import os

import keras
import tensorflow as tf

from export.errors import ExportError
from export.patching import clip_model

__all__ = [
    "EMBED_SIGNATURE",
    "INPUT_NAME",
    "SERVING_SIGNATURE",
    "TAGS_ASSET",
    "TAG_NAMES_SIGNATURE",
    "build_archive",
    "write_tag_file",
]

INPUT_NAME = "waveform"
SERVING_SIGNATURE = "serving_default"
EMBED_SIGNATURE = "embed"
TAG_NAMES_SIGNATURE = "tag_names"
TAGS_ASSET = "tags.txt"


def write_tag_file(tag_names, directory):
    """Write one tag per line to directory/tags.txt and return its path."""
    for name in tag_names:
        if not name or "\n" in name or "\r" in name:
            raise ExportError(f"tag names must be non-empty single-line strings, got {name!r}")
    path = os.path.join(directory, TAGS_ASSET)
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(f"{name}\n" for name in tag_names))
    return path


def _tag_table(tag_file):
    initializer = tf.lookup.TextFileInitializer(
        tag_file,
        key_dtype=tf.int64,
        key_index=tf.lookup.TextFileIndex.LINE_NUMBER,
        value_dtype=tf.string,
        value_index=tf.lookup.TextFileIndex.WHOLE_LINE,
    )
    return tf.lookup.StaticHashTable(initializer, default_value="")


def _check_not_empty(waveform):
    # Served to clients as the server's error message: say what was wrong, not which op failed.
    tf.debugging.assert_greater_equal(tf.shape(waveform)[1], 1, message="waveform is empty: send at least one sample")


def build_archive(model, tag_file, *, top_k, patch_samples=None):
    """A keras ExportArchive with the serving_default, embed and tag_names signatures.

    Args:
        model: zoo Keras model with its tagging head (input [batch, samples]).
        tag_file: text file with one tag name per line, in output order (becomes an asset).
        top_k: number of tags in top_k_tags / top_k_scores.
    """
    num_classes = model.output_shape[-1]
    if not 1 <= top_k <= num_classes:
        raise ExportError(f"top_k must be between 1 and {num_classes} (the model's classes), got {top_k}")
    scorer, embedder = clip_model(model, "scores", patch_samples), clip_model(model, "embedding", patch_samples)
    table = _tag_table(tag_file)
    spec = tf.TensorSpec([None, None], tf.float32, name=INPUT_NAME)

    def serve(waveform):
        _check_not_empty(waveform)
        scores = scorer(waveform, training=False)
        top_scores, top_indices = tf.math.top_k(scores, k=top_k)
        return {
            "scores": scores,
            "top_k_tags": table.lookup(tf.cast(top_indices, tf.int64)),
            "top_k_scores": top_scores,
        }

    def embed(waveform):
        _check_not_empty(waveform)
        return {"embedding": embedder(waveform, training=False)}

    def tag_names(waveform):
        names = table.lookup(tf.range(num_classes, dtype=tf.int64))
        return {"tag_names": tf.tile(names[tf.newaxis], [tf.shape(waveform)[0], 1])}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.track(table)
    archive.add_endpoint(SERVING_SIGNATURE, serve, input_signature=[spec])
    archive.add_endpoint(EMBED_SIGNATURE, embed, input_signature=[spec])
    archive.add_endpoint(TAG_NAMES_SIGNATURE, tag_names, input_signature=[spec])
    return archive
