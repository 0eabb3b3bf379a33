"""Tasks in the HEAR 2021 preprocessed layout, the one hear-eval-kit reads.

A task folder holds::

    task_metadata.json     task_name, version, embedding_type ("scene" | "event"),
                           prediction_type ("multiclass" | "multilabel"), split_mode
                           ("trainvaltest" | "new_split_kfold" | "presplit_kfold"), sample_duration
                           (seconds or null), evaluation (["top1_acc"], ["mAP", "d_prime", "aucroc"]...),
                           nfolds (k-fold modes)
    labelvocabulary.csv    header "idx,label", one row per label
    train.json valid.json test.json        (trainvaltest)  or  fold00.json fold01.json ...  (k-fold):
                           {file name: [label, ...]} for scene tasks,
                           {file name: [{"label", "start", "end"}, ...]} for event tasks
    16000/<split>/<file name>              the audio, one folder per sample rate

Every problem found in a task folder raises ``TaskError`` with a one-line message that names the
folder or file and what is wrong with it.

Example::

    from benchmarks.probe.tasks import find_tasks

    for task in find_tasks("hear-tasks"):            # one task folder, or a folder of them
        for train_splits, valid_split, test_split in task.rounds():
            train = [example for split in train_splits for example in task.examples(split)]
            print(task.name, len(train), [e.labels for e in task.examples(test_split)][:3])
"""
import csv
import json
import pathlib
from dataclasses import dataclass
from typing import Optional

__all__ = [
    "METADATA_FILE",
    "VOCABULARY_FILE",
    "EMBEDDING_TYPES",
    "PREDICTION_TYPES",
    "SPLIT_MODES",
    "TaskError",
    "Example",
    "Task",
    "read_task",
    "find_tasks",
]

METADATA_FILE = "task_metadata.json"
VOCABULARY_FILE = "labelvocabulary.csv"
EMBEDDING_TYPES = ("scene", "event")
PREDICTION_TYPES = ("multiclass", "multilabel")
SPLIT_MODES = ("trainvaltest", "new_split_kfold", "presplit_kfold")
TRAIN_VALID_TEST = ("train", "valid", "test")
REQUIRED_KEYS = ("task_name", "embedding_type", "prediction_type", "split_mode", "evaluation")
MIN_FOLDS = 3  # a test fold, a validation fold and at least one to train on
PREFERRED_SAMPLE_RATE = 16000


class TaskError(ValueError):
    """A task folder, or a file in it, that cannot be read as a HEAR task: the message (one line)
    names the folder or file and what is wrong."""


@dataclass(frozen=True)
class Example:
    """One labelled clip of a split.

    Args:
        name: the file name, as the split file lists it.
        path: the audio file (``<task>/<sample rate>/<split>/<name>``).
        labels: its label strings (for an event task, the distinct labels of its events, in
            vocabulary order).
    """

    name: str
    path: pathlib.Path
    labels: tuple


