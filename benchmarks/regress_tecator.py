"""Sequence regression on Tecator (sktime's wheel): lstmkit's Regressor beside MiniRocket + ridge
and the mean predictor, measured in the same run.

Two modes, so that no choice is made on the test split:

* ``--mode dev``: every candidate (``--candidates``, a JSON object name -> Regressor options)
  trains on a random 70 % of the *training* split and is scored on the other 30 %.
* ``--mode test``: the candidates train on the whole training split and are scored once on the
  test split (43 spectra).

Reported: RMSE, MAE, R², training seconds, inference ms per series.

Run: ``.venv/bin/python benchmarks/regress_tecator.py --mode dev|test [--candidates JSON]
[--out FILE.json]`` (MiniRocket needs numba: ``pip install "lstmkit[minirocket]"``).
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import time
from pathlib import Path

import numpy as np
import torch

from lstmkit import Regressor
from lstmkit.data.regression import load_regression, random_split


def scores(y: np.ndarray, pred: np.ndarray) -> dict:
    err = pred - y
    r2 = 1 - float((err**2).sum()) / float(((y - y.mean()) ** 2).sum())
    return {"rmse": round(float(np.sqrt((err**2).mean())), 4),
            "mae": round(float(np.abs(err).mean()), 4), "r2": round(r2, 4)}  # fmt: skip


def lstmkit_row(options: dict, train, test) -> dict:
    t0 = time.perf_counter()
    reg = Regressor(**options).fit(train.X, train.y, train.lengths)
    seconds = time.perf_counter() - t0
    reg.predict(test.X[:1])  # first-call set-up
    t0 = time.perf_counter()
    pred = reg.predict(test.X, test.lengths)
    ms = 1e3 * (time.perf_counter() - t0) / len(test)
    return scores(test.y, pred) | {"train_s": round(seconds, 1),
                                   "infer_ms_per_series": round(ms, 3)}  # fmt: skip


def minirocket_row(train, test) -> dict:
    from sklearn.linear_model import RidgeCV
    from sklearn.preprocessing import StandardScaler
    from sktime.transformations.panel.rocket import MiniRocketMultivariate

    def panel(data):  # sktime's numpy3D: (N, C, L)
        return np.ascontiguousarray(data.X.transpose(0, 2, 1), dtype=np.float64)

    t0 = time.perf_counter()
    transform = MiniRocketMultivariate(random_state=0).fit(panel(train))
    scaler = StandardScaler()
    features = scaler.fit_transform(np.asarray(transform.transform(panel(train))))
    ridge = RidgeCV(alphas=np.logspace(-3, 3, 10)).fit(features, train.y)
    seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    pred = ridge.predict(scaler.transform(np.asarray(transform.transform(panel(test)))))
    ms = 1e3 * (time.perf_counter() - t0) / len(test)
    return scores(test.y, pred) | {"train_s": round(seconds, 2),
                                   "infer_ms_per_series": round(ms, 3)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=["dev", "test"], required=True)
    ap.add_argument("--candidates", default='{"defaults": {}, "defaults x5": {"ensemble": 5}}',
                    help="JSON object, name -> Regressor options")  # fmt: skip
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-minirocket", action="store_true")
    ap.add_argument("--out", default="bench_results/regress_tecator.json")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    train, test = load_regression("tecator")
    if args.mode == "dev":
        keep, held = random_split(len(train), 0.3, args.seed)
        train, test = train.subset(keep), train.subset(held)
    rows = [{"model": "mean of the training targets"}
            | scores(test.y, np.full(len(test), train.y.mean()))]  # fmt: skip
    print(json.dumps(rows[0]), flush=True)
    for label, options in json.loads(args.candidates).items():
        row = {"model": label, "options": options}
        row |= lstmkit_row(options | {"random_state": args.seed}, train, test)
        print(json.dumps(row), flush=True)
        rows.append(row)
    if not args.no_minirocket:
        row = {"model": "MiniRocket (sktime) + ridge"} | minirocket_row(train, test)
        print(json.dumps(row), flush=True)
        rows.append(row)
    result = {
        "benchmark": "regress_tecator", "mode": args.mode, "seed": args.seed,
        "train_size": len(train), "eval_size": len(test), "torch": torch.__version__,
        "threads": torch.get_num_threads(), "machine": platform.processor() or platform.machine(),
        "rows": rows,
    }  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
