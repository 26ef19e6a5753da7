"""int8 dynamic quantisation of the Fashion-MNIST classifier: latency and accuracy vs fp32.

Trains `lstmkit train classify --data fashion-mnist` with lstmkit's defaults (or uses the run
given with ``--run``), then exports it as ONNX and TorchScript, each fp32 and int8, and prints
size, latency at batch 1 and 64 (int8 and fp32 timed interleaved, in one process) and test
accuracy on the 10,000 test images.

Run: ``.venv/bin/python benchmarks/export_int8.py [--run RUN_DIR] [--out FILE.json]``
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

from lstmkit.export import export_run
from lstmkit.tasks.classify import run_classify


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", help="a trained Fashion-MNIST classify run (default: train one)")
    ap.add_argument("--out", default="bench_results/export_int8.json")
    ap.add_argument("--repeat", type=int, default=3, help="exports per format (timing spread)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    run = Path(args.run) if args.run else Path(tempfile.mkdtemp()) / "fashion"
    if not args.run:
        print("training the default classifier on Fashion-MNIST (about 2 minutes)...")
        run_classify({"source": "fashion-mnist"}, {}, run)
    rows = []
    for fmt in ("onnx", "torchscript"):
        for rep in range(args.repeat):
            r = export_run(run, fmt, quantize="int8", overwrite=True)
            rows.append({"repeat": rep} | {k: r[k] for k in (
                "format", "loop", "size_bytes", "fp32_size_bytes", "latency_ms", "fp32_latency_ms",
                "test_accuracy", "fp32_test_accuracy", "fp32_max_abs_diff")})  # fmt: skip
    print(
        f"\nFashion-MNIST default classifier, {torch.get_num_threads()} threads, "
        f"{args.repeat} exports per format\n"
    )
    print("| format | recurrence | size int8 / fp32 | batch 1 ms int8 / fp32 (ratio) | "
          "batch 64 ms int8 / fp32 (ratio) | test accuracy int8 / fp32 |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        lat, fp = r["latency_ms"], r["fp32_latency_ms"]
        cells = [f"{lat[b]:.3f} / {fp[b]:.3f} ({lat[b] / fp[b]:.2f}x)" for b in lat]
        acc = f"{100 * r['test_accuracy']:.2f} % / {100 * r['fp32_test_accuracy']:.2f} %"
        size = f"{r['size_bytes'] / 1024:.0f} / {r['fp32_size_bytes'] / 1024:.0f} KiB"
        print(f"| {r['format']} | {r['loop']} | {size} | {cells[0]} | {cells[1]} | {acc} |")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"machine": platform.processor() or platform.machine(),
            "threads": torch.get_num_threads(), "torch": torch.__version__}  # fmt: skip
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