@dataclass(frozen=True)
class Task:
    """A HEAR task folder, read and checked by ``read_task``.

    Args:
        name: ``task_name`` of the metadata.
        directory: the task folder.
        embedding_type: "scene" (one label set per clip) or "event" (timed events).
        prediction_type: "multiclass" (one label per clip) or "multilabel".
        split_mode: "trainvaltest", "new_split_kfold" or "presplit_kfold".
        sample_duration: clip length in seconds, or None where clips vary.
        evaluation: the metric names, e.g. ("top1_acc",) or ("mAP", "d_prime", "aucroc").
        nfolds: the number of folds of a k-fold task, None for trainvaltest.
        vocabulary: the labels, in ``idx`` order.
        sample_rate: the audio folder read (16000 where present; other rates are resampled on decoding).
        version: ``version`` of the metadata (None where absent).

    Example::

        task = read_task("hear-tasks/speech-music-noise")
        print(task.splits(), task.rounds()[0], task.examples("fold00")[0])
    """

    name: str
    directory: pathlib.Path
    embedding_type: str
    prediction_type: str
    split_mode: str
    sample_duration: Optional[float]
    evaluation: tuple
    nfolds: Optional[int]
    vocabulary: tuple
    sample_rate: int
    version: Optional[str] = None

    def splits(self):
        """The split names, in order: ["train", "valid", "test"] or ["fold00", "fold01", ...]."""
        return _split_names(self.split_mode, self.nfolds)

    def rounds(self):
        """The (train splits, validation split, test split) of each evaluation round.

        trainvaltest: one round, (("train",), "valid", "test"). k-fold, as hear-eval-kit does:
        round i tests on fold i, validates on fold (i + 1) % k and trains on the others.
        """
        if self.split_mode == "trainvaltest":
            return [(("train",), "valid", "test")]
        folds = self.splits()
        rounds = []
        for i, test in enumerate(folds):
            valid = folds[(i + 1) % len(folds)]
            rounds.append((tuple(f for f in folds if f not in (test, valid)), valid, test))
        return rounds

    def examples(self, split):
        """The labelled clips of ``split``, in the split file's order.

        Raises TaskError, naming the first problem: an unreadable split file, a missing audio
        file, a label not in the vocabulary, or a multiclass clip without exactly one label.
        """
        if split not in self.splits():
            raise TaskError(f"{self.directory}: task {self.name!r} has no split {split!r} "
                            f"(its splits: {', '.join(self.splits())})")
        split_file = self.directory / f"{split}.json"
        entries = _read_json(split_file)
        if not isinstance(entries, dict):
            raise TaskError(f"{split_file}: expected a JSON object {{file name: labels}}, "
                            f"found {type(entries).__name__}")
        known = {label: index for index, label in enumerate(self.vocabulary)}
        audio = self.directory / str(self.sample_rate) / split
        examples = []
        for name, value in entries.items():
            _check_file_name(split_file, name)
            labels = _labels(split_file, name, value, self.embedding_type)
            for label in labels:
                if label not in known:
                    raise TaskError(f"{split_file}: {name!r} has label {label!r}, which is not in "
                                    f"{self.directory / VOCABULARY_FILE}")
            if self.embedding_type == "event":
                labels = sorted(set(labels), key=known.get)
            elif self.prediction_type == "multiclass" and len(labels) != 1:
                raise TaskError(f"{split_file}: {name!r} has {len(labels)} labels, but the task is multiclass "
                                "(one label per clip)")
            path = audio / name
            if not path.is_file():
                raise TaskError(f"{split_file}: the audio of {name!r} is missing: {path}")
            examples.append(Example(name, path, tuple(labels)))
        return examples


