"""Opens the benchmark's dataset from a small JSON-able spec (shared by the CLI and workers)."""

__all__ = ["open_dataset"]


def _gm(spec, progress):
    from benchmarks.data.gm import make_gm_dataset

    n_train, n_valid, n_test = spec["clips"]
    return make_gm_dataset(spec["root"], n_train, n_valid, n_test, seed=spec["seed"], progress=progress)


def _mtat(spec, progress):
    from benchmarks.data.mtat import load_mtat

    return load_mtat(spec["path"])


_OPENERS = {"gm": _gm, "mtat": _mtat}


def open_dataset(spec, progress=False):
    """{"kind": "gm", "root", "clips": [train, valid, test], "seed"} or {"kind": "mtat", "path"}."""
    if spec["kind"] not in _OPENERS:
        raise ValueError(f"unknown dataset kind {spec['kind']!r}; expected one of {sorted(_OPENERS)}")
    return _OPENERS[spec["kind"]](spec, progress)
