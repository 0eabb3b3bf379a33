"""Distillation (pretrained.distillation, ``python -m pretrained distil``): the Debian corpus on a fake
package tree, its split by package, one-line errors, the teacher cache, the soft-target dataset and a
tiny student run killed and resumed."""
import json
import os
import re
import signal
import subprocess
import sys
import time
import zipfile

import h5py
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from pretrained.__main__ import main as pretrained_main
from pretrained.distillation.archives import extracted_member
from pretrained.distillation.corpus import CorpusError, build_corpus, corpus_table
from pretrained.distillation.packages import MissingPackageError, installed_package
from pretrained.distillation.teacher import teacher_targets, write_soft_targets
from pretrained.tags import MTT_TAGS
from zoo.datasets.soft_targets import SoftTargetsError, load_soft_targets, read_targets, save_targets

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RATE = 22050
DEP5 = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
GPL_TEXT = ("This program is free software; you can redistribute it and/or modify it under the terms of the GNU "
            "General Public License as published by the Free Software Foundation; either version 2 of the "
            "License, or (at your option) any later version.\n")
PACKAGES = ["fake-a-music", "fake-b-music", "fake-c-music"]
HELD_OUT = "fake-c-music"


@pytest.fixture(autouse=True)
def _weights_registry_restored():
    """The distillation registers ``mtt-frontend`` weights for its process: later tests see the registry as it was."""
    import zoo.weights

    zoo.weights.available()
    saved = {model: dict(entries) for model, entries in zoo.weights._REGISTRY.items()}
    yield
    zoo.weights._REGISTRY.clear()
    zoo.weights._REGISTRY.update(saved)


def _music(seconds, pitch, seed):
    """Tones over noise: a different sound (and different bytes) per pitch."""
    t = np.arange(int(seconds * RATE)) / RATE
    tone = 0.3 * np.sin(2 * np.pi * pitch * t) * (1 + np.sin(2 * np.pi * 2 * t)) / 2
    return (tone + 0.05 * np.random.default_rng(seed).standard_normal(len(t))).astype(np.float32)


def _package(root, name, version, files, copyright):
    """Installs ``files`` ({installed path: bytes}) as dpkg would record them under ``root``."""
    for path, data in files.items():
        os.makedirs(os.path.dirname(root / path.lstrip("/")), exist_ok=True)
        (root / path.lstrip("/")).write_bytes(data)
    doc = f"/usr/share/doc/{name}/copyright"
    os.makedirs(root / doc.lstrip("/").rsplit("/", 1)[0], exist_ok=True)
    (root / doc.lstrip("/")).write_text(copyright)
    info = root / "var/lib/dpkg/info"
    os.makedirs(info, exist_ok=True)
    (info / f"{name}.list").write_text("\n".join(["/.", "/usr", *files, doc]) + "\n")
    with open(root / "var/lib/dpkg/status", "a") as status:
        status.write(f"Package: {name}\nStatus: install ok installed\nArchitecture: all\nVersion: {version}\n\n")


