"""Evaluation metrics of the original fine-tuning (scikit-learn) and codebook-usage statistics of the tokenizer.

* :func:`binary_metrics` — accuracy and balanced accuracy at a threshold, AUROC and AUPR (TUAB);
* :func:`multiclass_metrics` — accuracy, balanced accuracy, Cohen's kappa and weighted F1 (TUEV);
* :func:`metrics_from_logits` / :func:`compute_metrics` — pick the right one from the logits' shape (the latter is
  the ``compute_metrics`` of :class:`transformers.Trainer`);
* :func:`codebook_statistics` — used / dead codes and perplexity of a vector of code counts.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["binary_metrics", "codebook_statistics", "compute_metrics", "metrics_from_logits", "multiclass_metrics"]


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def binary_metrics(labels: Sequence[int], scores: Sequence[float], threshold: float = 0.5) -> dict[str, float]:
    """Accuracy and balanced accuracy at ``threshold``, AUROC and AUPR (average precision) of positive-class scores."""
    from sklearn.metrics import accuracy_score, average_precision_score, balanced_accuracy_score, roc_auc_score

    y = np.asarray(labels).astype(int).reshape(-1)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    pred = (s >= threshold).astype(int)
    out = {
        "accuracy": float(accuracy_score(y, pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y, pred)),
    }
    if len(np.unique(y)) == 2:
        out["auroc"] = float(roc_auc_score(y, s))
        out["aupr"] = float(average_precision_score(y, s))
    else:  # undefined with one class present
        out["auroc"] = float("nan")
        out["aupr"] = float("nan")
    return out


def multiclass_metrics(labels: Sequence[int], predictions: Sequence[int]) -> dict[str, float]:
    """Accuracy, balanced accuracy, Cohen's kappa and weighted F1 (the TUEV metrics)."""
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, cohen_kappa_score, f1_score

    y = np.asarray(labels).astype(int).reshape(-1)
    p = np.asarray(predictions).astype(int).reshape(-1)
    return {
        "accuracy": float(accuracy_score(y, p)),
        "balanced_accuracy": float(balanced_accuracy_score(y, p)),
        "cohen_kappa": float(cohen_kappa_score(y, p)),
        "f1_weighted": float(f1_score(y, p, average="weighted", zero_division=0)),
    }


def metrics_from_logits(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """
    Metrics by problem shape: one logit (sigmoid, binary), two logits (softmax probability of class 1, binary), more
    (argmax, multiclass).
    """
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels)
    if logits.ndim == 1 or logits.shape[-1] == 1:
        scores = 1.0 / (1.0 + np.exp(-logits.reshape(-1)))
        return binary_metrics(labels.reshape(-1), scores)
    if logits.shape[-1] == 2:
        return binary_metrics(labels.reshape(-1), _softmax(logits)[:, 1])
    return multiclass_metrics(labels.reshape(-1), logits.argmax(axis=-1))


def compute_metrics(eval_pred) -> dict[str, float]:
    """``compute_metrics`` for :class:`transformers.Trainer` (see :func:`metrics_from_logits`)."""
    logits = eval_pred.predictions
    if isinstance(logits, (tuple, list)):
        logits = logits[0]
    return metrics_from_logits(logits, eval_pred.label_ids)


def codebook_statistics(counts: torch.Tensor) -> dict[str, float]:
    """Usage statistics of code counts [n_code]: used / dead codes, usage fraction and perplexity (exp entropy)."""
    counts = counts.double()
    p = counts / counts.sum().clamp(min=1)
    nonzero = p[p > 0]
    used = int((counts > 0).sum())
    return {
        "used_codes": used,
        "dead_codes": int(counts.numel() - used),
        "usage_fraction": used / counts.numel(),
        "perplexity": float((-(nonzero * nonzero.log()).sum()).exp()),
    }
