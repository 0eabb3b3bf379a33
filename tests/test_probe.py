"""python -m benchmarks.probe: scene embeddings of zoo models probed on HEAR-layout tasks built here,
each model beside its random twin; cached embeddings, resumable runs, one-line errors."""
import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

import zoo
from benchmarks.probe import embeddings as probe_embeddings
from benchmarks.probe.__main__ import main as probe
from benchmarks.probe.classifiers import score
from zoo.hear.embedder import Embedder

SR = 16000


def _sound(kind, rng, seconds=1.5):
    t = np.arange(int(seconds * SR)) / SR
    if kind == "tone":
        return 0.4 * np.sin(2 * np.pi * rng.uniform(200, 800) * t)
    if kind == "chirp":
        return 0.4 * np.sin(2 * np.pi * (300 + 1500 * t / seconds) * t)
    return 0.3 * rng.standard_normal(len(t))


def _task(root, name, splits, prediction="multiclass", split_mode="trainvaltest", embedding_type="scene"):
    """A HEAR task folder: splits is {split: {file: labels}}; a file's first label names its sound."""
    folder = root / name
    rng = np.random.default_rng(len(name))
    labels = sorted({label for entries in splits.values() for found in entries.values() for label in found})
    metadata = {"task_name": name, "version": "1", "embedding_type": embedding_type, "prediction_type": prediction,
                "split_mode": split_mode, "sample_duration": 1.5,
                "evaluation": ["top1_acc"] if prediction == "multiclass" else ["mAP", "d_prime", "aucroc"]}
    if split_mode != "trainvaltest":
        metadata["nfolds"] = len(splits)
    for split, entries in splits.items():
        (folder / "16000" / split).mkdir(parents=True)
        for file, found in entries.items():
            sf.write(folder / "16000" / split / file, _sound(found[0], rng), SR)
        (folder / f"{split}.json").write_text(json.dumps(entries))
    (folder / "task_metadata.json").write_text(json.dumps(metadata))
    (folder / "labelvocabulary.csv").write_text("idx,label\n" + "".join(f"{i},{x}\n" for i, x in enumerate(labels)))
    return folder


@pytest.fixture(scope="module")
def tasks(tmp_path_factory):
    root = tmp_path_factory.mktemp("tasks")
    kinds = ("tone", "chirp", "noise")
    _task(root, "sounds", {f"fold{f:02d}": {f"{f}-{i}.wav": [kinds[i % 3]] for i in range(6)} for f in range(3)},
          split_mode="new_split_kfold")
    _task(root, "layers", {split: {f"{split}-{i}.wav": [kinds[i % 3]] + (["noise"] if i % 2 else [])
                                   for i in range(count)}
                           for split, count in (("train", 12), ("valid", 6), ("test", 6))}, prediction="multilabel")
    return root


@pytest.fixture(scope="module")
def own_model(tmp_path_factory):
    import keras

    keras.utils.set_random_seed(3)
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    zoo.load("maxpool-vertical", input_seconds=None, num_classes=2, tag_names=["a", "b"]).save(path)
    return path


def test_probe_writes_scores_and_a_table_with_random_twins(tasks, own_model, tmp_path, capsys):
    out = tmp_path / "out"
    assert probe([f"--tasks={tasks}", f"--models=vgg:mtt,{own_model}", f"--out={out}", "--seeds=2", "--quiet"]) == 0
    scores = pd.read_csv(out / "scores.csv")
    assert {"model", "task", "metric", "score"} <= set(scores.columns)
    assert set(scores["model"]) == {"vgg:mtt", "vgg:mtt (random twin)", "tiny.keras", "tiny.keras (random twin)"}
    assert set(scores["task"]) == {"sounds", "layers"}
    assert set(scores[scores["task"] == "layers"]["metric"]) == {"mAP", "d_prime", "aucroc"}
    assert (scores["runs"][scores["task"] == "sounds"] == 3 * 2).all()  # 3 folds x 2 seeds
    assert scores["score"].between(0, 1).all() or (scores["metric"] == "d_prime").any()
    sounds = scores[(scores["task"] == "sounds") & (scores["kind"] == "pretrained")]
    assert sounds["score"].min() > 0.6  # tones, chirps and noise: any model's features tell them apart
    table = (out / "results.md").read_text()
    assert "| vgg:mtt (random twin) | random twin |" in table and "Pretrained minus its random twin" in table
    assert "results.md" not in capsys.readouterr().err


