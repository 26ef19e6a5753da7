"""``--precision bf16`` against fp32 on Fashion-MNIST: test accuracy and training time.

Trains the same model twice with the same seed, once in float32 and once under bf16 autocast,
and prints accuracy and seconds per epoch. The model is seed 002's (2-layer LSTM, hidden 128,
rows as steps), where the recurrence is the work: on CPUs with bf16 instructions torch's oneDNN
LSTM runs it in bf16. ``--defaults`` adds lstmkit's classify defaults (Conv1d + GRU) and
``--fused`` seed 002's model with the layer-normalised cell: both run lstmkit's fused kernels,
whose whole-sequence GEMMs take bf16 operands under bf16 autocast (the recurrence stays float32).
``--only`` skips seed 002's LSTM.

Run: ``.venv/bin/python benchmarks/precision.py [--epochs N] [--defaults] [--fused] [--only]
[--out FILE.json]``
(needs the Fashion-MNIST IDX files: ``apt-get install dataset-fashion-mnist``).
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import tempfile
from pathlib import Path

import torch

from lstmkit.nn.lstm import _mkldnn_bf16
from lstmkit.tasks.classify import run_classify

SEED_LSTM = {
    "cell": "lstm", "hidden": 128, "layers": 2, "conv_channels": 0, "lr": 0.001,
    "batch_size": 100, "schedule": "constant", "warmup_epochs": 0.0, "val_fraction": 0.0,
}  # fmt: skip


def train(options: dict) -> dict:
    with tempfile.TemporaryDirectory() as run_dir:
        m = run_classify({"source": "fashion-mnist"}, options, Path(run_dir) / "run")
    return {"test_accuracy": m["test_accuracy"], "train_seconds": m["train_seconds"],
            "epochs": m["epochs_run"]}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--defaults", action="store_true", help="also lstmkit's classify defaults")
    ap.add_argument("--fused", action="store_true", help="also seed 002's model, layernorm cell")
    ap.add_argument("--only", action="store_true", help="without seed 002's LSTM")
    ap.add_argument("--out", default="bench_results/precision.json")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    settings = {} if args.only else {"seed 002 LSTM": SEED_LSTM | {"epochs": args.epochs}}
    if args.defaults:
        settings["lstmkit defaults (Conv1d + GRU)"] = {}
    if args.fused:
        settings["seed 002 model, layernorm cell"] = SEED_LSTM | {
            "cell": "layernorm", "epochs": args.epochs,
        }  # fmt: skip
    rows = []
    for name, options in settings.items():
        for precision in ("fp32", "bf16"):
            r = train(options | {"precision": precision, "seed": 0})
            rows.append({"setting": name, "precision": precision, **r})
            print(f"{name} {precision}: {r}", flush=True)
    print(f"\nFashion-MNIST, {torch.get_num_threads()} threads, oneDNN bf16 LSTM: "
          f"{_mkldnn_bf16()}\n")  # fmt: skip
    print("| model | precision | epochs | test accuracy | training s | s / epoch |")
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['setting']} | {r['precision']} | {r['epochs']} | "
              f"{100 * r['test_accuracy']:.2f} % | {r['train_seconds']:.0f} | "
              f"{r['train_seconds'] / r['epochs']:.1f} |")  # fmt: skip
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"machine": platform.processor() or platform.machine(), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "onednn_bf16_lstm": _mkldnn_bf16()}  # fmt: skip
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
