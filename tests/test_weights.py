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
    musicnn = table[table.weights != "mtt-distilled"]  # the distilled students: tests/test_mtt_distilled.py
    assert set(zip(musicnn.model, musicnn.weights)) == MUSICNN_WEIGHTS
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
    assert run.stdout.strip() == str(["pretrained", "pretrained.mtt_distilled", "pretrained.musicnn",
                                      "pretrained.source", "pretrained.tags"])
    for provider in ("pretrained.musicnn:weights_entries", "pretrained.mtt_distilled:weights_entries"):
        assert len([p for p in weights._entry_points() if p.value == provider]) == 1


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


def test_a_weights_file_of_ones_own_goes_where_registered_weights_go(tmp_path, monkeypatch):
    import numpy as np

    monkeypatch.setattr(weights, "_REGISTRY", {model: dict(entries) for model, entries in weights._REGISTRY.items()})
    trained = zoo.load("maxpool-vertical", input_seconds=None, num_classes=2, tag_names=["dry", "wet"])
    trained.get_layer("head_logits").set_weights([np.full((200, 2), 0.01, "float32"), np.array([1.0, -1.0], "float32")])
    path = tmp_path / "mine.weights.h5"
    trained.save_weights(path)
    zoo.register_weights_file("maxpool-vertical", "mine", path, ["dry", "wet"])
    zoo.register_weights_file("maxpool-vertical", "mine", path, ["dry", "wet"])  # again: harmless
    row = zoo.list_weights("maxpool-vertical").iloc[0]
    assert (row.weights, row.tags, row.source) == ("mine", 2, str(path))
    loaded = zoo.load("maxpool-vertical", weights="mine", input_seconds=None)
    assert zoo.tag_names(loaded) == ["dry", "wet"]
    clip = np.sin(np.arange(16000 * 7) / 20.0).astype("float32")
    tags = zoo.tag(clip, model="maxpool-vertical", weights="mine", top_k=None, runtime="onnx")
    direct = zoo.tag(clip, model="maxpool-vertical", weights="mine", top_k=None, runtime="tf")
    assert list(tags.tag) == list(direct.tag) == ["dry", "wet"]
    np.testing.assert_allclose(tags.score, direct.score, atol=1e-5)
    with pytest.raises(WeightsRegistryError, match="registered twice"):
        zoo.register_weights_file("maxpool-vertical", "mine", path, ["dry", "wet", "hot"])
    with pytest.raises(weights.UnknownWeightsError, match="no such weights file"):
        zoo.register_weights_file("maxpool-vertical", "other", tmp_path / "missing.weights.h5", ["a"])
