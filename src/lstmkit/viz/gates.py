"""Inside the network: gate heatmaps, state trajectories, forget-gate saturation, per-step
gradient norms and input saliency, as PNG files (matplotlib, Agg backend).

Every function takes plain NumPy arrays (one sample, one layer) and a path; ``lstmkit.inspect``
chooses what goes in. Time runs along x everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lstmkit.viz.plots import _figure, _save

__all__ = [
    "GATE_NAMES",
    "plot_forget",
    "plot_gates",
    "plot_grad_norms",
    "plot_saliency",
    "plot_states",
]

GATE_NAMES = {
    "i": "input gate i",
    "f": "forget gate f",
    "g": "candidate g",
    "o": "output gate o",
    "r": "reset gate r",
    "z": "update gate z",
    "n": "candidate n",
}
_TANH = ("g", "n")  # in (-1, 1); the other gates are sigmoids in (0, 1)
_DIRECTIONS = ("forward", "backward")


def _time_axis(
    ax, steps: Sequence[str] | None, length: int, label: str = "step", most: int = 48
) -> None:
    """x label, and a tick label per step when there are at most ``most`` steps."""
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel(label)
    if steps is not None and len(steps) == length and length <= most:
        wide = length > 12 or max(len(s) for s in steps) > 3
        ax.set_xticks(range(length), steps, rotation=90 if wide else 0, fontsize=7)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _unit_axis(ax, units: Sequence[int] | None, count: int) -> None:
    ax.set_ylabel("unit")
    if units is not None and count <= 32:
        ax.set_yticks(range(count), [str(u) for u in units], fontsize=7)


def plot_gates(
    gates: dict[str, np.ndarray],
    path: str | Path,
    *,
    title: str,
    steps: Sequence[str] | None = None,
    units: Sequence[int] | None = None,
) -> None:
    """One heatmap (units x time) per gate and direction; gates: key -> (D, L, H).

    Sigmoid gates share the colour scale 0..1, the candidate (g, n) -1..1.
    """
    plt = _figure()
    keys = list(gates)
    num_dirs, length, hidden = next(iter(gates.values())).shape
    width = min(4.2, max(2.4, 0.09 * length + 1.2))
    size = (width * len(keys) + 1.2, max(2.2, 0.13 * hidden + 1.3) * num_dirs)
    fig, axes = plt.subplots(num_dirs, len(keys), figsize=size, squeeze=False, layout="constrained")
    images = {}
    for d in range(num_dirs):
        for j, key in enumerate(keys):
            ax = axes[d, j]
            tanh = key in _TANH
            images[tanh] = ax.imshow(gates[key][d].T, aspect="auto", interpolation="nearest",
                                     cmap="RdBu_r" if tanh else "viridis",
                                     vmin=-1.0 if tanh else 0.0, vmax=1.0)  # fmt: skip
            name = GATE_NAMES.get(key, key)
            ax.set_title(name if num_dirs == 1 else f"{name}, {_DIRECTIONS[d]}", fontsize=9)
            _time_axis(ax, steps, length)
            if j == 0:
                _unit_axis(ax, units, hidden)
            else:
                ax.set_yticks([])
    sig = [axes[d, j] for d in range(num_dirs) for j, k in enumerate(keys) if k not in _TANH]
    tanh = [axes[d, j] for d in range(num_dirs) for j, k in enumerate(keys) if k in _TANH]
    if sig:
        fig.colorbar(images[False], ax=sig, fraction=0.03, pad=0.01, label="sigmoid gate (0..1)")
    if tanh:
        fig.colorbar(images[True], ax=tanh, fraction=0.05, pad=0.01, label="candidate (-1..1)")
    fig.suptitle(title, fontsize=10)
    _save(fig, path)
    plt.close(fig)


def plot_states(
    c: np.ndarray | None,
    h: np.ndarray,
    path: str | Path,
    *,
    title: str,
    steps: Sequence[str] | None = None,
    units: Sequence[int] | None = None,
    top_k: int = 5,
) -> None:
    """Per direction: the cell state as a heatmap (units x time; GRU: the hidden state), and
    the trajectories of c and h for the ``top_k`` units whose state moves furthest.

    c, h: (D, L, H); c is None for a GRU.
    """
    plt = _figure()
    state = h if c is None else c
    num_dirs, length, hidden = h.shape
    units = list(range(hidden)) if units is None else list(units)
    cols = 2 if c is None else 3
    size = (4.6 * cols, max(3.2, 0.09 * hidden + 1.6) * num_dirs)
    fig, axes = plt.subplots(num_dirs, cols, figsize=size, squeeze=False)
    t = np.arange(length)
    for d in range(num_dirs):
        s = state[d]  # (L, H)
        vmax = max(float(np.abs(s).max()), 1e-6)
        ax = axes[d, 0]
        im = ax.imshow(s.T, aspect="auto", interpolation="nearest", cmap="RdBu_r",
                       vmin=-vmax, vmax=vmax)  # fmt: skip
        fig.colorbar(im, ax=ax, fraction=0.05, pad=0.02)
        name = "hidden state h" if c is None else "cell state c"
        suffix = "" if num_dirs == 1 else f", {_DIRECTIONS[d]}"
        ax.set_title(name + suffix, fontsize=9)
        _time_axis(ax, steps, length)
        _unit_axis(ax, units, hidden)
        top = np.argsort(-np.abs(s).max(0))[: min(top_k, hidden)]  # (k,) furthest-moving units
        lines = [(c[d], "cell state c")] if c is not None else []
        for ax, (v, label) in zip(axes[d, 1:], [*lines, (h[d], "hidden state h")], strict=True):
            for u in top:
                ax.plot(t, v[:, u], marker="." if length <= 40 else None, label=f"unit {units[u]}")
            ax.axhline(0, color="gray", lw=0.5)
            ax.set_title(f"{label}: top {len(top)} units{suffix}", fontsize=9)
            _time_axis(ax, steps, length)
            ax.grid(alpha=0.3)
        axes[d, -1].set_ylim(-1.05, 1.05)
        axes[d, -1].legend(fontsize=7, loc="best")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def plot_forget(
    panels: Sequence[tuple[str, np.ndarray, float, float]],
    path: str | Path,
    *,
    low: float,
    high: float,
    gate: str = "f",
    title: str = "forget-gate saturation",
) -> None:
    """A histogram of the gate's values per layer and direction, the saturated zones shaded.

    panels: ``(label, values (any shape), share_low, share_high)`` each.
    """
    plt = _figure()
    n = len(panels)
    cols = min(n, 4)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.8 * rows), squeeze=False)
    bins = np.linspace(0.0, 1.0, 41)
    for ax, (label, values, share_low, share_high) in zip(axes.flat, panels, strict=False):
        v = np.asarray(values).ravel()
        ax.hist(v, bins=bins, color="tab:blue", weights=np.full(v.size, 1.0 / max(v.size, 1)))
        ax.axvspan(0.0, low, color="tab:red", alpha=0.15)
        ax.axvspan(high, 1.0, color="tab:green", alpha=0.15)
        ax.set_title(f"{label}\n< {low:g}: {share_low:.1%}    > {high:g}: {share_high:.1%}",
                     fontsize=9)  # fmt: skip
        ax.set_xlabel(f"{GATE_NAMES.get(gate, gate)} value")
        ax.set_ylabel("share of values")
        ax.set_xlim(0, 1)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def plot_grad_norms(
    lines: Sequence[tuple[str, np.ndarray]],
    path: str | Path,
    *,
    title: str,
    steps: Sequence[str] | None = None,
) -> None:
    """||dLoss/dh_t|| against the step t, log scale, one line per layer and direction."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    length = 0
    for label, norms in lines:
        norms = np.asarray(norms, dtype=float)
        length = max(length, len(norms))
        shown = np.where(norms > 0, norms, np.nan)  # zeros (padded steps) have no log
        ax.plot(np.arange(len(norms)), shown, marker="." if len(norms) <= 60 else None,
                label=label)  # fmt: skip
    ax.set_yscale("log")
    ax.set_ylabel("||dLoss / dh_t||")
    _time_axis(ax, steps, length)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    _save(fig, path)
    plt.close(fig)


