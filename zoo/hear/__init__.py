"""The HEAR 2021 common API for every zoo model (hearbenchmark.com), so that the zoo's pretrained
models, and the models users train with zoo-train, enter the field's embedding evaluations.

    $ hear-validator zoo.hear                 # musicnn with its MagnaTagATune weights
    $ hear-validator zoo.hear -m vgg:msd      # any model name: ID:WEIGHTS, a .keras file, a run folder

    >>> import torch, zoo.hear                # KERAS_BACKEND=torch
    >>> model = zoo.hear.load_model("musicnn:mtt")
    >>> audio = torch.rand(4, 32000) * 2 - 1  # [n_sounds, n_samples] at model.sample_rate
    >>> embeddings, timestamps = zoo.hear.get_timestamp_embeddings(audio, model)  # [4, 125, 753], [4, 125] ms
    >>> zoo.hear.get_scene_embeddings(audio, model).shape
    torch.Size([4, 1506])

What the embeddings are, per front-end and back-end: ``zoo.hear.embedder`` and docs/embeddings.md.
Any length is taken (shorter than one patch, or hours), patch chunk by patch chunk through the
zoo's one streaming path (``zoo.audio.streaming``).

May import: zoo.tagging and the floors below it.
"""
from zoo.hear.embedder import Embedder
from zoo.hear.frameworks import embedder_of, from_numpy, to_numpy, wrap

__all__ = ["DEFAULT_MODEL", "load_model", "get_scene_embeddings", "get_timestamp_embeddings"]

DEFAULT_MODEL = "musicnn:mtt"


def load_model(model_file_path="", *, scene_embedding=None, runtime="keras"):
    """The HEAR model of a zoo model name.

    Args:
        model_file_path: "" for musicnn with its MTT weights; else a model name as everywhere in
            the zoo: ``ID:WEIGHTS`` (e.g. "vgg:msd", or weights you registered), an id or alias
            (with its "mtt" weights), a ``.keras`` file or a zoo-train run folder.
        scene_embedding: the embeddings a scene embedding joins (``zoo.embedding_names``), e.g.
            ("penultimate",); default by back-end (``zoo.hear.embedder.SCENE_EMBEDDINGS``).
        runtime: "keras" (the network on Keras' backend) or "onnx" (``zoo.tagging.runtimes``).

    Returns:
        On TensorFlow a ``tf.Module``, on PyTorch a ``torch.nn.Module``, on JAX the ``Embedder``;
        each with int ``sample_rate`` (16000), ``scene_embedding_size`` and ``timestamp_embedding_size``.
    """
    name = model_file_path or DEFAULT_MODEL
    scene = (scene_embedding,) if isinstance(scene_embedding, str) else scene_embedding
    return wrap(Embedder(name, scene=scene, runtime=runtime))


def get_timestamp_embeddings(audio, model):
    """(embeddings [n_sounds, T, d] float32, timestamps [n_sounds, T] float32 in ms, frame
    centres at most 50 ms apart) of ``audio`` [n_sounds, n_samples] in [-1, 1] at 16 kHz, in
    the framework ``audio`` comes in."""
    embeddings, timestamps = embedder_of(model).timestamp_embeddings(to_numpy(audio))
    return from_numpy(embeddings, audio), from_numpy(timestamps, audio)


def get_scene_embeddings(audio, model):
    """[n_sounds, d] float32 scene embeddings of ``audio`` [n_sounds, n_samples] in [-1, 1] at
    16 kHz, in the framework ``audio`` comes in."""
    return from_numpy(embedder_of(model).scene_embeddings(to_numpy(audio)), audio)