def _encoded(audio, format):
    path = f"/tmp/distillation-test-{os.getpid()}.{format.lower()}"
    sf.write(path, audio, RATE, format=format)
    data = open(path, "rb").read()
    os.remove(path)
    return data


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """Three fake music packages: loose files with a duplicate and a short sound, a zip archive, a
    held-out one; plus a package that was removed (config files left)."""
    root = tmp_path_factory.mktemp("root")
    one = _encoded(_music(13, 220, 1), "OGG")
    _package(root, "fake-a-music", "1.0-1", {
        "/usr/share/games/a/music/one.ogg": one,
        "/usr/share/games/a/music/de/one.ogg": one,  # the same bytes in a language folder
        "/usr/share/games/a/music/two.wav": _encoded(_music(11, 330, 2), "WAV"),
        "/usr/share/games/a/music/three.flac": _encoded(_music(12, 440, 3), "FLAC"),
        "/usr/share/games/a/sounds/click.ogg": _encoded(_music(1, 880, 4), "OGG"),  # a sound effect
    }, DEP5 + "Files: *\nCopyright: someone\nLicense: GPL-2+\n\nFiles: music/two.wav\nCopyright: other\n"
              "License: CC-BY-SA-3.0\n")
    archive = root / "archive.pk3"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("music/x.ogg", _encoded(_music(12, 550, 5), "OGG"))
        handle.writestr("music/y.flac", _encoded(_music(14, 660, 6), "FLAC"), compress_type=zipfile.ZIP_DEFLATED)
        handle.writestr("maps/readme.txt", "not music")
    _package(root, "fake-b-music", "2.0-3", {"/usr/share/games/b/data/music.pk3": archive.read_bytes()},
             "Fake B is (c) someone.\n\n" + GPL_TEXT)
    _package(root, "fake-c-music", "0.5-2", {
        "/usr/share/c/music/held.ogg": _encoded(_music(12, 770, 7), "OGG"),
        "/usr/share/c/music/out.flac": _encoded(_music(10.5, 990, 8), "FLAC"),
    }, DEP5 + "Files: *\nCopyright: someone\nLicense: CC0-1.0\n")
    with open(root / "var/lib/dpkg/status", "a") as status:
        status.write("Package: fake-gone-music\nStatus: deinstall ok config-files\nVersion: 1\n\n")
    return root


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def corpus(tree, cache):
    return build_corpus(PACKAGES, [HELD_OUT], root=tree, archive_root=cache / "archives")


# --- the corpus ------------------------------------------------------------------------------------

def test_manifest_lists_music_once_with_version_licence_and_length(corpus, tree):
    rows = corpus.set_index("track")
    assert sorted(rows.index) == ["fake-a-music/one.ogg", "fake-a-music/three.flac", "fake-a-music/two.wav",
                                  "fake-b-music/music/x.ogg", "fake-b-music/music/y.flac", "fake-c-music/held.ogg",
                                  "fake-c-music/out.flac"]  # no duplicate, no 1 s sound, no readme
    assert rows.loc["fake-a-music/one.ogg", "source"] == "/usr/share/games/a/music/de/one.ogg"  # first by path
    assert rows.loc["fake-b-music/music/y.flac", "source"] == "/usr/share/games/b/data/music.pk3#music/y.flac"
    assert dict(zip(corpus.package, corpus.version)) == {"fake-a-music": "1.0-1", "fake-b-music": "2.0-3",
                                                          "fake-c-music": "0.5-2"}
    assert rows.loc["fake-a-music/two.wav", "licence"] == "CC-BY-SA-3.0"  # its own DEP-5 stanza
    assert rows.loc["fake-a-music/three.flac", "licence"] == "GPL-2+"  # Files: *
    assert set(rows.loc[rows.package == "fake-b-music", "licence"]) == {"GPL-2+"}  # a free-text copyright
    assert abs(rows.loc["fake-b-music/music/y.flac", "seconds"] - 14) < 0.01
    member = rows.loc["fake-b-music/music/y.flac", "audio"]
    assert member.startswith(str(tree.parent)) and sf.info(member).duration == pytest.approx(14, abs=0.01)
    table = corpus_table(corpus).set_index("package")
    assert table.loc["fake-a-music", "licence"] == "GPL-2+ (2), CC-BY-SA-3.0 (1)"
    assert table.loc["all", "tracks"] == 7


def test_archive_members_are_extracted_once_and_healed(corpus, tree, cache):
    member = corpus.set_index("track").loc["fake-b-music/music/x.ogg", "audio"]
    archive = tree / "usr/share/games/b/data/music.pk3"
    stamp = os.stat(member).st_mtime_ns
    assert extracted_member(archive, "music/x.ogg", cache / "archives") == member
    assert os.stat(member).st_mtime_ns == stamp  # not extracted again
    with open(member, "r+b") as handle:
        handle.truncate(100)
    assert extracted_member(archive, "music/x.ogg", cache / "archives") == member
    assert sf.info(member).duration == pytest.approx(12, abs=0.01)


