"""The grid's building blocks: every front-end x back-end of Pons' review as a Keras model.

- ``registry``: model ids, aliases, the front-end and back-end tables, close-match errors.
- ``frontends/`` (``waveform``, ``spectrogram``) and ``backends/`` (``fixed_length``,
  ``variable_length``): each builder, registered next to its definition.
- ``builder``: ``create_model`` / ``load`` (input stage -> front-end -> back-end -> head).
- ``input_stage``: the in-graph log-mel (kapre); ``log_mel_config``: its settings, frame
  arithmetic and the Slaney filterbank (NumPy, no TensorFlow).
- ``blocks``: where the builders get their Conv2D, BatchNormalization and frequency max (the
  speed kernels of ``zoo.kernels`` while they are on, Keras' own layers with ``ZOO_KERNELS=off``).
- ``layers``: the zoo's own serialisable layers (input stage pieces, pooling, the output head, the
  length guard); ``keras_registration`` registers them and the kernels when Keras loads, so
  ``.keras`` files load after ``import zoo``.
- ``catalogue``: the registry as a table (parameters, FLOPs).

May import: the floors below (``zoo.weights``, ``zoo.kernels``; ``zoo.cache``, ``zoo.files``). Importing this
package, ``registry`` or ``log_mel_config`` does not import TensorFlow; building a model does.
"""
from zoo.lazy import lazy_attributes

__all__ = ["HEAD_DROPOUT", "create_model", "input_samples", "load"]

# The builder imports Keras and TensorFlow: loaded on first use, like `zoo.load`.
__getattr__, __dir__ = lazy_attributes(__name__, dict.fromkeys(__all__, "zoo.models.builder"))
