"""Sequence classification on UCR / UEA sets that ship offline: lstmkit beside MiniRocket.

Two modes, so that no choice is made on a test split:

* ``--mode dev``: every candidate setting (``--candidates``, a JSON object name -> Classifier
  options) trains on a stratified part of each set's *training* split and is scored on the rest
  (``--val-fraction``, seeded); pick the defaults from these numbers.
* ``--mode test``: lstmkit's defaults (``--options``, one model and ``--ensemble K``) and
  MiniRocket (sktime's transform and a ridge classifier with cross-validated alpha, as its
  authors use it) train on the whole training split and are scored once on the test split, in
  the same run; the published columns sit beside them.

Reported per set: accuracy, training seconds, inference ms per series.

Run: ``.venv/bin/python benchmarks/classify_ucr.py --mode dev|test [--sets GunPoint,...]
[--candidates JSON] [--options JSON] [--ensemble K] [--out FILE.json]`` (MiniRocket needs
numba: ``pip install "lstmkit[minirocket]"``).
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

from lstmkit import Classifier
from lstmkit.data import load_classification, stratified_split

# Published test accuracies (README / issue 14): LSTM-FCN (titu1994/LSTM-FCN), InceptionTime
# (hfawaz/InceptionTime), MiniRocket and HC2 (means of 30 resamples, ChangWeiTan/MultiRocket).
PUBLISHED = {
    "GunPoint": {"LSTM-FCN": 1.000, "InceptionTime": 1.000, "MiniRocket": 0.9924, "HC2": 0.9989},
    "ArrowHead": {"LSTM-FCN": 0.8971, "InceptionTime": 0.8457, "MiniRocket": 0.8810,
                  "HC2": 0.8863},
    "OSULeaf": {"LSTM-FCN": 0.9835, "InceptionTime": 0.9421, "MiniRocket": 0.9576, "HC2": 0.9656},
}  # fmt: skip
SETS = ("GunPoint", "ArrowHead", "OSULeaf", "BasicMotions", "PLAID")  # PLAID: variable length


def lstmkit_row(options: dict, train, test) -> dict:
    t0 = time.perf_counter()
    clf = Classifier(**options).fit(train.X, train.label_values[train.y], train.lengths)
    seconds = time.perf_counter() - t0
    clf.predict(test.X[:1], None if test.lengths is None else test.lengths[:1])  # first-call set-up
    t0 = time.perf_counter()
    pred = clf.predict(test.X, test.lengths)
    ms = 1e3 * (time.perf_counter() - t0) / len(test.y)
    accuracy = float((pred.astype(str) == test.label_values[test.y].astype(str)).mean())
    return {"accuracy": round(accuracy, 4), "train_s": round(seconds, 1),
            "infer_ms_per_series": round(ms, 3), "epochs": len(clf.history_)}  # fmt: skip


def minirocket_row(train, test) -> dict:
    from sklearn.linear_model import RidgeClassifierCV
    from sklearn.preprocessing import StandardScaler
    from sktime.transformations.panel.rocket import (
        MiniRocketMultivariate,
        MiniRocketMultivariateVariable,
    )

    def panel(data):
        if data.lengths is None:  # sktime's numpy3D: (N, C, L)
            return np.ascontiguousarray(data.X.transpose(0, 2, 1), dtype=np.float64)
        import pandas as pd  # variable length: a DataFrame (L_i, C) per series, no padding

        pairs = zip(data.X, data.lengths, strict=True)
        return [pd.DataFrame(x[:n].astype(np.float64)) for x, n in pairs]

    # by hand, not sklearn's Pipeline (scikit-learn 1.9's callback hooks break on sktime's
    # transformers)
    t0 = time.perf_counter()
    # unequal lengths: its authors' variant (dilations up to the longest series)
    rocket = MiniRocketMultivariate if train.lengths is None else MiniRocketMultivariateVariable
    transform = rocket(random_state=0).fit(panel(train))
    scaler = StandardScaler(with_mean=False)
    features = scaler.fit_transform(np.asarray(transform.transform(panel(train))))
    ridge = RidgeClassifierCV(alphas=np.logspace(-3, 3, 10)).fit(features, train.y)
    seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    pred = ridge.predict(scaler.transform(np.asarray(transform.transform(panel(test)))))
    ms = 1e3 * (time.perf_counter() - t0) / len(test.y)
    accuracy = float((train.label_values[pred].astype(str) ==
                      test.label_values[test.y].astype(str)).mean())  # fmt: skip
    return {"accuracy": round(accuracy, 4), "train_s": round(seconds, 2),
            "infer_ms_per_series": round(ms, 3)}  # fmt: skip


def dev_split(train, fraction: float, seed: int):
    keep, held = stratified_split(train.y, fraction, seed)
    return train.subset(keep), train.subset(held)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=["dev", "test"], required=True)
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--candidates", default='{"defaults": {}}',
                    help="dev: JSON object, name -> Classifier options")  # fmt: skip
    ap.add_argument("--options", default="{}", help="test: lstmkit's options (JSON)")
    ap.add_argument("--ensemble", type=int, default=5,
                    help="test: members of the ensemble row (1: no ensemble row)")  # fmt: skip
    ap.add_argument("--label", help="test: the name of lstmkit's rows (default: lstmkit)")
    ap.add_argument("--val-fraction", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-minirocket", action="store_true")
    ap.add_argument("--out", default="bench_results/classify_ucr.json")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows = []
    for name in args.sets.split(","):
        train, test = load_classification(f"ucr:{name}")
        if args.mode == "dev":
            train, test = dev_split(train, args.val_fraction, args.seed)
            settings = json.loads(args.candidates)
        else:
            options = json.loads(args.options)
            label = args.label or "lstmkit"
            settings = {label: options}
            if args.ensemble > 1:
                settings[f"{label} x{args.ensemble}"] = options | {"ensemble": args.ensemble}
        for label, options in settings.items():
            row = {"set": name, "model": label, "options": options}
            row |= lstmkit_row(options | {"random_state": args.seed}, train, test)
            print(json.dumps(row), flush=True)
            rows.append(row)
        if not args.no_minirocket:
            row = {"set": name, "model": "MiniRocket (sktime) + ridge"} | minirocket_row(
                train, test
            )
            print(json.dumps(row), flush=True)
            rows.append(row)
    result = {
        "benchmark": "classify_ucr", "mode": args.mode, "val_fraction": args.val_fraction,
        "seed": args.seed, "torch": torch.__version__, "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(), "rows": rows,
        "published": PUBLISHED,
    }  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
