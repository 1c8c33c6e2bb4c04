"""Classification metrics of a whole test set, and the one entry point for every clinical metric.

Public API (prediction first, then the reference; parameters after them keyword-only; every
array validated once here, bad input raising :class:`scorers.errors.InputError`):

- :func:`auroc` ``(prob, label, *, weights=None)``
- :func:`average_precision` ``(prob, label, *, weights=None)``
- :func:`sensitivity`, :func:`specificity`, :func:`balanced_accuracy`
  ``(prob, label, *, threshold, weights=None)``
- :func:`log_loss` ``(prob, label, *, eps=1e-15, weights=None)``
- :func:`brier` ``(prob, label, *, weights=None)``
- :func:`macro_auroc_ovr` ``(probs, label, *, weights=None)``
- :func:`set_metric` ``(name, predictions, truth, *, config, weights=None)``: any registered
  classification or survival metric by name (the platform calls only this), and
  :func:`set_metric_many` ``(name, predictions_list, truth, *, config, weights=None)``: the same
  for K algorithms at once ((K,) or (B, K); what depends only on the labels is computed once).

``prob`` is the predicted probability of the positive class (n,), ``label`` 0/1 (n,), 1 the
positive class. ``weights``: None (every case once), a vector (n,) of case multiplicities, or a
matrix (B, n) of bootstrap multiplicities; a metric returns a float for the first two and a
(B,) array for the third. A case of multiplicity w counts exactly as w copies of it (a
resample's drawn cases), and a value that is undefined on the data (AUROC with one class
absent) is NaN, never an error.

References: every function equals scikit-learn 1.9's function named in its docstring on the
data expanded by the multiplicities (tests/scorers/test_clinical_reference.py checks it to
1e-9 on random cases with ties).
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence

import numpy as np

from scorers import survival
from scorers._clinical_common import (
    binary_labels,
    class_concordance,
    integers,
    multiplicities,
    probabilities,
    ratio,
    result,
    tie_groups,
)
from scorers.errors import InputError


def _binary(prob, label, weights):
    prob = probabilities(prob, name="probability")
    label = binary_labels(label, n=len(prob))
    w, batched = multiplicities(weights, len(prob))
    return prob, label, w, batched


def auroc(prob, label, *, weights=None):
    """Area under the ROC curve: the probability that a random positive case scores higher than
    a random negative one, ties counting ½ (the Mann–Whitney U / (n₊·n₋)),

        AUROC = Σ_{i pos} Σ_{j neg} w_i w_j (1[p_i > p_j] + ½·1[p_i = p_j]) / (W₊ · W₋),

    equal to ``sklearn.metrics.roc_auc_score(label, prob)`` (trapezoidal ROC area). NaN when
    one class is absent. O(n log n + B·n)."""
    prob, label, w, batched = _binary(prob, label, weights)
    concordant, pairs = class_concordance(prob, w, label)
    return result(ratio(concordant, pairs), batched)


def average_precision(prob, label, *, weights=None):
    """Average precision, AP = Σ_k (R_k − R_{k−1}) · P_k over the distinct scores taken as
    thresholds from the highest down (P_k, R_k: precision and recall of "positive when
    p ≥ threshold k", R_0 = 0), as ``sklearn.metrics.average_precision_score`` (no
    interpolation). NaN without a positive case."""
    prob, label, w, batched = _binary(prob, label, weights)
    order, starts = tie_groups(prob)
    positives = np.add.reduceat((w * label)[:, order], starts, axis=1)[:, ::-1]
    negatives = np.add.reduceat((w * ~label)[:, order], starts, axis=1)[:, ::-1]
    tp, fp = np.cumsum(positives, axis=1), np.cumsum(negatives, axis=1)
    precision = ratio(tp, tp + fp)
    steps = np.where(positives > 0, positives * np.nan_to_num(precision), 0.0).sum(axis=1)
    return result(ratio(steps, tp[:, -1]), batched)


def _confusion(prob, label, threshold, weights):
    prob, label, w, batched = _binary(prob, label, weights)
    if (isinstance(threshold, bool) or not isinstance(threshold, numbers.Real)
            or not 0.0 <= threshold <= 1.0):
        raise InputError(f"threshold {threshold!r}: expected a number in [0, 1]")
    called = prob >= threshold
    tp, fn = (w * (label & called)).sum(axis=1), (w * (label & ~called)).sum(axis=1)
    tn, fp = (w * (~label & ~called)).sum(axis=1), (w * (~label & called)).sum(axis=1)
    return ratio(tp, tp + fn), ratio(tn, tn + fp), batched


def sensitivity(prob, label, *, threshold: float, weights=None):
    """True-positive rate TP / (TP + FN), a case called positive when ``prob >= threshold``;
    ``sklearn.metrics.recall_score(label, prob >= threshold)``. NaN without a positive case."""
    value, _, batched = _confusion(prob, label, threshold, weights)
    return result(value, batched)


def specificity(prob, label, *, threshold: float, weights=None):
    """True-negative rate TN / (TN + FP), positive when ``prob >= threshold``;
    ``recall_score(label, prob >= threshold, pos_label=0)``. NaN without a negative case."""
    _, value, batched = _confusion(prob, label, threshold, weights)
    return result(value, batched)


def balanced_accuracy(prob, label, *, threshold: float, weights=None):
    """(sensitivity + specificity) / 2 at ``prob >= threshold``;
    ``sklearn.metrics.balanced_accuracy_score(label, prob >= threshold)``. NaN when one class is
    absent (scikit-learn then averages the recall of the class present and warns)."""
    sens, spec, batched = _confusion(prob, label, threshold, weights)
    return result((sens + spec) / 2.0, batched)


def log_loss(prob, label, *, eps: float = 1e-15, weights=None):
    """Mean negative log-likelihood, −Σ w_i [y_i log p_i + (1 − y_i) log(1 − p_i)] / Σ w_i, with
    p and 1 − p each clipped to [eps, 1 − eps] as scikit-learn's ``log_loss`` does.
    scikit-learn ≤ 1.2 clipped at eps = 1e-15, our default; 1.3 and later at the float64
    machine epsilon (``eps=np.finfo(float).eps`` reproduces ``sklearn.metrics.log_loss`` 1.9
    to the last digits). Probabilities strictly inside (eps, 1 − eps) give the same value
    under either."""
    prob, label, w, batched = _binary(prob, label, weights)
    if not 0.0 < eps < 0.5:
        raise InputError(f"eps {eps!r}: expected a number in (0, 0.5)")
    likely = np.where(label, np.clip(prob, eps, 1 - eps), np.clip(1.0 - prob, eps, 1 - eps))
    return result(ratio((w * -np.log(likely)).sum(axis=1), w.sum(axis=1)), batched)


def brier(prob, label, *, weights=None):
    """Brier score Σ w_i (p_i − y_i)² / Σ w_i; ``sklearn.metrics.brier_score_loss``."""
    prob, label, w, batched = _binary(prob, label, weights)
    return result(ratio((w * (prob - label) ** 2).sum(axis=1), w.sum(axis=1)), batched)


def macro_auroc_ovr(probs, label, *, weights=None):
    """Multi-class one-vs-rest macro AUROC: the unweighted mean over the C classes of the AUROC
    of column c against "label = c", as ``roc_auc_score(label, probs, multi_class="ovr",
    average="macro")``. ``probs`` (n, C) in [0, 1], ``label`` integers 0 … C − 1. NaN when a
    class is absent. Rows need not sum to 1 (scikit-learn refuses such rows; the value depends
    only on each column's order)."""
    probs = probabilities(probs, name="probabilities", ndim=2)
    n, n_classes = probs.shape
    if n_classes < 2:
        raise InputError(f"probabilities: expected at least 2 classes (columns), got {n_classes}")
    label = integers(label, name="label", n=n, high=n_classes,
                     what=f"a class index 0 … {n_classes - 1}")
    w, batched = multiplicities(weights, n)
    per_class = []
    for c in range(n_classes):
        concordant, pairs = class_concordance(probs[:, c], w, label == c)
        per_class.append(ratio(concordant, pairs))
    return result(np.mean(per_class, axis=0), batched)


_BINARY = {
    "auroc": auroc,
    "average_precision": average_precision,
    "brier": brier,
    "log_loss": log_loss,
}
_THRESHOLDED = {
    "sensitivity": sensitivity,
    "specificity": specificity,
    "balanced_accuracy": balanced_accuracy,
}


def _needs(mapping: Mapping, key: str, what: str, name: str):
    if key not in mapping:
        raise InputError(f"metric {name}: needs {what} {key!r}")
    return mapping[key]


def set_metric(name: str, predictions: Mapping[str, np.ndarray],
               truth: Mapping[str, np.ndarray], *, config: Mapping, weights=None):
    """The value of the set-level metric ``name`` (a name of the registry, scorers.metrics).

    ``predictions``: ``"probability"`` (n,) for binary classification, ``"probabilities"`` (n, C)
    for ``macro_auroc``, ``"risk"`` (n,) for ``c_index``, ``uno_c`` and ``td_auc``,
    ``"survival"`` (n, T) for ``integrated_brier`` (S(t) at ``config["times"]``).
    ``truth``: ``"label"`` (n,) for classification, ``"time"`` and ``"event"`` (n,) for survival.
    ``config``: ``"threshold"`` (sensitivity, specificity, balanced_accuracy), ``"tau"``
    (uno_c), ``"times"`` (td_auc, integrated_brier); other keys are ignored. ``weights`` as
    every metric's. Returns a float, or a (B,) array for (B, n) weights; ``td_auc`` gives the
    mean AUC over the times (:func:`scorers.survival.cumulative_dynamic_auc`'s second value).
    """

    def pred(key):
        return _needs(predictions, key, "prediction", name)

    def ref(key):
        return _needs(truth, key, "ground truth", name)

    if name in _BINARY:
        return _BINARY[name](pred("probability"), ref("label"), weights=weights)
    if name in _THRESHOLDED:
        threshold = _needs(config, "threshold", "setting", name)
        return _THRESHOLDED[name](pred("probability"), ref("label"), threshold=threshold,
                                  weights=weights)
    if name == "macro_auroc":
        return macro_auroc_ovr(pred("probabilities"), ref("label"), weights=weights)
    if name == "c_index":
        return survival.harrell_c(pred("risk"), ref("time"), ref("event"), weights=weights)
    if name == "uno_c":
        return survival.uno_c(pred("risk"), ref("time"), ref("event"),
                              tau=_needs(config, "tau", "setting", name), weights=weights)
    if name == "td_auc":
        return survival.cumulative_dynamic_auc(
            pred("risk"), ref("time"), ref("event"),
            times=_needs(config, "times", "setting", name), weights=weights)[1]
    if name == "integrated_brier":
        return survival.integrated_brier(
            pred("survival"), ref("time"), ref("event"),
            times=_needs(config, "times", "setting", name), weights=weights)
    raise InputError(f"metric {name!r}: not a classification or survival metric")


_SURVIVAL_MANY = {
    "c_index": ("risk", lambda values, truth, config, weights: survival.harrell_c_many(
        values, truth["time"], truth["event"], weights=weights)),
    "uno_c": ("risk", lambda values, truth, config, weights: survival.uno_c_many(
        values, truth["time"], truth["event"], tau=_needs(config, "tau", "setting", "uno_c"),
        weights=weights)),
    "td_auc": ("risk", lambda values, truth, config, weights: survival.cumulative_dynamic_auc_many(
        values, truth["time"], truth["event"],
        times=_needs(config, "times", "setting", "td_auc"), weights=weights)[1]),
    "integrated_brier": ("survival", lambda values, truth, config, weights:
                         survival.integrated_brier_many(
                             values, truth["time"], truth["event"],
                             times=_needs(config, "times", "setting", "integrated_brier"),
                             weights=weights)),
}


def set_metric_many(name: str, predictions_list: Sequence[Mapping[str, np.ndarray]],
                    truth: Mapping[str, np.ndarray], *, config: Mapping, weights=None):
    """:func:`set_metric` for K algorithms' predictions on the same cases: a (K,) array, or
    (B, K) for (B, n) weights. Survival metrics compute the censoring distribution and the
    weights at risk once for all K (``scorers.survival.*_many``); classification metrics
    loop."""
    if name not in _SURVIVAL_MANY:
        return np.stack([np.asarray(set_metric(name, p, truth, config=config, weights=weights),
                                    dtype=np.float64) for p in predictions_list], axis=-1)
    key, function = _SURVIVAL_MANY[name]
    values = [_needs(p, key, "prediction", name) for p in predictions_list]
    for field in ("time", "event"):
        _needs(truth, field, "ground truth", name)
    return np.asarray(function(values, truth, config, weights), dtype=np.float64)
