"""The field's evaluation protocol: non-overlapping patches, scores averaged per clip.

musicnn-training (and the MTAT literature since Dieleman & Schrauwen 2014) cuts each clip into
non-overlapping patches of the model's input length, averages the patch probabilities per clip,
and reports per-tag ROC-AUC and average precision macro-averaged over tags. A clip shorter than
one patch is zero-padded to one patch; a last partial patch is dropped. The loss reported next
to it is the mean binary cross-entropy over patches, as musicnn-training's validation cost.

With soft targets (a teacher's scores: ``TaggingDataset.soft_top_k``) the loss is the cross-entropy
against those scores, ROC-AUC and PR-AUC count each clip's top-k teacher tags as its positives,
and the metrics add the agreement with the teacher (``metrics.agreement``).
"""
import weakref
from dataclasses import dataclass, field

import numpy as np

from zoo.models.inference_call import inference_function
from zoo.training.metrics import agreement, per_tag_scores, summarise

__all__ = ["Evaluation", "evaluate", "clip_patches"]

_EPSILON = 1e-7  # Keras' clip of probabilities in binary cross-entropy


@dataclass
class Evaluation:
    loss: float
    metrics: dict  # roc_auc, pr_auc, and per tag group
    per_tag: object  # pandas.DataFrame from metrics.per_tag_scores
    clip_scores: np.ndarray
    labels: np.ndarray
    agreement: dict = field(default_factory=dict)  # with soft targets: metrics.agreement (also in metrics)


def clip_patches(waveform, patch_samples):
    """[patches, patch_samples]: the non-overlapping patches of one clip (at least one)."""
    count = max(1, len(waveform) // patch_samples)
    if len(waveform) < patch_samples:
        waveform = np.pad(waveform, (0, patch_samples - len(waveform)))
    return waveform[: count * patch_samples].reshape(count, patch_samples)


def _binary_cross_entropy(labels, scores):
    scores = np.clip(scores, _EPSILON, 1.0 - _EPSILON)
    return -(labels * np.log(scores) + (1.0 - labels) * np.log(1.0 - scores)).mean(axis=-1)


# model -> its compiled inference function, so that every epoch's validation reuses one trace
# (a new tf.function per evaluation retraced every epoch: TensorFlow's "retracing" warnings).
_COMPILED = weakref.WeakKeyDictionary()


def _compiled(model):
    if model not in _COMPILED:
        _COMPILED[model] = inference_function(model)
    return _COMPILED[model]


class _PatchScorer:
    """Scores patches in batches of ``batch_size`` as they arrive, remembering each one's clip.
    The last, partial batch is zero-padded to the full size: one input shape, one compilation."""

    def __init__(self, model, batch_size):
        self._predict = _compiled(model)
        self._batch_size = batch_size
        self._pending, self._owners = [], []
        self.scores, self.owners = [], []

    def add(self, patches, clip_index):
        self._pending.extend(patches)
        self._owners.extend([clip_index] * len(patches))
        while len(self._pending) >= self._batch_size:
            self._flush(self._batch_size)

    def finish(self):
        while self._pending:
            self._flush(self._batch_size)
        return np.concatenate(self.scores), np.array(self.owners)

    def _flush(self, count):
        batch = np.stack(self._pending[:count])
        real = len(batch)
        if real < self._batch_size:
            batch = np.concatenate([batch, np.zeros((self._batch_size - real, *batch.shape[1:]), batch.dtype)])
        self.scores.append(self._predict(batch)[:real].astype(np.float32))
        self.owners.extend(self._owners[:count])
        del self._pending[:count], self._owners[:count]


def evaluate(model, dataset, split, patch_samples, batch_size=32):
    """``Evaluation`` of ``model`` on ``split`` of a ``TaggingDataset`` by the protocol above."""
    from zoo.datasets.input_pipelines import numpy_batches

    scorer = _PatchScorer(model, batch_size)
    labels = []
    for index, (waveform, label) in enumerate(numpy_batches(dataset, split, 1, clip_samples=None, shuffle=False)):
        scorer.add(list(clip_patches(waveform[0], patch_samples)), index)
        labels.append(label[0])
    patch_scores, owners = scorer.finish()
    labels = np.stack(labels).astype(np.float32)
    loss = float(_binary_cross_entropy(labels[owners], patch_scores).mean())
    clip_scores = np.zeros_like(labels)
    np.add.at(clip_scores, owners, patch_scores)
    clip_scores /= np.bincount(owners, minlength=len(labels))[:, None]
    per_tag = per_tag_scores(dataset.metric_labels(labels), clip_scores, dataset.tags, dataset.tag_groups)
    agreed = agreement(labels, clip_scores, dataset.soft_top_k) if dataset.soft_top_k else {}
    return Evaluation(loss, {**summarise(per_tag), **agreed}, per_tag, clip_scores, labels, agreed)
