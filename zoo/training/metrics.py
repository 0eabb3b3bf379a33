"""Tagging accuracy: macro ROC-AUC and PR-AUC, per tag and per tag group."""
import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

__all__ = ["per_tag_scores", "summarise"]


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
