"""One series, one origin: train on the history, forecast the next horizon (issue 12, item 1).

For each series the last ``horizon`` steps are held out; lstmkit's single-series ``Forecaster``
and the ``PanelForecaster`` on the series as a panel of one (both with their defaults) are
trained on the steps before, and scored beside the seasonal naive, AutoETS and AutoTheta
forecast from the same history (MASE scaled by the history's in-sample seasonal naive).

    python benchmarks/single_origin.py [--out benchmarks/results/single_origin-2core-cpu.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lstmkit import Forecaster, PanelForecaster
from lstmkit.data.panel import metrics as pm
from lstmkit.data.panel import statbaselines as sb


def series() -> dict[str, tuple[pd.DataFrame, str, str, int, int]]:
    """name -> (frame, target, time column, horizon, season)."""
    import statsmodels.api as sm

    sun = sm.datasets.sunspots.load_pandas().data
    sun["YEAR"] = pd.to_datetime(sun["YEAR"].astype(int).astype(str))
    air = pd.read_csv(Path(__file__).parents[1] / "src/lstmkit/datasets/airline.csv")
    air.columns = ["month", "passengers"]
    air["month"] = pd.to_datetime(air["month"])
    return {
        "sunspots (yearly, one 11-year cycle)": (sun, "SUNACTIVITY", "YEAR", 11, 1),
        "airline (monthly)": (air, "passengers", "month", 12, 12),
    }


def run(name, df, target, time_col, h, m, seed) -> dict:
    history, truth = df.iloc[:-h], df[target].to_numpy(np.float64)[-h:]
    y = history[target].to_numpy(np.float64)
    scale = pm.mase_scales([y], m)

    def mase(f):
        return float(pm.mase(truth[None], np.asarray(f, np.float64)[None], scale)[0])

    out = {}
    t0 = time.perf_counter()
    single = Forecaster(horizon=h, season=m, random_state=seed).fit(history, target, time_col)
    out["lstmkit Forecaster"] = mase(single.predict(history)[target].to_numpy()[:h])
    out["lstmkit Forecaster seconds"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    panel = PanelForecaster(horizon=h, season=m, baselines=False, random_state=seed)
    panel.fit(df.assign(series=name), target=target, time_col=time_col, id_col="series")
    out["lstmkit PanelForecaster"] = panel.test_metrics_["test_mase"]
    out["lstmkit PanelForecaster seconds"] = round(time.perf_counter() - t0, 1)
    out["seasonal naive"] = mase(sb.seasonal_naive([y], h, m)[0])
    for k, f in sb.statistical_forecasts([y], h, m).items():
        out[{"ets": "AutoETS", "theta": "AutoTheta"}[k]] = mase(f[0])
    return {k: round(v, 3) for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="benchmarks/results/single_origin-2core-cpu.json")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    results = {}
    for name, (df, target, time_col, h, m) in series().items():
        results[name] = r = run(name, df, target, time_col, h, m, args.seed)
        print(f"{name}: " + ", ".join(f"{k} {v}" for k, v in r.items()), flush=True)
    meta = {"torch": torch.__version__, "threads": torch.get_num_threads(), "seed": args.seed}
    Path(args.out).write_text(json.dumps({"meta": meta, "mase": results}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
