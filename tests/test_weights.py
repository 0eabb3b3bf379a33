"""The weights registry (zoo.weights): filled by the packages built on zoo through an entry
point, listed by zoo.list_weights(), looked up by zoo.load and tagging."""
import subprocess
import sys

import pytest

import pretrained
import zoo
from zoo import weights
from zoo.weights import WeightsEntry, WeightsRegistryError

MUSICNN_WEIGHTS = {("dense-small-rectangular", "msd"), ("dense-small-rectangular", "mtt"),
                   ("musicnn-vertical-horizontal", "msd"), ("musicnn-vertical-horizontal", "mtt")}


def test_list_weights_shows_the_four_musicnn_checkpoints_with_their_facts():
    table = zoo.list_weights()
    assert set(zip(table.model, table.weights)) == MUSICNN_WEIGHTS
    row = table[(table.model == "musicnn-vertical-horizontal") & (table.weights == "mtt")].iloc[0]
    assert (row.tags, row.trained_on, row.roc_auc, row.pr_auc) == (50, "MagnaTagATune", 0.9067, 0.3831)
    assert row.licence.startswith("ISC") and "MTT_musicnn" in row.source
    assert list(zoo.list_weights("vgg").weights) == ["msd", "mtt"]  # aliases are accepted
    assert zoo.list_weights("rnn-frame-single").empty


def test_the_entries_come_from_the_entry_point_and_zoo_never_imports_pretrained():
    # A fresh process: listing the weights loads pretrained.musicnn through the entry point
    # (setup.py), not because any zoo module imports it; and needs no TensorFlow.
    code = ("import sys, zoo; assert 'pretrained' not in sys.modules; zoo.list_weights(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pretrained', 'tensorflow')))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == str(["pretrained", "pretrained.musicnn", "pretrained.source", "pretrained.tags"])
    points = [p for p in weights._entry_points() if p.value == "pretrained.musicnn:weights_entries"]
    assert len(points) == 1


def test_each_entry_knows_how_to_prepare_itself():
    entry = weights.resolve_weights("dense-small-rectangular", "msd")
    assert entry.prepare.func.__module__ == "pretrained.musicnn" and entry.overrides["pools"]
    assert entry.num_classes == 50


def test_a_name_taken_by_other_weights_is_refused(monkeypatch):
    monkeypatch.setattr(weights, "_REGISTRY", {})
    first = WeightsEntry("maxpool-vertical", "mine", ("a", "b"), lambda m: m, source="one.weights.h5")
    weights.register_weights(first)
    weights.register_weights(first)  # the same entry again: harmless
    with pytest.raises(WeightsRegistryError, match="registered twice.*one.weights.h5.*two.weights.h5"):
        weights.register_weights(WeightsEntry("maxpool-vertical", "mine", ("a",), lambda m: m,
                                              source="two.weights.h5"))


def test_a_broken_provider_is_named(monkeypatch):
    class Broken:
        name, value = "broken", "somewhere:entries"

        def load(self):
            raise ImportError("No module named 'somewhere'")

    monkeypatch.setattr(weights, "_REGISTRY", {})
    monkeypatch.setattr(weights, "_PROVIDERS_READ", False)
    monkeypatch.setattr(weights, "_entry_points", lambda: [Broken()])
    with pytest.raises(WeightsRegistryError, match="provider 'broken' .somewhere:entries. failed: ImportError"):
        weights.available()


def test_unknown_weights_name_close_matches_and_a_missing_registration(monkeypatch):
    with pytest.raises(weights.UnknownWeightsError, match="did you mean mtt\\? available: msd, mtt"):
        weights.resolve_weights("musicnn-vertical-horizontal", "mttt")
    monkeypatch.setattr(weights, "_REGISTRY", {})
    monkeypatch.setattr(weights, "_PROVIDERS_READ", False)
    monkeypatch.setattr(weights, "_entry_points", lambda: [])
    with pytest.raises(weights.UnknownWeightsError, match="no weights are registered at all.*pip install -e"):
        weights.resolve_weights("musicnn-vertical-horizontal", "mtt")


def test_the_names_of_earlier_releases_still_work():
    assert pretrained.PretrainedWeights is WeightsEntry
    assert pretrained.resolve_weights is weights.resolve_weights
    assert pretrained.available("dense-small-rectangular") == ["msd", "mtt"]