def test_split_is_by_package(corpus, tree, cache):
    by_package = corpus.groupby("package")["split"].apply(set).to_dict()
    assert by_package[HELD_OUT] == {"test"}  # never trained on
    assert "test" not in by_package["fake-a-music"] | by_package["fake-b-music"]
    for name in ("fake-a-music", "fake-b-music"):
        assert "valid" in by_package[name] and "train" in by_package[name]
    again = build_corpus(PACKAGES, [HELD_OUT], root=tree, archive_root=cache / "archives")
    assert again["split"].tolist() == corpus["split"].tolist()  # seeded
    other = build_corpus(PACKAGES, ["fake-a-music"], root=tree, archive_root=cache / "archives")
    assert set(other.loc[other.package == "fake-a-music", "split"]) == {"test"}
    assert set(other.loc[other.package == HELD_OUT, "split"]) == {"train", "valid"}


@pytest.mark.parametrize("packages, held_out, expected", [
    (["fake-a-music", "fake-gone-music"], ["fake-a-music"],
     r"^package fake-gone-music is not installed \(under .*\): sudo apt-get install fake-gone-music$"),
    (["fake-a-music", "wesnoth-music"], ["fake-a-music"], r"^wesnoth-music: left out of the corpus on purpose"),
    (["fake-a-music", "fake-b-music"], ["fake-c-music"], r"^held-out package\(s\) fake-c-music are not among"),
    (["fake-a-music"], ["fake-a-music"], r"^every package is held out: nothing is left to train on$"),
])
def test_corpus_errors_are_one_line(tree, capsys, packages, held_out, expected):
    status = pretrained_main(["corpus", "--root", str(tree), "--packages", *packages, "--held-out", *held_out])
    error = capsys.readouterr().err.strip()
    assert status == 1 and len(error.splitlines()) == 1, error
    assert re.search(expected, error.removeprefix("python -m pretrained: error: ")), error


def test_missing_package_names_apt_get_install(tree):
    with pytest.raises(MissingPackageError, match="sudo apt-get install fake-gone-music"):
        installed_package("fake-gone-music", tree)
    assert installed_package("fake-a-music", tree).version == "1.0-1"
    with pytest.raises(CorpusError, match="no track of 10 s or more"):
        short = tree.parent / "short-root"
        _package(short, "fake-short-music", "1", {"/usr/share/s/a.ogg": _encoded(_music(2, 440, 9), "OGG")},
                 DEP5 + "Files: *\nLicense: MIT\n")
        _package(short, "fake-long-music", "1", {"/usr/share/l/a.ogg": _encoded(_music(11, 440, 9), "OGG")},
                 DEP5 + "Files: *\nLicense: MIT\n")
        build_corpus(["fake-short-music", "fake-long-music"], ["fake-long-music"], root=short)


# --- the teacher cache and the soft-target dataset -------------------------------------------------

@pytest.fixture(scope="module")
def targets(corpus, cache):
    return teacher_targets(corpus, cache_root=cache)


def test_teacher_targets_per_patch(corpus, targets):
    assert len(targets) == len(corpus)
    arrays = read_targets(targets[0])
    assert list(arrays["tags"]) == list(MTT_TAGS)
    assert int(arrays["patch_samples"]) == 187 * 256 and int(arrays["sample_rate"]) == 16000
    count = int(corpus["seconds"].iloc[0] * 16000 - 47616) // 47872 + 1  # musicnn's patches, no overlap
    assert arrays["scores"].shape == (count, 50) and arrays["penultimate"].shape == (count, 200)
    assert arrays["starts"].tolist() == [i * 47872 for i in range(count)]
    from zoo import taggram
    from zoo.datasets.decoded_audio import decoded_file

    wav, _ = decoded_file(corpus["audio"].iloc[0])  # the audio the students read
    expected = taggram(wav, "musicnn", weights="mtt", runtime="onnx").to_numpy()
    np.testing.assert_allclose(arrays["scores"], expected, atol=1e-6)  # the zoo's tagging path


