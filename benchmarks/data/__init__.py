"""Datasets for the benchmark: a General-MIDI music-tagging set rendered locally, MagnaTagATune.

- ``gm``: ``make_gm_dataset`` renders (or reuses) the GM tagging set; ``gm_plan`` plans its pieces.
- ``mtat``: ``load_mtat`` reads MagnaTagATune from its distributed layout.
- ``dataset``: ``TaggingDataset``, the interface both return.
- ``pipeline``: ``make_dataset``, the tf.data input pipeline (imports TensorFlow and tensorflow-io).
- ``fluidsynth``: MIDI -> audio with the fluidsynth command line.
"""
