"""The shallow classifiers a probe trains on frozen embeddings, and the metrics of HEAR's scene tasks.

``mlp`` follows hear-eval-kit's downstream model: one hidden layer of 1024 ReLU units, Adam, the
learning rate chosen on the validation split among ``MLP_LEARNING_RATES``, early stopping on the
validation score (the epoch with the best score is kept). ``logistic`` is logistic regression
(one-vs-rest for multilabel tasks) with its L2 strength ``C`` chosen the same way; with more
dimensions than training clips it is fitted in the span of the training embeddings, which gives
the same classifier (the L2 optimum's weights lie there) in a fraction of the time. The
embeddings are standardised with the training split's mean and deviation first. Each fit is
seeded; the test score is that of the configuration the validation split chose.

    >>> fit = CLASSIFIERS["logistic"]
    >>> scores = fit(train_x, train_y, valid_x, valid_y, test_x, prediction="multiclass", metric="top1_acc", seed=0)
"""
import copy
import warnings

import numpy as np
from scipy.stats import norm

__all__ = ["CLASSIFIERS", "CLASSIFIERS_VERSION", "METRICS", "MLP_LEARNING_RATES", "LOGISTIC_C", "score"]

CLASSIFIERS_VERSION = 1  # bump when a change here changes results: the probe's kept results are then redone

MLP_HIDDEN = 1024
MLP_LEARNING_RATES = (1e-3, 1e-4)
MLP_BATCH = 32
MLP_MAX_EPOCHS = 100
MLP_PATIENCE = 10  # epochs without a better validation score
LOGISTIC_C = (0.01, 0.1, 1.0, 10.0)


def _per_class(y_true, y_score, metric):
    """Mean over the classes that have positives and negatives in ``y_true`` (others are undefined)."""
    values = [metric(y_true[:, c], y_score[:, c]) for c in range(y_true.shape[1])
              if 0 < y_true[:, c].sum() < len(y_true)]
    return float(np.mean(values)) if values else float("nan")


def _indicator(y, classes):
    return y if y.ndim == 2 else np.eye(classes, dtype=int)[y]


def _top1(y, scores):
    return float(np.mean(np.argmax(scores, axis=1) == y)) if y.ndim == 1 else float("nan")


def _average_precision(y, scores):
    from sklearn.metrics import average_precision_score

    return _per_class(_indicator(y, scores.shape[1]), scores, average_precision_score)


def _roc_auc(y, scores):
    from sklearn.metrics import roc_auc_score

    return _per_class(_indicator(y, scores.shape[1]), scores, roc_auc_score)


def _d_prime(y, scores):
    from sklearn.metrics import roc_auc_score

    return _per_class(_indicator(y, scores.shape[1]), scores,
                      lambda t, s: float(np.sqrt(2) * norm.ppf(np.clip(roc_auc_score(t, s), 1e-6, 1 - 1e-6))))


# HEAR's scene-task metric names -> (truth [n] class indices or [n, C] indicators, scores [n, C]) -> value.
METRICS = {"top1_acc": _top1, "mAP": _average_precision, "aucroc": _roc_auc, "d_prime": _d_prime}


def score(metric, y, scores):
    return METRICS[metric](y, scores)


def _standardise(train_x, *others):
    mean, deviation = train_x.mean(axis=0), train_x.std(axis=0) + 1e-6
    return [((x - mean) / deviation).astype(np.float32) for x in (train_x, *others)]  # float32: twice as fast


def _mlp(train_x, train_y, valid_x, valid_y, test_x, *, prediction, metric, seed, classes):
    from sklearn.neural_network import MLPClassifier

    best = (-np.inf, None)
    for rate in MLP_LEARNING_RATES:
        model = MLPClassifier(hidden_layer_sizes=(MLP_HIDDEN,), learning_rate_init=rate,
                              batch_size=min(MLP_BATCH, len(train_x)), random_state=seed, shuffle=True)
        waited, rate_best = 0, -np.inf
        for _ in range(MLP_MAX_EPOCHS):
            model.partial_fit(train_x, train_y, classes=np.arange(classes))
            value = score(metric, valid_y, model.predict_proba(valid_x))
            if value > rate_best:
                rate_best, waited = value, 0
                if value > best[0]:
                    best = (value, copy.deepcopy(model))
            else:
                waited += 1
                if waited >= MLP_PATIENCE:
                    break
    if best[1] is None:  # the validation score was undefined throughout: the last model
        best = (np.nan, model)
    return best[1].predict_proba(test_x)


def _full_scores(model, x, classes):
    """predict_proba with a column per class, also for classes the training split lacked."""
    scores = np.zeros((len(x), classes))
    scores[:, model.classes_] = model.predict_proba(x)
    return scores


def _training_span(train_x, *others):
    """Every set in the orthonormal basis of the training rows' span, when it has fewer rows than
    dimensions: an L2-penalised linear model's weights lie in that span, so its scores are kept."""
    if len(train_x) >= train_x.shape[1]:
        return (train_x, *others)
    _, _, basis = np.linalg.svd(train_x, full_matrices=False)  # [rows, dims]
    return tuple((x @ basis.T).astype(np.float32) for x in (train_x, *others))


def _logistic(train_x, train_y, valid_x, valid_y, test_x, *, prediction, metric, seed, classes):
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    train_x, valid_x, test_x = _training_span(train_x, valid_x, test_x)

    def predict(model, x):
        return model.predict_proba(x) if prediction == "multilabel" else _full_scores(model, x, classes)

    best = (-np.inf, None)
    for c in LOGISTIC_C:
        base = LogisticRegression(C=c, max_iter=2000, random_state=seed)
        model = OneVsRestClassifier(base) if prediction == "multilabel" else base
        model.fit(train_x, train_y)  # a label absent from the training split: a constant predictor
        value = score(metric, valid_y, predict(model, valid_x))
        if best[1] is None or value > best[0]:
            best = (value, model)
    return predict(best[1], test_x)


_FITS = {"mlp": _mlp, "logistic": _logistic}


def _fit(name):
    def fit(train_x, train_y, valid_x, valid_y, test_x, *, prediction, metric, seed, classes):
        """Test-split scores [n, classes] of the configuration the validation split chose."""
        train_x, valid_x, test_x = _standardise(train_x, valid_x, test_x)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sklearn's convergence warnings: early stopping is ours
            return _FITS[name](train_x, train_y, valid_x, valid_y, test_x, prediction=prediction, metric=metric,
                               seed=seed, classes=classes)

    fit.__name__ = name
    return fit


# Name -> fit(train_x, train_y, valid_x, valid_y, test_x, *, prediction, metric, seed, classes).
CLASSIFIERS = {name: _fit(name) for name in _FITS}
