"""``search.png``: the objective of every trial with the best so far, which hyperparameters
mattered (fANOVA importance), and the objective against the most important one."""

from __future__ import annotations

import logging
import math
import warnings
from pathlib import Path

from lstmkit.tune.space import Param
from lstmkit.viz.plots import _figure, _save

__all__ = ["param_importances", "plot_search"]

log = logging.getLogger(__name__)


def param_importances(study) -> dict[str, float]:
    """fANOVA importance of the parameters every completed trial has (empty when fewer than two
    trials completed or nothing varied)."""
    import optuna

    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if len(complete) < 2:
        return {}
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = optuna.importance.get_param_importances(study, evaluator=evaluator)
    except (RuntimeError, ValueError) as e:  # e.g. no parameter varies
        log.debug("no parameter importance: %s", e)
        return {}
    return {k: float(v) for k, v in found.items() if math.isfinite(v)}


def plot_search(
    study, space: list[Param], metric: str, path: str | Path, title: str = "tune"
) -> dict[str, float]:
    """Write the search plot to ``path``; returns the parameter importances it shows."""
    import optuna

    plt = _figure()
    states = optuna.trial.TrialState
    minimize = study.direction == optuna.study.StudyDirection.MINIMIZE
    importances = param_importances(study)
    panels = 3 if importances else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 4), squeeze=False)
    ax = axes[0][0]
    complete = [t for t in study.trials if t.state == states.COMPLETE]
    pruned = [t for t in study.trials if t.state == states.PRUNED and t.intermediate_values]
    failed = [t for t in study.trials if t.state == states.FAIL]
    ax.plot(
        [t.number for t in complete], [t.value for t in complete], "o", color="C0", label="complete"
    )
    if pruned:
        ax.plot(
            [t.number for t in pruned],
            [t.intermediate_values[t.last_step] for t in pruned],
            "x",
            color="C1",
            ms=8,
            label="pruned (value when stopped)",
        )
    if complete:
        xs, best, run = [], [], math.inf if minimize else -math.inf
        for t in sorted(complete, key=lambda t: t.number):
            run = min(run, t.value) if minimize else max(run, t.value)
            xs.append(t.number)
            best.append(run)
        last = study.trials[-1].number
        ax.step([*xs, last], [*best, best[-1]], where="post", color="C2", label="best so far")
    _log_if_wide(
        ax, [t.value for t in complete] + [t.intermediate_values[t.last_step] for t in pruned]
    )
    ax.set_xlabel("trial")
    ax.set_ylabel(metric)
    note = f", {len(failed)} failed" if failed else ""
    ax.set_title(f"{title}: {len(complete)} complete, {len(pruned)} pruned{note}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if importances:
        _importance_panel(axes[0][1], importances)
        top = next(iter(importances))
        _value_vs_param(axes[0][2], complete, {p.name: p for p in space}.get(top), top, metric)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return importances


def _importance_panel(ax, importances: dict[str, float]) -> None:
    names = list(importances)[::-1]  # most important on top
    ax.barh(names, [importances[n] for n in names], color="C0")
    ax.set_xlabel("importance (fANOVA, share of variance)")
    ax.set_title("what mattered", fontsize=10)
    ax.grid(alpha=0.3, axis="x")


def _value_vs_param(ax, complete, param: Param | None, name: str, metric: str) -> None:
    trials = [t for t in complete if name in t.params]
    xs = [t.params[name] for t in trials]
    ys = [t.value for t in trials]
    if param is not None and param.kind == "categorical":
        labels = [str(c) for c in param.choices]
        ax.set_xticks(range(len(labels)), labels)
        ax.set_xlim(-0.5, len(labels) - 0.5)
        xs = [labels.index(str(x)) for x in xs]
    elif param is not None and param.log:
        from matplotlib.ticker import NullFormatter

        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # no crowded 2x10^-4, 3x10^-4, ...
    if param is not None and param.kind != "categorical":
        pad = 0.0 if param.log else 0.03 * (param.high - param.low)
        ax.set_xlim(param.low - pad, param.high + pad)  # the whole searched range
    ax.plot(xs, ys, "o", color="C0")
    _log_if_wide(ax, ys)
    ax.set_xlabel(name)
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} vs {name} (complete trials)", fontsize=10)
    ax.grid(alpha=0.3)


def _log_if_wide(ax, values: list[float]) -> None:
    """A log scale when positive values span more than a factor of 20 (a diverging trial)."""
    if values and min(values) > 0 and max(values) / min(values) > 20:
        ax.set_yscale("log")