def test_teacher_cache_resumes_and_heals(corpus, targets, cache, monkeypatch, capsys):
    import pretrained.distillation.teacher as teacher

    stamps = [os.stat(path).st_mtime_ns for path in targets]
    os.remove(targets[2])
    with open(targets[4], "r+b") as handle:
        handle.truncate(64)
    calls = []
    real = teacher.decoded_file

    def interrupted(path, rate):  # a kill after the first track is computed again
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(path, rate)

    monkeypatch.setattr(teacher, "decoded_file", interrupted)
    with pytest.raises(KeyboardInterrupt):
        teacher_targets(corpus, cache_root=cache)
    assert calls == [corpus["audio"][2], corpus["audio"][4]]
    assert os.path.isfile(targets[2]) and not os.path.isfile(targets[4])
    monkeypatch.setattr(teacher, "decoded_file", real)
    capsys.readouterr()
    again = teacher_targets(corpus, cache_root=cache)
    assert again == targets
    assert [os.stat(p).st_mtime_ns == s for p, s in zip(again, stamps)] == [i not in (2, 4) for i in range(7)]
    progress = capsys.readouterr().out.strip().splitlines()
    assert re.match(r"teacher musicnn:mtt: 7/7 tracks, 0\.02 of 0\.02 h, .*, done$", progress[-1]), progress


def test_soft_targets_dataset_reads_each_patch_with_its_targets(corpus, targets, tmp_path):
    csv = tmp_path / "soft.csv"
    write_soft_targets(corpus, targets, csv)
    data = load_soft_targets(csv)
    assert data.tags == tuple(MTT_TAGS) and data.soft_top_k == 5
    assert len(data.annotations) == sum(len(read_targets(t)["scores"]) for t in targets)
    assert set(data.split("test")["source"]) == set(corpus.loc[corpus.split == "test", "audio"])
    from zoo.datasets.input_pipelines import numpy_batches

    rows = data.split("valid")
    (waveform, label), = list(numpy_batches(data, "valid", len(rows), clip_samples=48000, shuffle=False))
    whole = sf.read(data.audio_path(rows.iloc[-1]), dtype="float32")[0]
    patch = whole[int(rows["start"].iloc[-1]):][:47872]
    np.testing.assert_array_equal(waveform[-1][:len(patch)], patch)
    assert not waveform[-1][len(patch):].any()  # past the teacher's patch: silence, as in evaluation
    np.testing.assert_array_equal(label, rows[list(MTT_TAGS)].to_numpy(np.float32))
    # The NumPy pipeline (no TensorFlow) reads the same segments, whole and cropped.
    for options in ({"clip_samples": 48000}, {"clip_samples": None}):
        ours = list(numpy_batches(data, "valid", len(rows), shuffle=False, pipeline="numpy", **options))
        theirs = list(numpy_batches(data, "valid", len(rows), shuffle=False, pipeline="tf.data", **options))
        np.testing.assert_array_equal(ours[0][0], theirs[0][0])


def test_soft_targets_errors_are_one_line(corpus, targets, tmp_path):
    csv = tmp_path / "soft.csv"
    write_soft_targets(corpus, targets, csv)
    frame = pd.read_csv(csv)
    frame.drop(columns=["targets"]).to_csv(tmp_path / "no-targets.csv", index=False)
    with pytest.raises(SoftTargetsError, match=r"missing column\(s\) targets"):
        load_soft_targets(tmp_path / "no-targets.csv")
    odd = tmp_path / "odd.npz"
    arrays = read_targets(targets[1])
    save_targets(odd, scores=arrays["scores"], starts=arrays["starts"], patch_samples=47872, sample_rate=16000,
                 tags=list(MTT_TAGS)[::-1])
    frame.assign(targets=[str(odd) if i == 1 else t for i, t in enumerate(frame.targets)]).to_csv(
        tmp_path / "odd.csv", index=False)
    with pytest.raises(SoftTargetsError, match=r"1 row with other tag names than line 2's \(line 3\)"):
        load_soft_targets(tmp_path / "odd.csv")


# --- the distil command ----------------------------------------------------------------------------