def test_a_rerun_costs_no_forward_pass_and_an_interrupted_one_resumes(tasks, own_model, tmp_path, monkeypatch):
    out, calls, interrupt = tmp_path / "out", [], [7]
    original = Embedder.scene_embedding

    def counted(self, audio, sample_rate=None):
        calls.append(audio)
        if len(calls) == interrupt[0]:
            interrupt[0] = None
            raise KeyboardInterrupt  # Ctrl-C in the middle of the second part of 4 clips
        return original(self, audio, sample_rate)

    monkeypatch.setattr(Embedder, "scene_embedding", counted)
    monkeypatch.setattr(probe_embeddings, "PART_SIZE", 4)
    arguments = [f"--tasks={tasks / 'sounds'}", f"--models={own_model}", "--no-twins", f"--out={out}", "--seeds=1",
                 "--classifier=logistic", "--quiet"]
    assert probe(arguments) == 130
    assert len(list((out / "embeddings").glob("*/part-*.npz"))) == 1  # the first part is kept
    calls.clear()
    assert probe(arguments) == 0
    assert len(calls) == 18 - 4 + 1  # the clips without a part, and the silent warm-up
    first = pd.read_csv(out / "scores.csv")
    calls.clear()
    assert probe(arguments) == 0 and not calls
    pd.testing.assert_frame_equal(pd.read_csv(out / "scores.csv"), first)
    calls.clear()
    assert probe([*arguments[:-2], "--classifier=mlp", "--quiet"]) == 0 and not calls  # a second classifier


@pytest.mark.parametrize("arguments, message", [
    (["--models=musicnn-vertical-horizonal:mtt"], "Did you mean: musicnn-vertical-horizontal"),
    (["--models=vgg:nope"], "No pretrained weights 'nope'"),
    (["--models=vgg:mtt", "--embedding=cnn1"], "unknown embedding(s) cnn1"),
])
def test_bad_models_are_one_line_errors(tasks, tmp_path, capsys, arguments, message):
    assert probe([f"--tasks={tasks}", f"--out={tmp_path}", "--quiet", *arguments]) == 1
    error = capsys.readouterr().err.strip()
    assert message in error and "\n" not in error


def test_event_tasks_are_refused_by_name(tmp_path, capsys):
    _task(tmp_path, "onsets", {"train": {"a.wav": ["tone"]}, "valid": {"b.wav": ["tone"]}, "test": {"c.wav": ["tone"]}},
          embedding_type="event")
    assert probe([f"--tasks={tmp_path}", f"--out={tmp_path / 'out'}", "--quiet"]) == 1
    error = capsys.readouterr().err
    assert "skipped task onsets: an event task" in error and "no scene task" in error


def test_metrics_on_known_scores():
    truth = np.array([0, 1, 2, 1])
    scores = np.eye(3)[[0, 1, 1, 1]]
    assert score("top1_acc", truth, scores) == 0.75
    indicator = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    perfect = indicator * 0.9 + 0.05
    assert score("mAP", indicator, perfect) == 1.0 and score("aucroc", indicator, perfect) == 1.0
    assert score("d_prime", indicator, perfect) > 4
    assert score("aucroc", indicator, 1 - perfect) == 0.0


@pytest.mark.parametrize("prediction", ["multiclass", "multilabel"])
def test_logistic_in_the_training_span_is_the_same_classifier(prediction, monkeypatch):
    from benchmarks.probe import classifiers

    rng = np.random.default_rng(0)
    x = rng.normal(size=(70, 400)).astype(np.float32)  # more dimensions than training clips
    y = rng.integers(0, 3, 70) if prediction == "multiclass" else rng.integers(0, 2, (70, 3))
    options = dict(prediction=prediction, metric="top1_acc" if prediction == "multiclass" else "mAP", seed=0,
                   classes=3)
    fit = classifiers.CLASSIFIERS["logistic"]
    spanned = fit(x[:40], y[:40], x[40:55], y[40:55], x[55:], **options)
    monkeypatch.setattr(classifiers, "_training_span", lambda *sets: sets)
    full = fit(x[:40], y[:40], x[40:55], y[40:55], x[55:], **options)
    np.testing.assert_allclose(spanned, full, atol=1e-3)
    assert spanned.shape == (15, 3)
