"""Metrics per task, as plain floats / lists so they go straight into metrics.json."""

from __future__ import annotations

import numpy as np

__all__ = ["classification_metrics", "regression_metrics"]


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> dict:
    """Accuracy, macro F1, per-class precision and recall, and the confusion matrix."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
    from sklearn.metrics import precision_recall_fscore_support as prfs

    labels = list(range(len(classes)))
    precision, recall, _, support = prfs(y_true, y_pred, labels=labels, zero_division=0)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(
            f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
        ),
        "per_class": {
            name: {"precision": float(p), "recall": float(r), "support": int(s)}
            for name, p, r, s in zip(classes, precision, recall, support, strict=True)
        },
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray, baseline: np.ndarray) -> dict:
    """RMSE, MAE and R² of predictions (N,) or (N, T) against targets, beside those of the
    ``baseline`` predictor (T,) (the training targets' mean: R² 0 on data like the training
    data); over all targets together, R² averaged over targets."""
    from sklearn.metrics import r2_score

    t = np.asarray(y_true, dtype=np.float64).reshape(len(y_true), -1)
    p = np.asarray(y_pred, dtype=np.float64).reshape(len(y_true), -1)
    b = np.broadcast_to(np.asarray(baseline, dtype=np.float64).reshape(1, -1), t.shape)

    def scores(pred: np.ndarray) -> dict[str, float]:
        err = pred - t
        r2 = float(r2_score(t, pred)) if len(t) > 1 else float("nan")
        return {"rmse": float(np.sqrt((err**2).mean())), "mae": float(np.abs(err).mean()),
                "r2": r2}  # fmt: skip

    return {"model": scores(p), "baseline": scores(b)}