def _distil(tree, cache, out, *extra):
    return [sys.executable, "-m", "pretrained", "distil", "--out", str(out), "--root", str(tree), "--packages",
            *PACKAGES, "--held-out", HELD_OUT, "--cache-dir", str(cache), *extra]


def test_distil_resumes_after_kill_and_writes_the_agreement(tree, cache, targets, tmp_path):
    out = tmp_path / "student"
    command = _distil(tree, cache, out, "--student", "maxpool-frame-single", "--epochs", "4", "--batch-size", "4")
    first = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    history = out / "history.csv"
    deadline = time.time() + 120
    while time.time() < deadline and first.poll() is None:
        if history.exists() and len(pd.read_csv(history)) >= 1:
            break
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert first.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    second = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-3000:]
    assert re.search(r"resuming after epoch [1-3]", second.stdout), second.stdout
    assert re.search(r"epoch 4/4: .*val_roc_auc", second.stdout)
    assert "teacher musicnn:mtt: 7/7 tracks" in second.stdout  # from the cache
    assert list(pd.read_csv(history).epoch) == [1, 2, 3, 4]
    assert {"val_top5_overlap", "val_micro_roc_auc_top5"} <= set(pd.read_csv(history).columns)
    metrics = json.loads((out / "metrics.json").read_text())
    summary = json.loads((out / "distillation.json").read_text())
    for name in ("top5_overlap", "micro_roc_auc_top5"):
        assert 0 <= metrics[name] <= 1 and summary[name] == metrics[name]
    held_out = sum(len(read_targets(t)["scores"]) for t, s in zip(targets, pd.read_csv(out / "corpus.csv").split)
                   if s == "test")
    assert summary["held_out_patches"] == metrics["clips"] == held_out
    assert summary["held_out"] == [HELD_OUT] and summary["frontend"] == "random"
    assert re.search(r"agreement with musicnn:mtt on fake-c-music \(\d+ patches of 3 s\): top-5 overlap",
                     second.stdout)
    import zoo

    assert zoo.tag_names(zoo.load(str(out))) == list(MTT_TAGS)
    _published_student_loads_as_trained(out, tmp_path / "shipped", summary)


def _published_student_loads_as_trained(run, folder, summary):
    import zoo
    from pretrained.distillation.model_cards import page
    from pretrained.distillation.publish import check_signal, publish
    from pretrained.mtt_distilled import read_cards, weights_entries, weights_path

    card = publish(run, folder=folder, log=lambda line: None)
    assert read_cards(folder / "cards.json") == {"maxpool-frame-single": card}
    assert card["agreement"]["top5_overlap"] == round(summary["top5_overlap"], 4)
    assert card["frontend"] == "random start, trained" and card["recipe"]["epochs"] == 4
    assert card["float16_max_abs_diff"] <= 1e-3
    assert card["bytes"] == os.path.getsize(weights_path(card["model"], folder))
    with h5py.File(weights_path(card["model"], folder)) as handle:
        kinds = set()
        handle.visititems(lambda name, item: kinds.add((item.ndim >= 2, str(item.dtype)))
                          if isinstance(item, h5py.Dataset) else None)
    assert kinds == {(True, "float16"), (False, "float32")}
    (entry,) = weights_entries(folder)
    model = zoo.load("maxpool-frame-single")
    entry.load_into(model)
    trained = zoo.load(str(run)).predict(check_signal()[None], verbose=0)[0]
    np.testing.assert_allclose(model.predict(check_signal()[None], verbose=0)[0], trained, atol=1e-3)
    np.testing.assert_allclose(card["check_scores"], trained, atol=1e-3)
    assert "`maxpool-frame-single`" in page(read_cards(folder / "cards.json"))
    _evaluations_reach_the_page(read_cards(folder / "cards.json"), folder)


