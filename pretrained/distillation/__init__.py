"""Distillation: musicnn's MTT judgements taught to any zoo model on free music from Debian packages.

- ``packages``: installed packages as dpkg records them (version, files), under any root.
- ``licences``: each track's licence from its package's copyright file.
- ``archives``: tracks inside zip (``.pk3``) archives, extracted once into the zoo cache.
- ``corpus``: the corpus manifest (``PACKAGES``), deduplicated, split by package (``HELD_OUT``).
- ``teacher``: the teacher's scores per 3 s patch of every track, cached per track.
- ``frontend``: musicnn's MTT front-end as the start of a back-end-axis student (``mtt-frontend``).
- ``command``: ``python -m pretrained distil``, the four steps in order, resumable.

Builds on ``zoo`` (its tagging path, the ``soft:`` dataset kind, the one trainer) and on
``pretrained.musicnn``; nothing in ``zoo`` imports it (docs/distillation.md).
"""
