"""Benchmark presets: which models, how much data, how long to train."""
from dataclasses import dataclass

from zoo.models import registry

__all__ = ["Preset", "PRESETS"]

SWEEP_BACK_END = "musicnn"  # all front-ends on musicnn's back-end ...
# ... and all back-ends on the single vertical front-end: a quarter of musicnn's front-end's
# training cost on CPU, and with no temporal filters of its own, so the back-ends' temporal
# modelling is what separates them on the temporal tags.
SWEEP_FRONT_END = "vertical"


@dataclass(frozen=True)
class Preset:
    models: tuple
    clips: tuple  # (train, valid, test) 10 s clips of the GM set
    epochs: int
    batch_size: int
    scaling_seconds: tuple  # extra input lengths for variable-length models
    latency_repeats: int
    anchor: bool  # also time the original musicnn graph
    seeds: int = 1  # training runs per model (seeds seed..seed+N-1, same data)


def _front_end_models():
    return tuple(f"{SWEEP_BACK_END}-{f}" for f in registry.front_ends())


def _back_end_models():
    return tuple(f"{b}-{SWEEP_FRONT_END}" for b in registry.back_ends())


def _distilled_students():
    """The issue's 12 students: the front-end axis on musicnn's back-end, the back-end axis on musicnn's front-end."""
    return tuple(m for m in _front_end_models() if m != "musicnn-vertical-horizontal") + tuple(
        f"{b}-vertical-horizontal" for b in registry.back_ends() if b != "musicnn")


def _sweep_models():
    return tuple(dict.fromkeys(_front_end_models() + _back_end_models()))


PRESETS = {
    "smoke": Preset(
        models=("maxpool-frame-single", "avgpool-sample-level", "maxpool-vertical", "dense-small-rectangular"),
        clips=(24, 8, 16), epochs=1, batch_size=8, scaling_seconds=(10,), latency_repeats=5, anchor=False,
    ),
    # The seed review's five findings with verdicts: the 7 front-ends they compare, 3 seeds each,
    # in no more time than the one-seed "sweep": 4 epochs of 320 clips instead of 8 of 400 are what
    # buys the seeds on 2 cores (timings in benchmarks/results/findings.md, "default" preset).
    "default": Preset(
        models=_front_end_models(),
        clips=(320, 80, 160), epochs=4, batch_size=16, scaling_seconds=(10, 30), latency_repeats=30, anchor=True,
        seeds=3,
    ),
    # Every back-end on the vertical front-end (the back-end half of "sweep"), one seed.
    "back-ends": Preset(
        models=_back_end_models(),
        clips=(400, 80, 160), epochs=8, batch_size=16, scaling_seconds=(10, 30), latency_repeats=30, anchor=False,
    ),
    # The seed review's front-end findings with error bars: the 7 front-ends on musicnn's back-end,
    # 3 seeds, more data and epochs than "default"; 67 minutes on 2 cores
    # (benchmarks/results/paper/results.md).
    "paper": Preset(
        models=_front_end_models(),
        clips=(480, 80, 160), epochs=10, batch_size=16, scaling_seconds=(30,), latency_repeats=10,
        anchor=False, seeds=3,
    ),
    # Every front-end on musicnn's back-end and every back-end on the vertical front-end, one seed
    # (no verdicts): the broad look, and the time budget "default" is sized against.
    "sweep": Preset(
        models=_sweep_models(),
        clips=(400, 80, 160), epochs=8, batch_size=16, scaling_seconds=(10, 30), latency_repeats=30, anchor=True,
    ),
    # The mtt-distilled students fine-tuned against the same architectures from scratch (run it with
    # and without --weights=mtt-distilled), on the data and budget of "default".
    "fine-tuning": Preset(
        models=_distilled_students(),
        clips=(320, 80, 160), epochs=4, batch_size=16, scaling_seconds=(), latency_repeats=5, anchor=False,
        seeds=3,
    ),
    "full": Preset(
        models=tuple(registry.list_models()),
        clips=(400, 80, 160), epochs=8, batch_size=16, scaling_seconds=(10, 30), latency_repeats=30, anchor=True,
    ),
}