def read_task(directory, sample_rate=PREFERRED_SAMPLE_RATE):
    """Read and check the HEAR task folder ``directory``.

    Args:
        directory: the task folder (holding task_metadata.json).
        sample_rate: the audio folder to prefer (16000). Where it is absent, the folder of
            another rate is read (the lowest above it, else the highest below): the probe
            resamples on decoding.

    Returns:
        a ``Task``. Its split files are read (and their audio checked) by ``Task.examples``.

    Raises:
        TaskError: (one line) a missing or malformed metadata, vocabulary or split file, or no
            audio folder.

    Example::

        task = read_task("hear-tasks/gm-tempo")
        print(task.name, task.prediction_type, task.vocabulary, task.sample_rate)
    """
    directory = pathlib.Path(directory)
    metadata_file = directory / METADATA_FILE
    if not directory.is_dir():
        raise TaskError(f"{directory}: not a folder (a HEAR task folder holds {METADATA_FILE})")
    if not metadata_file.is_file():
        raise TaskError(f"{directory}: not a HEAR task folder (it has no {METADATA_FILE})")
    metadata = _read_json(metadata_file)
    if not isinstance(metadata, dict):
        raise TaskError(f"{metadata_file}: expected a JSON object, found {type(metadata).__name__}")
    missing = [key for key in REQUIRED_KEYS if key not in metadata]
    if missing:
        raise TaskError(f"{metadata_file}: missing key{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    name = _text(metadata_file, metadata, "task_name")
    embedding_type = _one_of(metadata_file, metadata, "embedding_type", EMBEDDING_TYPES)
    prediction_type = _one_of(metadata_file, metadata, "prediction_type", PREDICTION_TYPES)
    split_mode = _one_of(metadata_file, metadata, "split_mode", SPLIT_MODES)
    evaluation = metadata["evaluation"]
    if not (isinstance(evaluation, list) and evaluation and all(isinstance(m, str) and m for m in evaluation)):
        raise TaskError(f"{metadata_file}: 'evaluation' must be a non-empty list of metric names, "
                        f"found {evaluation!r}")
    sample_duration = metadata.get("sample_duration")
    if sample_duration is not None and (not _is_number(sample_duration) or sample_duration <= 0):
        raise TaskError(f"{metadata_file}: 'sample_duration' must be seconds (> 0) or null, "
                        f"found {sample_duration!r}")
    version = metadata.get("version")
    nfolds = None if split_mode == "trainvaltest" else _fold_count(directory, metadata_file, metadata)
    for split in _split_names(split_mode, nfolds):
        if not (directory / f"{split}.json").is_file():
            raise TaskError(f"{directory}: split file {split}.json is missing ({split_mode} task)")
    return Task(
        name=name,
        directory=directory,
        embedding_type=embedding_type,
        prediction_type=prediction_type,
        split_mode=split_mode,
        sample_duration=None if sample_duration is None else float(sample_duration),
        evaluation=tuple(evaluation),
        nfolds=nfolds,
        vocabulary=_read_vocabulary(directory / VOCABULARY_FILE),
        sample_rate=_audio_rate(directory, sample_rate),
        version=None if version is None else str(version),
    )


def find_tasks(root, sample_rate=PREFERRED_SAMPLE_RATE):
    """The HEAR tasks under ``root``: ``root`` itself if it is a task folder, else every child
    folder holding task_metadata.json, sorted by folder name.

    Args:
        root: a task folder, or a folder of task folders.
        sample_rate: passed to ``read_task``.

    Raises:
        TaskError: (one line) ``root`` is not a folder, holds no task, or one task is malformed.

    Example::

        print([task.name for task in find_tasks("hear-tasks")])
    """
    root = pathlib.Path(root)
    if not root.is_dir():
        raise TaskError(f"{root}: no such folder (expected a HEAR task folder or a folder of them)")
    if (root / METADATA_FILE).is_file():
        return [read_task(root, sample_rate)]
    folders = sorted(child for child in root.iterdir() if child.is_dir() and (child / METADATA_FILE).is_file())
    if not folders:
        raise TaskError(f"{root}: no HEAR task here (neither it nor a folder in it holds {METADATA_FILE})")
    return [read_task(folder, sample_rate) for folder in folders]


# --- reading and checking --------------------------------------------------------------------------


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise TaskError(f"{path}: missing") from None
    except UnicodeDecodeError:
        raise TaskError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise TaskError(f"{path}: not valid JSON ({error})") from None
    except OSError as error:
        raise TaskError(f"{path}: cannot be read ({error.strerror or error})") from None


def _read_vocabulary(path):
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except FileNotFoundError:
        raise TaskError(f"{path}: missing (a HEAR task lists its labels there, header 'idx,label')") from None
    except (UnicodeDecodeError, csv.Error, OSError) as error:
        raise TaskError(f"{path}: cannot be read as CSV ({error})") from None
    if not rows or [cell.strip() for cell in rows[0][:2]] != ["idx", "label"]:
        raise TaskError(f"{path}: expected the header 'idx,label', found {','.join(rows[0]) if rows else 'nothing'!r}")
    by_index = {}
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) < 2:
            raise TaskError(f"{path}: line {line} has no label")
        try:
            index = int(row[0])
        except ValueError:
            raise TaskError(f"{path}: line {line}: idx {row[0]!r} is not a whole number") from None
        if index in by_index:
            raise TaskError(f"{path}: line {line}: idx {index} appears twice")
        by_index[index] = row[1]
    vocabulary = tuple(by_index[i] for i in sorted(by_index))
    if sorted(by_index) != list(range(len(by_index))):
        raise TaskError(f"{path}: idx must run 0..{len(by_index) - 1}, found {sorted(by_index)[:5]}...")
    if not vocabulary:
        raise TaskError(f"{path}: no labels")
    repeated = sorted({label for label in vocabulary if vocabulary.count(label) > 1})
    if repeated:
        raise TaskError(f"{path}: label {repeated[0]!r} appears twice")
    return vocabulary


