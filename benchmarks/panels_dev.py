"""Development split of the competition sets: how the panel forecaster's defaults were chosen.

The competition's test parts are never read here. Each built-in set's *training* parts are cut
once more: the last horizon of every history is the development target, the steps before it
the history the model (and AutoETS / AutoTheta, cached after the first run) learns from. Options
are compared on these development scores; the test parts are scored once, by
``benchmarks/panels.py``, with the defaults chosen here.

    python benchmarks/panels_dev.py --sets m3-monthly,m1-monthly --opt ensemble=3 --opt lr=1e-3
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

import lstmkit.estimators.panel_forecaster as pf
from lstmkit import PanelForecaster
from lstmkit.data.panel import load_builtin_panel
from lstmkit.data.panel import metrics as pm
from lstmkit.data.panel import statbaselines as sb
from lstmkit.estimators._panel_data import PanelSource

SETS = ("m1-monthly", "m1-quarterly", "m3-yearly", "m3-quarterly", "m3-monthly", "m3-other",
        "tourism-yearly", "tourism-quarterly", "tourism-monthly")  # fmt: skip


def dev_source(name: str) -> PanelSource:
    """The set's training parts with their last horizon held out as the development target."""
    b = load_builtin_panel(name)
    head, tail = b.train.split_tail(b.horizon)
    return PanelSource(head, tail, b.horizon, b.season, f"{name}-dev")


def stat_forecasts(name: str, source: PanelSource, cache: Path) -> dict[str, np.ndarray]:
    path = cache / f"{name}-dev-stats.npz"
    if path.is_file():
        return dict(np.load(path))
    p = source.panel
    histories = [p.target[p.offsets[i] : p.offsets[i + 1]] for i in range(len(p))]
    out = sb.statistical_forecasts(histories, source.horizon, source.season)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(path, **out)
    return out


def scores(source: PanelSource, point: np.ndarray) -> tuple[float, float]:
    p, t = source.panel, source.test
    histories = [p.target[p.offsets[i] : p.offsets[i + 1]] for i in range(len(p))]
    truth = t.target.reshape(len(t), -1).astype(np.float64)
    scale = pm.mase_scales(histories, source.season)
    s = pm.score_panel(truth, point, scale, np.ones_like(truth))
    return float(np.nanmean(s["smape"])), float(np.nanmean(s["mase"]))


def run(name: str, options: dict, seed: int, cache: Path) -> dict:
    source = dev_source(name)
    pf.panel_source = lambda data, **kw: source  # the estimator reads the development split
    t0 = time.perf_counter()
    fc = PanelForecaster(baselines=False, random_state=seed, **options).fit(name)
    seconds = time.perf_counter() - t0
    point = fc.last_scored_["point"]
    stats = stat_forecasts(name, source, cache)
    p = source.panel
    histories = [p.target[p.offsets[i] : p.offsets[i + 1]] for i in range(len(p))]
    forecasts = {
        "lstmkit": point,
        "snaive": sb.seasonal_naive(histories, source.horizon, source.season),
        **stats,
        "lstmkit+theta": (point + stats["theta"]) / 2,
        "median3": np.median(np.stack([point, stats["ets"], stats["theta"]]), axis=0),
        "mean3": (point + stats["ets"] + stats["theta"]) / 3,
    }
    out = {"seconds": round(seconds, 1), "epochs": len(fc.history_)}
    for k, f in forecasts.items():
        out[k] = [round(v, 4) for v in scores(source, np.asarray(f, np.float64))]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--opt", action="append", default=[], help="option=JSON value")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", default="benchmarks/results/.dev-cache")
    ap.add_argument("--out", help="append the results as one JSON line to this file")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    options = {}
    for o in args.opt:
        k, v = o.split("=", 1)
        options[k] = json.loads(v) if v[:1] in '-0123456789[{tfn"' else v
    results = {}
    for name in args.sets.split(","):
        r = results[name] = run(name, options, args.seed, Path(args.cache))
        cells = "  ".join(f"{k} {v[0]:.2f}/{v[1]:.3f}" for k, v in r.items()
                          if isinstance(v, list))  # fmt: skip
        print(f"{name:<18} {r['seconds']:6.1f}s  {cells}", flush=True)
    if args.out:
        with open(args.out, "a") as f:
            f.write(json.dumps({"options": options, "seed": args.seed, "results": results}) + "\n")


if __name__ == "__main__":
    main()
