"""The probe's task reader (HEAR 2021 layout) and its default task set, rendered small."""
import json
import os
import shutil

import numpy as np
import pytest
import soundfile as sf

from benchmarks.probe import default_tasks
from benchmarks.probe.default_tasks import DEFAULT_TASK_NAMES, DefaultTasksError, make_default_tasks
from benchmarks.probe.tasks import Example, Task, TaskError, find_tasks, read_task
from zoo.datasets.fluidsynth import SoundfontNotFoundError, find_soundfont

# --- small HEAR task folders -----------------------------------------------------------------------------


def _metadata(**changes):
    metadata = {"task_name": "pets", "version": "v1", "embedding_type": "scene", "prediction_type": "multiclass",
                "split_mode": "trainvaltest", "sample_duration": 1.0, "evaluation": ["top1_acc"]}
    metadata.update(changes)
    return {key: value for key, value in metadata.items() if value is not None}


def _write_task(directory, metadata=None, vocabulary=("dog", "cat", "bird"), splits=None, rates=(16000,),
                audio=True):
    """A HEAR task folder: ``splits`` is {split: {file name: labels}}; every file gets a short wav."""
    metadata = _metadata() if metadata is None else metadata
    if splits is None:
        splits = {"train": {"a.wav": ["dog"], "b.wav": ["cat"]}, "valid": {"c.wav": ["bird"]},
                  "test": {"d.wav": ["dog"], "e.wav": ["cat"]}}
    directory.mkdir(parents=True)
    (directory / "task_metadata.json").write_text(json.dumps(metadata))
    (directory / "labelvocabulary.csv").write_text("idx,label\n" + "".join(
        f"{i},{label}\n" for i, label in enumerate(vocabulary)))
    for split, entries in splits.items():
        (directory / f"{split}.json").write_text(json.dumps(entries))
        for rate in rates:
            (directory / str(rate) / split).mkdir(parents=True, exist_ok=True)
            for name in entries if audio else ():
                sf.write(directory / str(rate) / split / name, np.zeros(rate // 10, np.float32), rate)
    return directory


def _folds(count, per_fold=2, labels=("dog", "cat")):
    return {f"fold{fold:02d}": {f"f{fold}-{i}.wav": [labels[i % len(labels)]] for i in range(per_fold)}
            for fold in range(count)}


def _kfold_metadata(nfolds=4, **changes):
    return _metadata(**{"split_mode": "new_split_kfold", "nfolds": nfolds, **changes})


def _one_line_error(call, *fragments):
    with pytest.raises(TaskError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message and message, message
    for fragment in fragments:
        assert str(fragment) in message, message
    return message


def test_trainvaltest_task(tmp_path):
    task = read_task(_write_task(tmp_path / "pets"))
    assert isinstance(task, Task)
    assert (task.name, task.embedding_type, task.prediction_type, task.split_mode) == (
        "pets", "scene", "multiclass", "trainvaltest")
    assert (task.sample_duration, task.evaluation, task.nfolds, task.version) == (1.0, ("top1_acc",), None, "v1")
    assert task.vocabulary == ("dog", "cat", "bird") and task.sample_rate == 16000
    assert task.directory == tmp_path / "pets"
    assert task.splits() == ["train", "valid", "test"]
    assert task.rounds() == [(("train",), "valid", "test")]
    assert task.examples("train") == [
        Example("a.wav", tmp_path / "pets" / "16000" / "train" / "a.wav", ("dog",)),
        Example("b.wav", tmp_path / "pets" / "16000" / "train" / "b.wav", ("cat",)),
    ]
    _one_line_error(lambda: task.examples("fold00"), "fold00", "train, valid, test")


def test_multilabel_task_and_vocabulary_order(tmp_path):
    splits = {"train": {"a.wav": ["cat", "dog"], "b.wav": []}, "valid": {"c.wav": [1]}, "test": {"d.wav": ["0"]}}
    directory = _write_task(tmp_path / "t", _metadata(prediction_type="multilabel", sample_duration=None),
                            splits=splits, vocabulary=("dog", "cat", "1", "0"))
    (directory / "labelvocabulary.csv").write_text("idx,label\n1,cat\n0,dog\n3,0\n2,1\n")  # rows in any order
    task = read_task(directory)
    assert task.vocabulary == ("dog", "cat", "1", "0") and task.sample_duration is None
    assert [e.labels for e in task.examples("train")] == [("cat", "dog"), ()]
    assert task.examples("valid")[0].labels == ("1",)  # numbers compare as strings, as in hear-eval-kit


def test_kfold_rounds_follow_hear_eval_kit(tmp_path):
    task = read_task(_write_task(tmp_path / "k", _kfold_metadata(4), splits=_folds(4)))
    assert task.nfolds == 4 and task.splits() == ["fold00", "fold01", "fold02", "fold03"]
    assert task.rounds() == [
        (("fold02", "fold03"), "fold01", "fold00"),
        (("fold00", "fold03"), "fold02", "fold01"),
        (("fold00", "fold01"), "fold03", "fold02"),
        (("fold01", "fold02"), "fold00", "fold03"),
    ]
    assert [e.path.parent.name for e in task.examples("fold02")] == ["fold02", "fold02"]
    # Without nfolds, the fold files are counted; presplit_kfold reads the same way.
    counted = read_task(_write_task(tmp_path / "c", _kfold_metadata(None, split_mode="presplit_kfold"),
                                    splits=_folds(5)))
    assert counted.nfolds == 5 and len(counted.rounds()) == 5


@pytest.mark.parametrize("rates, expected", [((16000, 44100), 16000), ((22050,), 22050),
                                             ((8000, 22050, 48000), 22050), ((8000,), 8000)])
def test_audio_folder_prefers_16k_else_another_rate(tmp_path, rates, expected):
    task = read_task(_write_task(tmp_path / "r", rates=rates))
    assert task.sample_rate == expected
    assert task.examples("test")[0].path == tmp_path / "r" / str(expected) / "test" / "d.wav"


def test_event_task_reads_distinct_labels(tmp_path):
    events = {"a.wav": [{"label": "cat", "start": 10.0, "end": 200.0}, {"label": "dog", "start": 0, "end": 5},
                        {"label": "cat", "start": 300.0, "end": 400.0}], "b.wav": []}
    splits = {"train": events, "valid": {"c.wav": []}, "test": {"d.wav": []}}
    metadata = _metadata(embedding_type="event", prediction_type="multilabel", evaluation=["event_onset_200ms_fms"])
    task = read_task(_write_task(tmp_path / "e", metadata, splits=splits))
    assert task.embedding_type == "event"
    assert [e.labels for e in task.examples("train")] == [("dog", "cat"), ()]


def test_find_tasks(tmp_path):
    _write_task(tmp_path / "b-task", _metadata(task_name="b"))
    _write_task(tmp_path / "a-task", _kfold_metadata(3, task_name="a"), splits=_folds(3))
    (tmp_path / "not-a-task").mkdir()
    (tmp_path / "notes.txt").write_text("hello")
    assert [t.name for t in find_tasks(tmp_path)] == ["a", "b"]
    assert [t.name for t in find_tasks(tmp_path / "b-task")] == ["b"]
    _one_line_error(lambda: find_tasks(tmp_path / "not-a-task"), "not-a-task", "task_metadata.json")
    _one_line_error(lambda: find_tasks(tmp_path / "missing"), "missing", "no such folder")
    _one_line_error(lambda: read_task(tmp_path / "not-a-task"), "not-a-task", "task_metadata.json")


def _break_metadata(directory):
    (directory / "task_metadata.json").write_text(json.dumps(_metadata(split_mode=None)))


def _bad_json(directory):
    (directory / "task_metadata.json").write_text('{"task_name": "pets",')


def _bad_split_json(directory):
    (directory / "valid.json").write_text("[1, 2")


def _missing_audio(directory):
    os.remove(directory / "16000" / "test" / "e.wav")


def _unknown_label(directory):
    (directory / "train.json").write_text(json.dumps({"a.wav": ["dog"], "b.wav": ["cow"]}))


def _two_labels_for_multiclass(directory):
    (directory / "train.json").write_text(json.dumps({"a.wav": ["dog", "cat"]}))


@pytest.mark.parametrize("damage, fragments, when", [
    (_break_metadata, ["task_metadata.json", "missing key split_mode"], "read"),
    (_bad_json, ["task_metadata.json", "not valid JSON"], "read"),
    (lambda d: (d / "task_metadata.json").write_text(json.dumps(_metadata(prediction_type="regression"))),
     ["task_metadata.json", "prediction_type", "regression"], "read"),
    (lambda d: (d / "task_metadata.json").write_text(json.dumps(_metadata(evaluation="top1_acc"))),
     ["task_metadata.json", "evaluation"], "read"),
    (lambda d: (d / "task_metadata.json").write_text("[1]"), ["task_metadata.json", "JSON object"], "read"),
    (lambda d: os.remove(d / "valid.json"), ["valid.json is missing"], "read"),
    (lambda d: (d / "labelvocabulary.csv").write_text("id,name\n0,dog\n"), ["labelvocabulary.csv", "idx,label"],
     "read"),
    (lambda d: (d / "labelvocabulary.csv").write_text("idx,label\n0,dog\n0,cat\n"),
     ["labelvocabulary.csv", "idx 0 appears twice"], "read"),
    (lambda d: os.remove(d / "labelvocabulary.csv"), ["labelvocabulary.csv", "missing"], "read"),
    (lambda d: shutil.rmtree(d / "16000"), ["no audio folder"], "read"),
    (_bad_split_json, ["valid.json", "not valid JSON"], "valid"),
    (_missing_audio, ["test.json", "'e.wav'", "missing", os.path.join("16000", "test", "e.wav")], "test"),
    (_unknown_label, ["train.json", "'b.wav'", "'cow'", "labelvocabulary.csv"], "train"),
    (_two_labels_for_multiclass, ["train.json", "'a.wav'", "2 labels", "multiclass"], "train"),
    (lambda d: (d / "train.json").write_text(json.dumps({"../x.wav": ["dog"]})), ["not a plain file name"], "train"),
    (lambda d: (d / "train.json").write_text(json.dumps({"a.wav": "dog"})), ["must be a list"], "train"),
])
def test_broken_tasks_give_one_line_errors(tmp_path, damage, fragments, when):
    directory = _write_task(tmp_path / "pets")
    damage(directory)
    if when == "read":
        _one_line_error(lambda: read_task(directory), *fragments)
        _one_line_error(lambda: find_tasks(tmp_path), *fragments)
    else:
        task = read_task(directory)
        _one_line_error(lambda: task.examples(when), *fragments)


def test_kfold_needs_three_folds(tmp_path):
    directory = _write_task(tmp_path / "k", _kfold_metadata(2), splits=_folds(2))
    _one_line_error(lambda: read_task(directory), "task_metadata.json", "at least 3 folds")
    directory = _write_task(tmp_path / "m", _kfold_metadata(5), splits=_folds(4))
    _one_line_error(lambda: read_task(directory), "fold04.json is missing")


# --- the default task set, rendered small -------------------------------------------------------------------

SMALL = dict(seed=3, scale=0.05, clip_seconds=1.0, progress=False)


def _require_renderers():
    try:
        find_soundfont()
    except SoundfontNotFoundError as error:
        pytest.skip(str(error))
    for program in ("fluidsynth", "espeak-ng"):
        if shutil.which(program) is None:
            pytest.skip(f"{program} is not installed")


def _contents(root):
    return {os.path.relpath(os.path.join(base, name), root): open(os.path.join(base, name), "rb").read()
            for base, _, names in os.walk(root) for name in names}


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    _require_renderers()
    root = tmp_path_factory.mktemp("probe-tasks")
    return root, make_default_tasks(root, **SMALL)


def test_default_tasks_read_back(small_set):
    root, tasks = small_set
    assert [t.name for t in tasks] == list(DEFAULT_TASK_NAMES) == [t.name for t in find_tasks(root)]
    assert tasks == find_tasks(root)
    by_name = {t.name: t for t in tasks}
    instruments, tempo, speech = (by_name[name] for name in DEFAULT_TASK_NAMES)
    assert (instruments.split_mode, instruments.prediction_type, instruments.evaluation) == (
        "trainvaltest", "multilabel", ("mAP", "d_prime", "aucroc"))
    assert [len(instruments.examples(s)) for s in instruments.splits()] == [5, 2, 3]
    assert all(e.labels for s in instruments.splits() for e in instruments.examples(s))
    for task, classes in ((tempo, ("slow", "medium", "fast")), (speech, ("speech", "music", "noise"))):
        assert (task.split_mode, task.nfolds, task.prediction_type, task.evaluation) == (
            "new_split_kfold", 5, "multiclass", ("top1_acc",))
        assert task.vocabulary == classes
        for split in task.splits():  # one clip of each class in each fold
            assert sorted(e.labels[0] for e in task.examples(split)) == sorted(classes)
    names = [e.name for t in tasks for s in t.splits() for e in t.examples(s)]
    assert len(names) == 10 + 15 + 15
    for task in tasks:
        assert task.sample_rate == 16000 and task.sample_duration == 1.0
        for split in task.splits():
            for example in task.examples(split):
                info = sf.info(example.path)
                assert (info.samplerate, info.channels, info.frames, info.subtype) == (16000, 1, 16000, "PCM_16")
                assert np.abs(sf.read(example.path)[0]).max() > 0.1, example.path


def test_default_tasks_are_deterministic_and_resume(small_set, tmp_path):
    root, _ = small_set
    again = tmp_path / "again"
    make_default_tasks(again, **SMALL)
    assert _contents(again) == _contents(root)
    # A deleted clip is made again, the same (and its checksum beside it); nothing else is rewritten.
    clip = again / "speech-music-noise" / "16000" / "fold02" / sorted(os.listdir(root / "speech-music-noise" / "16000"
                                                                                  / "fold02"))[0]
    stamps = {path: os.stat(again / path).st_mtime_ns for path in _contents(again)}
    os.remove(clip)
    make_default_tasks(again, **SMALL)
    assert _contents(again) == _contents(root)
    unchanged = {path: os.stat(again / path).st_mtime_ns for path in stamps}
    rewritten = [path for path in stamps if stamps[path] != unchanged[path]]
    assert sorted(rewritten) == [os.path.relpath(clip, again), os.path.relpath(clip, again) + ".check.json"]


def test_default_tasks_other_settings_and_errors(small_set, tmp_path, monkeypatch):
    root, _ = small_set
    # A folder made with other settings is made anew.
    other = tmp_path / "other"
    shutil.copytree(root, other)
    tasks = make_default_tasks(other, **{**SMALL, "seed": 4, "clip_seconds": 0.5})
    assert all(t.sample_duration == 0.5 for t in tasks)
    assert sf.info(tasks[0].examples("train")[0].path).frames == 8000
    # A folder of the same name that is not the generator's is left alone.
    (tmp_path / "mine" / "gm-tempo").mkdir(parents=True)
    (tmp_path / "mine" / "gm-tempo" / "notes.txt").write_text("mine")
    with pytest.raises(DefaultTasksError, match="gm-tempo: exists but was not made by make_default_tasks"):
        make_default_tasks(tmp_path / "mine", **SMALL)
    (tmp_path / "a-file").write_text("")
    with pytest.raises(DefaultTasksError, match="a-file: not a folder"):
        make_default_tasks(tmp_path / "a-file", **SMALL)
    # A missing program is named, with its Debian package, before anything is rendered.
    real_which = shutil.which
    monkeypatch.setattr(default_tasks.shutil, "which", lambda name: None if name == "espeak-ng" else real_which(name))
    with pytest.raises(DefaultTasksError, match="^espeak-ng is not installed: install the Debian package espeak-ng"):
        make_default_tasks(tmp_path / "fresh", **SMALL)
    assert not list((tmp_path / "fresh").rglob("*.wav"))
    make_default_tasks(root, **SMALL)  # a finished set needs neither program