def plot_saliency(
    shown: np.ndarray | None,
    grad: np.ndarray,
    inputs: np.ndarray,
    path: str | Path,
    *,
    title: str,
    steps: Sequence[str] | None = None,
    channels: Sequence[str] | None = None,
) -> None:
    """Input saliency. With ``shown`` (L, C), the input as a person reads it: three heatmaps
    (channels x time): the input, |dLoss/dx| and gradient x input. Without (token ids): a bar
    per step of ||dLoss/de_t|| over the token's embedding e_t.

    grad, inputs: (L, C), the gradient and the input the model read.
    """
    plt = _figure()
    length = grad.shape[0]
    if shown is None:
        fig, ax = plt.subplots(figsize=(min(16.0, max(6.4, 0.16 * length + 2)), 3.4))
        ax.bar(np.arange(length), np.linalg.norm(grad, axis=1), color="tab:orange")
        ax.set_ylabel("||dLoss / de_t||")
        _time_axis(ax, steps, length, "token", most=120)
        ax.set_title(title, fontsize=10)
        _save(fig, path)
        plt.close(fig)
        return
    num_ch = grad.shape[1]
    gx = grad * inputs
    gmax = max(float(np.abs(gx).max()), 1e-12)
    fig, axes = plt.subplots(1, 3, figsize=(13.5, max(2.8, 0.16 * num_ch + 1.6)))
    panels = [
        (shown, "input", "gray_r", None, None),
        (np.abs(grad), "|dLoss / dx|", "magma_r", 0.0, None),
        (gx, "gradient x input", "RdBu_r", -gmax, gmax),
    ]
    for ax, (v, name, cmap, vmin, vmax) in zip(axes, panels, strict=True):
        im = ax.imshow(v.T, aspect="auto", interpolation="nearest", cmap=cmap,
                       vmin=vmin, vmax=vmax)  # fmt: skip
        fig.colorbar(im, ax=ax, fraction=0.05, pad=0.02)
        ax.set_title(name, fontsize=9)
        _time_axis(ax, steps, length)
        ax.set_ylabel("channel")
        if channels is not None and num_ch <= 32:
            ax.set_yticks(range(num_ch), list(channels), fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
