"""Global forecaster on the M3 and Tourism competition sets, beside the statistical methods.

For every set, lstmkit's ``PanelForecaster`` with its defaults is trained on the competition's
training parts (validation: the last horizon of each training part) and scored once on the
competition's test parts; seasonal naive, Naive2, AutoETS and AutoTheta (statsforecast) are
forecast from the same histories in the same run. Two lstmkit rows come from the one trained
model: the LSTM alone, and ``combine="median"`` (the median of the LSTM's, AutoETS' and
AutoTheta's forecasts; chosen on the development splits of ``panels_dev.py``). Prints a table
and writes JSON with the published figures beside.

    python benchmarks/panels.py [--sets m3-yearly,...] [--out benchmarks/results/panels.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from lstmkit import PanelForecaster

SETS = ("m3-yearly", "m3-quarterly", "m3-monthly", "m3-other",
        "tourism-yearly", "tourism-quarterly", "tourism-monthly")  # fmt: skip

# sMAPE: Makridakis & Hibon (2000), Oreshkin et al. (2020); MASE: Monash archive (Godahewa et
# al. 2021). None: not published there.
PUBLISHED = {
    "m3-yearly": {"theta_smape": 16.90, "nbeats_smape": 15.93, "theta_mase": 3.015,
                  "deepar_mase": 3.205, "nbeats_mase": 2.977},
    "m3-quarterly": {"theta_smape": 8.96, "nbeats_smape": 8.84},
    "m3-monthly": {"theta_smape": 13.85, "nbeats_smape": 13.11, "theta_mase": 0.864,
                   "ets_mase": 0.865, "deepar_mase": 1.167, "nbeats_mase": 0.934},
    "m3-other": {"theta_smape": 4.41, "nbeats_smape": 4.24},
    "tourism-yearly": {},
    "tourism-quarterly": {"ets_mase": 1.592, "deepar_mase": 1.597, "nbeats_mase": 1.475},
    "tourism-monthly": {"ets_mase": 1.526, "deepar_mase": 1.409, "nbeats_mase": 1.574},
}  # fmt: skip
ROWS = (("lstmkit LSTM", "lstm"), ("lstmkit combined", "test"), ("seasonal naive", "baseline"),
        ("naive2", "naive2"), ("AutoETS", "ets"), ("AutoTheta", "theta"))  # fmt: skip


def run_set(name: str, seed: int, combine: str) -> dict:
    t0 = time.perf_counter()
    fc = PanelForecaster(random_state=seed, combine=combine).fit(name)
    total = time.perf_counter() - t0
    m = fc.test_metrics_
    stat = m.get("ets_seconds", 0.0) + m.get("theta_seconds", 0.0)
    out = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in m.items()}
    out |= {"lstmkit_seconds": round(total - stat, 1), "statsforecast_seconds": round(stat, 1),
            "train_seconds": round(fc.train_seconds_, 1), "epochs": len(fc.history_),
            "lookback": fc.lookback_, "horizon": fc.horizon_,
            "smape_per_series": fc.series_metrics_["smape"].tolist(),
            "mase_per_series": fc.series_metrics_["mase"].tolist()}  # fmt: skip
    for prefix in ("lstm", "baseline", "ets", "theta"):
        if f"{prefix}_smape" in fc.series_metrics_:
            out[f"{prefix}_smape_per_series"] = fc.series_metrics_[f"{prefix}_smape"].tolist()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--combine", default="median", help="the combined row's rule (mean, median)")
    ap.add_argument("--out", default="benchmarks/results/panels-2core-cpu.json")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    results = {}
    for name in args.sets.split(","):
        results[name] = r = run_set(name, args.seed, args.combine)
        print(f"\n{name}: {r['series']} series, horizon {r['horizon']}, look-back "
              f"{r['lookback']}; lstmkit {r['lstmkit_seconds']} s, statsforecast "
              f"{r['statsforecast_seconds']} s")  # fmt: skip
        for label, key in ROWS:
            if r.get(f"{key}_smape") is not None:
                print(f"  {label:<17} sMAPE {r[f'{key}_smape']:7.2f}  MASE {r[f'{key}_mase']:6.3f}")
        if r.get("test_coverage") is not None:
            print(f"  80% interval coverage {r['test_coverage']:.3f}, MSIS {r['test_msis']:.3f}")
    m3 = [n for n in results if n.startswith("m3-")]
    if len(m3) == 4:  # the whole of M3: means over its 3,003 series
        summary = {}
        for key in ("", "lstm_", "baseline_", "ets_", "theta_"):
            values = np.concatenate([results[n][f"{key}smape_per_series"] for n in m3])
            summary[f"{key or 'test_'}smape"] = round(float(np.nanmean(values)), 3)
        summary["lstmkit_seconds"] = round(sum(results[n]["lstmkit_seconds"] for n in m3), 1)
        summary["statsforecast_seconds"] = round(
            sum(results[n]["statsforecast_seconds"] for n in m3), 1
        )
        results["m3-all"] = summary
        print(f"\nM3 all (3,003 series): sMAPE lstmkit LSTM {summary['lstm_smape']:.2f}, "
              f"combined {summary['test_smape']:.2f}, AutoETS "
              f"{summary['ets_smape']:.2f}, AutoTheta {summary['theta_smape']:.2f}; "
              f"lstmkit {summary['lstmkit_seconds']} s, statsforecast "
              f"{summary['statsforecast_seconds']} s")  # fmt: skip
    meta = {"machine": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "threads": torch.get_num_threads(), "torch": torch.__version__,
            "published": PUBLISHED}  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
