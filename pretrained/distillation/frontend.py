"""A student's front-end started from musicnn's MTT front-end: weights ``mtt-frontend``, this process only.

The back-end axis of the grid (dense-, fcn-, maxpool-, avgpool-, attention-, rnn-, musicnn-
vertical-horizontal) shares musicnn's front-end. Its students may start from the teacher's
trained front-end (the timbral and temporal filters and their batch norms; the back-end and the
head start untrained) and, with ``freeze="frontend"``, keep it. The weights are entered in the
registry for the running process only (``zoo.weights.register_weights``), under
``FRONTEND_WEIGHTS``, so that the one trainer loads them as any other weights (``zoo.train(...,
weights="mtt-frontend")``) and records their name in the run; the trained student's
``model.keras`` holds every weight itself.

    >>> from pretrained.distillation.frontend import register_frontend_weights
    >>> register_frontend_weights("maxpool-vertical-horizontal")     # doctest: +SKIP
    'mtt-frontend'
"""
from dataclasses import dataclass

from pretrained.musicnn import LICENCE, MTT, SAMPLE_RATE, find_checkpoint, load_into
from pretrained.tags import MTT_TAGS
from zoo.weights import WeightsEntry, register_weights

__all__ = ["FRONTEND", "FRONTEND_WEIGHTS", "FrontEndError", "is_front_end_layer", "register_frontend_weights"]

FRONTEND = "vertical-horizontal"  # musicnn's front-end
FRONTEND_WEIGHTS = "mtt-frontend"
CHECKPOINT = "MTT_musicnn"


class FrontEndError(ValueError):
    """The student has another front-end than musicnn's."""


def is_front_end_layer(name):
    """The layers ``zoo.training.freezing`` holds still with ``freeze="frontend"``."""
    return name.startswith("frontend_")


@dataclass(frozen=True)
class _FrontEndOnly:
    """load_into of the entry (equal for every instance: registering again is harmless)."""

    def __call__(self, model):
        return load_into(find_checkpoint(CHECKPOINT), model, only=is_front_end_layer)


def register_frontend_weights(student):
    """Registers ``mtt-frontend`` weights for the model ``student`` (for this process) and returns
    the name; FrontEndError if its front-end is not musicnn's."""
    from zoo.models.registry import resolve

    resolved = resolve(student)
    if resolved.front.name != FRONTEND:
        raise FrontEndError(f"{resolved.model_id} has the front-end {resolved.front.name!r}; musicnn's MTT "
                            f"front-end fits the {FRONTEND!r} students only (dense-, fcn-, maxpool-, avgpool-, "
                            f"attention-, rnn-, musicnn-{FRONTEND})")
    register_weights(WeightsEntry(
        resolved.model_id, FRONTEND_WEIGHTS, MTT_TAGS, _FrontEndOnly(),
        trained_on=f"{MTT} (front-end only: the back-end and head are untrained)", licence=LICENCE,
        source="the front-end layers of musicnn 0.1.0's MTT_musicnn checkpoint (python -m pretrained convert)",
        prepare=None, sample_rate=SAMPLE_RATE))
    return FRONTEND_WEIGHTS
