"""Scale: a synthetic panel of many series trains one epoch within a memory budget.

Builds a long table (``unique_id``, ``ds`` daily dates, ``y``: weekly season, trend and noise
at levels spread over three orders of magnitude), reads it into a panel, trains one epoch of
``PanelForecaster`` (every series gives one window) and scores the last horizon of every
series. Reports seconds per phase, training windows per second and the peak resident memory
of the process (``ru_maxrss``), which must stay under 4 GB for 100,000 x 200.

    python benchmarks/panel_scale.py [--series 100000] [--steps 200]
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def synthetic(series: int, steps: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(steps, dtype=np.float32)
    level = (10 ** rng.uniform(0, 3, series)).astype(np.float32)[:, None]
    phase = rng.integers(0, 7, series)[:, None]
    season = 1 + 0.3 * np.sin(2 * np.pi * (t[None, :] + phase) / 7)
    trend = 1 + rng.normal(0, 0.002, series).astype(np.float32)[:, None] * t[None, :]
    noise = 1 + 0.05 * rng.standard_normal((series, steps), dtype=np.float32)
    y = (level * season * trend * noise).astype(np.float32)
    return pd.DataFrame({
        "unique_id": np.repeat(np.arange(series), steps),
        "ds": np.tile(pd.date_range("2020-01-01", periods=steps, freq="D").to_numpy(), series),
        "y": y.reshape(-1),
    })  # fmt: skip


def main() -> None:
    from lstmkit import PanelForecaster
    from lstmkit.data.panel import panel_from_long

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=100_000)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--out", default="benchmarks/results/panel_scale-2core-cpu.json")
    args = ap.parse_args()
    out = {"series": args.series, "steps": args.steps, "threads": torch.get_num_threads()}
    t0 = time.perf_counter()
    df = synthetic(args.series, args.steps)
    out["table_seconds"], out["table_gb"] = round(time.perf_counter() - t0, 1), round(peak_gb(), 2)
    t0 = time.perf_counter()
    panel = panel_from_long(df, target="y", id_col="unique_id", time_col="ds")
    del df
    out["load_seconds"], out["load_peak_gb"] = (
        round(time.perf_counter() - t0, 1),
        round(peak_gb(), 2),
    )
    fc = PanelForecaster(horizon=14, epochs=1, windows_per_series=1, baselines=False, verbose=1)
    t0 = time.perf_counter()
    fc.fit(panel)
    out["fit_seconds"] = round(time.perf_counter() - t0, 1)
    out["train_seconds"] = round(fc.train_seconds_, 1)
    out["windows_per_second"] = round(args.series / fc.history_[0]["seconds"], 0)
    out["peak_gb"] = round(peak_gb(), 2)
    out["test_mase"] = round(fc.test_metrics_["test_mase"], 3)
    out["naive_mase"] = round(fc.test_metrics_["naive_mase"], 3)
    print(json.dumps(out, indent=1))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
