"""Seed 002's Fashion-MNIST experiment against lstmkit's classify defaults, in one run.

Rows of each 28x28 image are the time steps (28 steps of 28 features). The seed script trains a
2-layer LSTM (hidden 128) with Adam at lr 0.001, batch 100, 5 epochs, constant learning rate, no
validation split; lstmkit's defaults are what `lstmkit train classify --data fashion-mnist`
uses. ``--bidirectional`` adds the seed's LSTM-vs-BiLSTM comparison at the defaults.

Run: ``.venv/bin/python benchmarks/fashion_mnist.py [--bidirectional] [--out FILE.json]``
(needs the Fashion-MNIST IDX files: ``apt-get install dataset-fashion-mnist``, or see
``lstmkit train classify --help``).
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time

import torch

from lstmkit.tasks.classify import run_classify

SEED_SCRIPT = {
    "cell": "lstm", "hidden": 128, "layers": 2, "bidirectional": False, "pool": "last",
    "dropout": 0.0, "head_dropout": 0.0, "forget_bias": None, "conv_channels": 0,
    "conv_stride": 1, "lr": 0.001, "batch_size": 100, "epochs": 5, "schedule": "constant",
    "warmup_epochs": 0.0, "clip_norm": None, "val_fraction": 0.0, "weight_decay": 0.0,
}  # fmt: skip


def run(name: str, options: dict) -> dict:
    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as run_dir:
        m = run_classify({"source": "fashion-mnist"}, options, run_dir)
    return {
        "setting": name,
        "options": options,
        "test_accuracy": m["test_accuracy"],
        "test_macro_f1": m["test_macro_f1"],
        "epochs": m["epochs_run"],
        "train_seconds": m["train_seconds"],
        "wall_seconds": round(time.perf_counter() - t, 1),
        "params": m["params"],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bidirectional", action="store_true", help="also LSTM vs BiLSTM")
    p.add_argument("--only-bidirectional", action="store_true",
                   help="only the LSTM vs BiLSTM comparison")  # fmt: skip
    p.add_argument("--out", default="bench_results/fashion_mnist.json")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(2)
    rows = []
    if not args.only_bidirectional:
        rows += [run("seed 002 script", SEED_SCRIPT), run("lstmkit defaults", {})]
    if args.bidirectional or args.only_bidirectional:  # seed 002's comparison, LSTM cells
        rows.append(run("LSTM (defaults, cell=lstm)", {"cell": "lstm"}))
        rows.append(run("BiLSTM (defaults, cell=lstm)", {"cell": "lstm", "bidirectional": True}))
    print("\n| setting | test accuracy | macro F1 | epochs | train s | wall s | params |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['setting']} | {r['test_accuracy']:.4f} | {r['test_macro_f1']:.4f} | "
              f"{r['epochs']} | {r['train_seconds']:.0f} | {r['wall_seconds']:.0f} | "
              f"{r['params']:,} |")  # fmt: skip
    from pathlib import Path

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=2))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
