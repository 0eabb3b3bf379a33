"""The registry: front-ends and back-ends register themselves; model ids are their pairs.

A model id is ``<back-end>-<front-end>`` (docs/models.md, "Model ids"), e.g.
``musicnn-vertical-horizontal``.
Each builder is registered next to its definition, so searching a name finds its code.
"""
import difflib
import fnmatch
import inspect
from dataclasses import dataclass
from typing import Callable, NamedTuple

__all__ = [
    "FrontEnd",
    "BackEnd",
    "UnknownModelError",
    "InvalidOverrideError",
    "register_front_end",
    "register_back_end",
    "front_ends",
    "back_ends",
    "list_models",
    "resolve",
    "ResolvedModel",
    "ALIASES",
]

WAVEFORM = "waveform"
LOG_MEL = "log-mel"
FIXED = "fixed"
VARIABLE = "variable"


class UnknownModelError(KeyError):
    """Raised for a model id that is neither registered nor an alias."""

    def __str__(self):  # KeyError would quote the whole message
        return self.args[0]


class InvalidOverrideError(TypeError):
    """Raised when an override names no parameter of the chosen model."""


def _keyword_parameters(build):
    signature = inspect.signature(build)
    return {
        name: p.default
        for name, p in signature.parameters.items()
        if p.kind == inspect.Parameter.KEYWORD_ONLY
    }


@dataclass(frozen=True)
class FrontEnd:
    """Maps the input (waveform or log-mel) to a feature sequence [batch, time, channels]."""

    name: str
    build: Callable
    input_kind: str
    summary: str
    min_samples: int  # shortest 16 kHz waveform the default configuration accepts

    @property
    def parameters(self):
        return _keyword_parameters(self.build)


@dataclass(frozen=True)
class BackEnd:
    """Maps a feature sequence [batch, time, channels] to an embedding [batch, units]."""

    name: str
    build: Callable
    length_policy: str
    summary: str

    @property
    def parameters(self):
        return _keyword_parameters(self.build)


_FRONT_ENDS = {}
_BACK_ENDS = {}

# Literature names that point at grid entries.
ALIASES = {
    "musicnn": "musicnn-vertical-horizontal",
    "vgg": "dense-small-rectangular",
    "samplecnn": "maxpool-sample-level",
    "fcn": "fcn-small-rectangular",
    "crnn": "rnn-small-rectangular",
}


def register_front_end(name, *, input_kind, summary, min_samples):
    if input_kind not in (WAVEFORM, LOG_MEL):
        raise ValueError(f"input_kind must be {WAVEFORM!r} or {LOG_MEL!r}, got {input_kind!r}")

    def decorate(build):
        _FRONT_ENDS[name] = FrontEnd(name, build, input_kind, summary, min_samples)
        return build

    return decorate


def register_back_end(name, *, length_policy, summary):
    if length_policy not in (FIXED, VARIABLE):
        raise ValueError(f"length_policy must be {FIXED!r} or {VARIABLE!r}, got {length_policy!r}")

    def decorate(build):
        _BACK_ENDS[name] = BackEnd(name, build, length_policy, summary)
        return build

    return decorate


def _load_builders():
    # Importing the taxonomy modules runs their register_* decorators.
    from zoo.models.backends import fixed_length, variable_length  # noqa: F401
    from zoo.models.frontends import spectrogram, waveform  # noqa: F401


def front_ends():
    _load_builders()
    return dict(_FRONT_ENDS)


def back_ends():
    _load_builders()
    return dict(_BACK_ENDS)


def list_models(pattern=None):
    """All model ids, ``<back-end>-<front-end>``, sorted; ``pattern`` filters with a glob."""
    ids = sorted(f"{b}-{f}" for b in back_ends() for f in front_ends())
    if pattern is not None:
        ids = [i for i in ids if fnmatch.fnmatch(i, pattern)]
    return ids


class ResolvedModel(NamedTuple):
    """What ``resolve`` finds for an id or alias: the canonical id, its front-end and back-end
    (a tuple, as ``resolve`` returned before it had names)."""

    model_id: str
    front: FrontEnd
    back: BackEnd


def resolve(name):
    """The ``ResolvedModel`` (model id, FrontEnd, BackEnd) of an id or alias; UnknownModelError
    lists close ids."""
    model_id = ALIASES.get(name, name)
    fronts, backs = front_ends(), back_ends()
    for back_name, back in backs.items():
        prefix = back_name + "-"
        if model_id.startswith(prefix) and model_id[len(prefix):] in fronts:
            return ResolvedModel(model_id, fronts[model_id[len(prefix):]], back)
    candidates = list_models() + sorted(ALIASES)
    close = difflib.get_close_matches(str(name), candidates, n=5, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise UnknownModelError(
        f"Unknown model {name!r}.{hint} zoo.list_models() lists all {len(candidates) - len(ALIASES)} ids."
    )
