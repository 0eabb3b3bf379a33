"""One probe result: a classifier trained on a task's frozen embeddings, per round and seed.

The rounds are the task's (``Task.rounds``: train / valid / test, or each fold the test once and
the next the validation, as hear-eval-kit does); the test score is the mean over rounds and
seeds, with its standard deviation. The configuration is chosen on the validation split by the
task's first metric that ``METRICS`` knows.

    >>> rows = evaluate(task, embeddings, classifier="mlp", seeds=(0, 1, 2))
    >>> rows[0]["metric"], rows[0]["score"]
    ('top1_acc', 0.82)
"""
import numpy as np

from benchmarks.probe.classifiers import CLASSIFIERS, METRICS, score
from benchmarks.probe.embeddings import example_key

__all__ = ["evaluate", "task_metrics"]


def task_metrics(task):
    """The task's metrics the probe computes (those ``METRICS`` knows), the first choosing configurations."""
    known = [metric for metric in task.evaluation if metric in METRICS]
    if not known:
        raise ValueError(f"task {task.name} is scored by {', '.join(task.evaluation)}; the probe computes "
                         f"{', '.join(METRICS)}")
    return known


def _split(task, splits, embeddings):
    examples = [(split, example) for split in splits for example in task.examples(split)]
    x = embeddings.rows([example_key(split, example) for split, example in examples])
    index = {label: i for i, label in enumerate(task.vocabulary)}
    if task.prediction_type == "multiclass":
        y = np.array([index[example.labels[0]] for _, example in examples], dtype=int)
    else:
        y = np.zeros((len(examples), len(index)), dtype=int)
        for row, (_, example) in enumerate(examples):
            y[row, [index[label] for label in example.labels]] = 1
    return x, y


def evaluate(task, embeddings, *, classifier="mlp", seeds=(0, 1, 2)):
    """[{metric, score, std, runs}] of ``classifier`` on ``task`` (a scene task) with ``embeddings``
    (``benchmarks.probe.embeddings.TaskEmbeddings``)."""
    metrics = task_metrics(task)
    fit, values = CLASSIFIERS[classifier], {metric: [] for metric in metrics}
    for train_splits, valid_split, test_split in task.rounds():
        train, valid, test = (_split(task, splits, embeddings) for splits in (train_splits, (valid_split,),
                                                                              (test_split,)))
        for seed in seeds:
            scores = fit(train[0], train[1], valid[0], valid[1], test[0], prediction=task.prediction_type,
                         metric=metrics[0], seed=seed, classes=len(task.vocabulary))
            for metric in metrics:
                values[metric].append(score(metric, test[1], scores))
    return [{"metric": metric, "score": float(np.nanmean(found)), "std": float(np.nanstd(found)), "runs": len(found)}
            for metric, found in values.items()]
