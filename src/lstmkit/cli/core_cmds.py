"""``lstmkit demo`` and ``lstmkit bench``: the LSTM core checked and timed on this machine."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from lstmkit.cli.args import positive_int

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="train-step speed of every cell and backend vs torch.nn.LSTM",
        description="Time forward+backward of every cell and backend against torch.nn.LSTM "
        "(ratios measured interleaved in one run) and write the table as JSON.",
    )
    p.add_argument("--quick", action="store_true", help="two sizes, fewer repetitions")
    p.add_argument(
        "--out",
        default="bench_results/speed.json",
        help="JSON file to write (default: %(default)s)",
    )
    p.add_argument("--threads", type=positive_int, default=None, help="torch threads")
    p.set_defaults(func=cmd_bench)

    d = sub.add_parser(
        "demo",
        help="show the LSTM core working: gradient check, parity, speed",
        description="Check the hand-written BPTT against finite differences, lstmkit's LSTM "
        "against torch.nn.LSTM / GRU, and time the kernels (quick benchmark).",
    )
    d.add_argument("--no-bench", action="store_true", help="skip the speed table")
    d.add_argument("--out", default=None, metavar="DIR",
                   help="where the demo's runs go (default runs/demo-<time>)")  # fmt: skip
    d.set_defaults(func=cmd_demo)


def _run_bench(quick: bool, threads: int | None):
    from tqdm import tqdm

    from lstmkit import bench

    bar = tqdm(total=bench.case_count(quick), desc="bench", unit="case", file=sys.stderr,
               disable=not sys.stderr.isatty(), leave=False)  # fmt: skip

    def progress(label: str) -> None:
        bar.set_postfix_str(label)
        bar.update(1)

    try:
        rows, meta = bench.run_speed(quick=quick, threads=threads, progress=progress)
    finally:
        bar.close()
    return rows, meta


def cmd_bench(args: argparse.Namespace) -> int:
    from lstmkit import bench

    print("building/loading C++ kernels and timing; this takes a minute or two...", flush=True)
    rows, meta = _run_bench(args.quick, args.threads)
    print(bench.format_table(rows, meta))
    print("\nSummary (train-step time as a multiple of torch.nn.LSTM's, measured interleaved):\n")
    print(bench.format_summary(rows))
    path = bench.write_json(args.out, rows, meta)
    print(f"\nwrote {path}")
    return 0


# what each part of the demo trains (the settings `make run` shows)
DEMO_OPTIONS = {
    "classify": {"hidden": 64, "epochs": 12, "batch_size": 64, "bidirectional": True},
    "textgen": {"epochs": 2},
    "forecast": {},
}


def _demo_classify(root: Path) -> bool:
    from lstmkit.runs import prepare_run_dir
    from lstmkit.tasks.classify import run_classify

    run_dir = prepare_run_dir(root / "classify-digits", "classify")
    print("\n4. Sequence classification: scikit-learn's 8x8 digits, image rows as time steps")
    m = run_classify({"source": "digits"}, DEMO_OPTIONS["classify"], run_dir)
    acc, f1 = m["test_accuracy"], m["test_macro_f1"]
    print(f"   test accuracy {acc:.4f}, macro F1 {f1:.4f} ({m['test_size']} held-out digits, "
          f"{m['train_seconds']:.0f} s of training)")  # fmt: skip
    print(f"   run directory {run_dir}: metrics.json, loss.png, confusion.png, model.pt")
    return m["test_accuracy"] > 0.9


def _demo_textgen(root: Path) -> bool:
    from lstmkit.runs import prepare_run_dir
    from lstmkit.tasks.textgen import run_textgen

    run_dir = prepare_run_dir(root / "textgen-kjv", "textgen")
    print("\n5. Character-level text generation on the shipped King James excerpt")
    m = run_textgen({"source": "kjv"}, DEMO_OPTIONS["textgen"], run_dir)
    print(f"   test {m['test_bpc']:.3f} bits per character after {m['epochs_run']} epochs "
          f"({m['train_seconds']:.0f} s of training); a sample at temperature 0.5:")  # fmt: skip
    from lstmkit.estimators.loading import load

    text = load(run_dir).generate("And the LORD", length=160, temperature=0.5, seed=0)
    print("   " + text.replace("\n", "\n   "))
    print(f"   run directory {run_dir}: metrics.json, samples.txt, loss.png, model.pt")
    return m["test_bpc"] < 3.5


def _demo_forecast(root: Path) -> bool:
    from lstmkit.runs import prepare_run_dir
    from lstmkit.tasks.forecast import run_forecast

    run_dir = prepare_run_dir(root / "forecast-airline", "forecast")
    print("\n6. Forecasting the shipped airline series (monthly, 144 rows), 12 months at once")
    m = run_forecast({"source": "airline"}, DEMO_OPTIONS["forecast"], run_dir)
    print(
        f"   {m['test_windows']} test windows, look-back {m['lookback']} months "
        f"({m['train_seconds']:.0f} s of training)"
    )
    print("   | model | MAE | sMAPE % | MASE |\n   |---|---:|---:|---:|")
    for name, key in (("lstmkit", "test"), ("seasonal naive", "baseline"), ("naive", "naive")):
        print(
            f"   | {name} | {m[key + '_mae']:.1f} | {m[key + '_smape']:.2f} | "
            f"{m[key + '_mase']:.3f} |"
        )
    print(f"   run directory {run_dir}: metrics.json, forecast.png, residuals.png, model.pt")
    return m["test_mase"] < m["baseline_mase"]


def cmd_demo(args: argparse.Namespace) -> int:
    from lstmkit import bench, checks

    t0 = time.perf_counter()
    print("1. Hand-written BPTT (lstmkit.reference, NumPy float64) vs central finite differences")
    grad = checks.gradient_check()
    print("   | cell | worst relative error |\n   |---|---:|")
    for cell, err in grad.items():
        print(f"   | {cell} | {err:.1e} |")
    print("\n2. lstmkit.nn.LSTM vs torch.nn.LSTM / GRU (2 layers, bidirectional, lengths, h0)")
    print("   | cell | backend | dtype | max abs diff (outputs, states, all grads) |")
    print("   |---|---|---|---:|")
    for r in checks.parity_check():
        print(f"   | {r.kind} | {r.backend} | {r.dtype} | {r.max_abs_diff:.1e} |")
    ok = max(grad.values()) < 1e-6
    if not args.no_bench:
        print("\n3. Train-step speed vs torch.nn.LSTM (quick; `lstmkit bench` for all sizes)")
        rows, meta = _run_bench(True, None)
        print(f"   GEMM rate {meta['gemm_gflops']} GFLOP/s; train-step time / torch.nn.LSTM's\n")
        print(bench.format_summary(rows))
        out = Path("bench_results/demo_speed.json")
        bench.write_json(out, rows, meta)
        print(f"\n   every row (ms, GFLOP/s, fraction of GEMM) written to {out}")
    root = Path(args.out) if args.out else Path("runs") / f"demo-{time.strftime('%Y%m%d-%H%M%S')}"
    ok = _demo_classify(root) and ok
    ok = _demo_textgen(root) and ok
    ok = _demo_forecast(root) and ok
    print(f"\ndemo finished in {time.perf_counter() - t0:.0f} s: "
          f"{'all checks passed' if ok else 'A CHECK FAILED (see above)'}")  # fmt: skip
    return 0 if ok else 1