def _evaluations_reach_the_page(cards, folder):
    from pretrained.distillation.model_cards import add_evaluations, page

    name = "maxpool-frame-single:mtt-distilled"
    columns = ["model", "kind", "beside", "task", "metric", "score", "classifier"]
    pd.DataFrame([(name, "pretrained", name, "tempo", "top1_acc", 0.5, "mlp"),
                  (name, "pretrained", name, "tempo", "x", 9, "mlp"),
                  ("twin", "random twin", name, "tempo", "top1_acc", 0.4, "mlp"),
                  ("o", "pretrained", "o", "tempo", "top1_acc", 1, "mlp")],
                 columns=columns).to_csv(folder / "scores.csv")
    pd.DataFrame([{"model": "maxpool-frame-single", "seeds": 3, "roc_auc_scratch": 0.7, "roc_auc_pretrained": 0.75,
                   "roc_auc_gain": 0.05, "roc_auc_gain_ci95": 0.01, "verdict": "helps"}]).to_csv(folder / "gain.csv")
    card = add_evaluations(cards, folder / "scores.csv", folder / "gain.csv")["maxpool-frame-single"]
    assert card["probe"] == {"tempo (top1_acc)": [0.5, 0.4]} and card["probe_classifier"] == "mlp"
    assert card["fine_tuning"]["verdict"] == "helps" and card["fine_tuning"]["seeds"] == 3
    pd.DataFrame([{"model": "other", "seeds": 1, "roc_auc_scratch": 0.7, "roc_auc_pretrained": 0.7,
                   "roc_auc_gain": 0.0, "roc_auc_gain_ci95": None, "verdict": "one seed: no interval"}]).to_csv(
        folder / "newer.csv")
    assert "fine_tuning" not in add_evaluations({"maxpool-frame-single": card}, None,
                                                folder / "newer.csv")["maxpool-frame-single"]
    text = page({"maxpool-frame-single": card})
    assert "| `maxpool-frame-single` | 0.500 / 0.400 (+0.100) |" in text
    assert "| `maxpool-frame-single` | 3 | 0.700 | 0.750 | +0.050 ± 0.010 | helps |" in text
    # a later file (the student probed with another classifier) replaces the earlier one's scores
    pd.DataFrame([(name, "pretrained", name, "tempo", "top1_acc", 0.6, "logistic"),
                  ("twin", "random twin", name, "tempo", "top1_acc", 0.3, "logistic")],
                 columns=columns).to_csv(folder / "logistic.csv")
    card = add_evaluations(cards, [folder / "scores.csv", folder / "logistic.csv"])["maxpool-frame-single"]
    assert card["probe"] == {"tempo (top1_acc)": [0.6, 0.3]}
    assert "| `maxpool-frame-single` (logistic classifier) | 0.600 / 0.300 (+0.300) |" in page(
        {"maxpool-frame-single": card})

def test_distil_option_errors_are_one_line(tree, cache, tmp_path, capsys):
    for extra, expected in [
        (["--student", "maxpool-frame-single", "--freeze", "frontend"], "--freeze frontend holds the front-end still"),
        (["--student", "maxpool-frame-single", "--frontend", "teacher"], "fits the 'vertical-horizontal' students"),
        (["--student", "no-such-model"], "no-such-model"),
    ]:
        status = pretrained_main(_distil(tree, cache, tmp_path / "x", *extra)[3:])
        error = capsys.readouterr().err.strip()
        assert status == 1 and len(error.splitlines()) == 1 and expected in error, error
    assert not (tmp_path / "x").exists()


def test_back_end_students_start_from_the_mtt_front_end():
    import zoo
    from pretrained.distillation.frontend import register_frontend_weights

    name = register_frontend_weights("maxpool-vertical-horizontal")
    assert register_frontend_weights("maxpool-vertical-horizontal") == name  # registering again is harmless
    student = zoo.load("maxpool-vertical-horizontal", weights=name)
    teacher = zoo.load("musicnn", weights="mtt")
    front = [layer for layer in student.layers if layer.name.startswith("frontend_") and layer.weights]
    assert len(front) == 11
    for layer in front:
        for ours, theirs in zip(layer.get_weights(), teacher.get_layer(layer.name).get_weights()):
            np.testing.assert_array_equal(ours, theirs)
    assert zoo.tag_names(student) == list(MTT_TAGS)
