"""Loss curves and confusion matrices as PNG files, written atomically."""

from __future__ import annotations

import io
from pathlib import Path

from lstmkit.train.checkpoint import atomic_write_bytes

__all__ = ["plot_confusion", "plot_loss", "plot_predicted"]


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())


def plot_loss(history: list[dict], path: str | Path, title: str = "training") -> None:
    """Train (and validation) loss per epoch, learning rate on a second axis."""
    plt = _figure()
    epochs = [row["epoch"] for row in history]
    fig, ax = plt.subplots(figsize=(6.4, 4))
    few = len(epochs) <= 40  # markers only while they can be told apart
    ax.plot(epochs, [row["loss"] for row in history], "o-" if few else "-", label="train loss")
    if any("val_loss" in row for row in history):
        val = [row.get("val_loss") for row in history]
        ax.plot(epochs, val, "s-" if few else "-", label="validation loss")
    losses = [v for row in history for v in (row["loss"], row.get("val_loss")) if v]
    if losses and min(losses) > 0 and max(losses) / min(losses) > 100:
        ax.set_yscale("log")  # long runs fall over decades
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    lr_ax = ax.twinx()
    lr_ax.plot(epochs, [row["lr"] for row in history], ":", color="gray", label="lr (end)")
    lr_ax.set_ylabel("learning rate", color="gray")
    lines = ax.get_legend_handles_labels()[0] + lr_ax.get_legend_handles_labels()[0]
    ax.legend(lines, [line.get_label() for line in lines], loc="upper right")
    _save(fig, path)
    plt.close(fig)


def plot_confusion(confusion: list[list[int]], classes: list[str], path: str | Path) -> None:
    """Row-normalised confusion matrix with counts in the cells."""
    import numpy as np

    plt = _figure()
    cm = np.asarray(confusion, dtype=float)
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    k = len(classes)
    size = max(4.0, 0.55 * k + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(k), classes, rotation=45, ha="right")
    ax.set_yticks(range(k), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if k <= 30:
        for i in range(k):
            for j in range(k):
                color = "white" if norm[i, j] > 0.5 else "black"
                ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=8, color=color)
    acc = np.trace(cm) / max(cm.sum(), 1)
    ax.set_title(f"confusion (accuracy {acc:.3f})")
    _save(fig, path)
    plt.close(fig)


def plot_predicted(y_true, y_pred, path: str | Path, title: str = "predicted vs true") -> None:
    """Predicted against true values (first target), the diagonal y = x, and RMSE / R²."""
    import numpy as np

    plt = _figure()
    t = np.asarray(y_true, dtype=float).reshape(len(y_true), -1)[:, 0]
    p = np.asarray(y_pred, dtype=float).reshape(len(y_true), -1)[:, 0]
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(t, p, s=14, alpha=0.7, edgecolors="none")
    low, high = float(min(t.min(), p.min())), float(max(t.max(), p.max()))
    ax.plot([low, high], [low, high], "--", color="gray", lw=1, label="y = x")
    rmse = float(np.sqrt(((p - t) ** 2).mean()))
    ss = float(((t - t.mean()) ** 2).sum())
    r2 = 1 - float(((p - t) ** 2).sum()) / ss if ss > 0 else float("nan")
    ax.set_xlabel("true")
    ax.set_ylabel("predicted")
    ax.set_title(f"{title} (RMSE {rmse:.4g}, R² {r2:.3f})")
    ax.set_aspect("equal", adjustable="datalim")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    _save(fig, path)
    plt.close(fig)