def _split_names(split_mode, nfolds):
    if split_mode == "trainvaltest":
        return list(TRAIN_VALID_TEST)
    return [f"fold{i:02d}" for i in range(nfolds)]


def _fold_count(directory, metadata_file, metadata):
    """``nfolds`` of a k-fold task; where absent, the number of fold files fold00.json, fold01.json ..."""
    nfolds = metadata.get("nfolds")
    if nfolds is None:
        nfolds = 0
        while (directory / f"fold{nfolds:02d}.json").is_file():
            nfolds += 1
    elif isinstance(nfolds, bool) or not isinstance(nfolds, int):
        raise TaskError(f"{metadata_file}: 'nfolds' must be a whole number, found {nfolds!r}")
    if nfolds < MIN_FOLDS:
        raise TaskError(f"{metadata_file}: a {metadata['split_mode']} task needs at least {MIN_FOLDS} folds "
                        f"(a test, a validation and a training fold), found {nfolds}")
    return nfolds


def _audio_rate(directory, preferred):
    rates = sorted(int(child.name) for child in directory.iterdir() if child.is_dir() and child.name.isdigit())
    if not rates:
        raise TaskError(f"{directory}: no audio folder (expected one named by its sample rate, e.g. "
                        f"{preferred}/<split>/<file name>)")
    if preferred in rates:
        return preferred
    above = [rate for rate in rates if rate > preferred]
    return above[0] if above else rates[-1]


def _text(path, metadata, key):
    value = metadata[key]
    if not isinstance(value, str) or not value:
        raise TaskError(f"{path}: {key!r} must be a non-empty string, found {value!r}")
    return value


def _one_of(path, metadata, key, allowed):
    value = metadata[key]
    if value not in allowed:
        raise TaskError(f"{path}: {key!r} must be one of {', '.join(allowed)}; found {value!r}")
    return value


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_file_name(split_file, name):
    parts = pathlib.PurePosixPath(name).parts
    if not name or name.startswith(("/", "\\")) or ".." in parts or "\\" in name:
        raise TaskError(f"{split_file}: {name!r} is not a plain file name")


def _label(split_file, name, label):
    """A label as hear-eval-kit compares it to the vocabulary: its string."""
    if isinstance(label, str):
        return label
    if _is_number(label):
        return str(label)
    raise TaskError(f"{split_file}: {name!r} has a label that is not a string: {label!r}")


def _labels(split_file, name, value, embedding_type):
    if not isinstance(value, list):
        raise TaskError(f"{split_file}: the labels of {name!r} must be a list, found {value!r}")
    if embedding_type == "scene":
        return [_label(split_file, name, label) for label in value]
    labels = []
    for event in value:
        if not (isinstance(event, dict) and "label" in event and _is_number(event.get("start"))
                and _is_number(event.get("end"))):
            raise TaskError(f"{split_file}: {name!r} has an event that is not "
                            f"{{\"label\", \"start\", \"end\"}}: {event!r}")
        labels.append(_label(split_file, name, event["label"]))
    return labels
