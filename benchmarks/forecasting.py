"""lstmkit's forecast defaults beside seasonal naive and statsmodels ETS, on the same test windows.

For each series (airline: monthly, shipped; co2: weekly with NaNs, statsmodels; sf_temps: hourly,
vega_datasets) this trains ``lstmkit.Forecaster`` with its defaults, then fits an ETS model
(statsmodels' state-space exponential smoothing, additive trend and season, on the log of
positive series) on the rows before the test part and forecasts every test window from its
origin with the parameters fixed. Prints a table and writes JSON.

    python benchmarks/forecasting.py [--series airline,co2,sf_temps] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from lstmkit.data.series import forecast_metrics, load_table
from lstmkit.estimators.forecaster import Forecaster

SERIES = ("airline", "co2", "sf_temps")


def ets_forecasts(y: np.ndarray, fit_end: int, origins: np.ndarray, horizon: int, season: int):
    """(N, H) ETS forecasts from each origin, parameters fitted on y[:fit_end] only.

    One Kalman filter pass over the whole series with the fitted parameters gives the filtered
    state a_t at every row; the forecast h steps after origin o is Z T^h a_{o-1} (checked equal
    to ``res.apply(y[:o]).forecast(H)`` to 1e-14, at a fraction of the cost)."""
    from statsmodels.tsa.statespace.exponential_smoothing import ExponentialSmoothing

    log = bool(np.all(y > 0))
    z = np.log(y) if log else y
    seasonal = season if season > 1 else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = ExponentialSmoothing(z[:fit_end], trend=True, seasonal=seasonal).fit(disp=False)
        full = res.apply(z)
    Z = np.asarray(full.model["design"])  # (1, k)
    T = np.asarray(full.model["transition"])  # (k, k)
    states = full.filter_results.filtered_state[:, origins - 1]  # (k, N)
    out, P = np.empty((len(origins), horizon)), T.copy()
    for h in range(horizon):
        out[:, h] = (Z @ P @ states)[0]
        P = T @ P
    return np.exp(out) if log else out


def run_one(name: str, seed: int) -> dict:
    df, defaults = load_table(name)
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    fc = Forecaster(seed=seed).fit(df, defaults["target"], defaults["time_col"])
    seconds = time.perf_counter() - t0
    m = fc.test_metrics_
    s = fc.last_scored_
    prep = fc.prepared_
    origins, truth = s["origins"], s["truth"]
    ets = ets_forecasts(prep.y, prep.bounds[2], origins, fc.horizon_, fc.season_)
    steps = origins[:, None] + np.arange(fc.horizon_)
    e = forecast_metrics(truth, ets, fc.mase_scale_, mask=prep.observed[steps])
    return {
        "series": name,
        "rows": len(prep.y),
        "freq": fc.frame_meta_["freq"],
        "season": fc.season_,
        "lookback": fc.lookback_,
        "horizon": fc.horizon_,
        "test_windows": int(m["test_windows"]),
        "lstmkit": {k[5:]: m[k] for k in m if k.startswith("test_") and k != "test_windows"},
        "seasonal_naive": {k[9:]: m[k] for k in m if k.startswith("baseline_")},
        "ets": e,
        "train_seconds": round(seconds, 1),
        "epochs": len(fc.history_),
    }


def format_table(rows: list[dict]) -> str:
    head = (
        "| series | H | windows | lstmkit MASE | seasonal naive MASE | ETS MASE | lstmkit sMAPE "
        "| SN sMAPE | ETS sMAPE | train s |"
    )
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        a, b, c = r["lstmkit"], r["seasonal_naive"], r["ets"]
        lines.append(
            f"| {r['series']} | {r['horizon']} | {r['test_windows']} | {a['mase']:.3f} | "
            f"{b['mase']:.3f} | {c['mase']:.3f} | {a['smape']:.2f} | {b['smape']:.2f} | "
            f"{c['smape']:.2f} | {r['train_seconds']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--series", default=",".join(SERIES))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="bench_results/forecasting.json")
    args = p.parse_args()
    rows = []
    for name in args.series.split(","):
        rows.append(run_one(name.strip(), args.seed))
        print(format_table(rows[-1:]).splitlines()[-1], flush=True)
    print()
    print(format_table(rows))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"machine": platform.machine(), "threads": torch.get_num_threads(), "seed": args.seed}
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
