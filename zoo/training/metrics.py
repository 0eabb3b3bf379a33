"""Tagging accuracy: macro ROC-AUC and PR-AUC, per tag and per tag group; a student's agreement
with its teacher (``agreement``)."""
import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

__all__ = ["agreement", "per_tag_scores", "summarise"]


def per_tag_scores(labels, scores, tags, tag_groups):
    """DataFrame: tag, group, positives, roc_auc, pr_auc (NaN where a tag has one class)."""
    rows = []
    for i, tag in enumerate(tags):
        truth = labels[:, i]
        both_classes = 0 < truth.sum() < len(truth)
        rows.append({
            "tag": tag,
            "group": tag_groups.get(tag, "all"),
            "positives": int(truth.sum()),
            "roc_auc": roc_auc_score(truth, scores[:, i]) if both_classes else np.nan,
            "pr_auc": average_precision_score(truth, scores[:, i]) if both_classes else np.nan,
        })
    return pd.DataFrame(rows)


def summarise(per_tag):
    """Macro averages over the tags that have both classes, overall and per group."""
    summary = {"roc_auc": per_tag.roc_auc.mean(), "pr_auc": per_tag.pr_auc.mean()}
    for group, rows in per_tag.groupby("group"):
        summary[f"roc_auc_{group}"] = rows.roc_auc.mean()
        summary[f"pr_auc_{group}"] = rows.pr_auc.mean()
    return {k: float(v) for k, v in summary.items()}


def agreement(teacher, student, k=5):
    """How far a student's scores agree with its teacher's, per patch (rows of [patches, tags]).

    ``top{k}_overlap``: the mean share of the teacher's ``k`` best tags among the student's ``k``
    best; ``micro_roc_auc_top{k}``: ROC-AUC of every student score, all patches and tags pooled,
    against the teacher's ``k`` best tags as positives. A student equal to its teacher scores 1, 1.

        >>> teacher = np.array([[0.9, 0.8, 0.1, 0.0], [0.1, 0.2, 0.7, 0.9]])
        >>> agreement(teacher, teacher[:, ::-1], k=2)
        {'top2_overlap': 0.0, 'micro_roc_auc_top2': 0.0}
    """
    from zoo.datasets.tagging_dataset import top_k_labels

    teacher, student = np.asarray(teacher), np.asarray(student)
    truth = top_k_labels(teacher, k)
    overlap = (top_k_labels(student, k) * truth).sum(axis=1) / k
    return {f"top{k}_overlap": float(overlap.mean()),
            f"micro_roc_auc_top{k}": float(roc_auc_score(truth.ravel(), student.ravel()))}
