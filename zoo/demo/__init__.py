"""``zoo-demo``: a local web page where a person uploads audio and sees its tags and taggram.

- ``choices``: the models the page offers (every registered weights entry, or a model file).
- ``tagger``: what one upload gets: zoo-tag's JSON record and the taggram picture, one path
  (``zoo.tagging.Analyser``, ONNX Runtime by default, as zoo-tag).
- ``page``: the one HTML page, the zoo's own (no script, font or picture from elsewhere).
- ``app``: the Starlette application: the page, uploads (size limit, errors in words).
- ``cli``: ``zoo-demo``: serves it with uvicorn on 127.0.0.1 unless told otherwise.

Starlette, uvicorn and python-multipart come with the ``demo`` extra (``pip install -e '.[demo]'``);
only ``app`` and ``cli`` import them. Nothing here sends a request off the machine.

May import: ``zoo.tagging`` and the floors below it (``zoo.audio``, ``zoo.models``, ``zoo.weights``,
``zoo.files``); not ``zoo`` itself, beside it on the top floor.
"""
