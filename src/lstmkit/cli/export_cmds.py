"""``lstmkit export RUN_DIR --format onnx|torchscript [--quantize int8]``."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export a trained run to ONNX or TorchScript (optionally int8), checked and timed",
        description="Write the run's model as ONNX (checked against onnxruntime) or TorchScript, "
        "optionally with int8 dynamic quantisation, and RUN_DIR/export.json: sizes, the largest "
        "difference from the PyTorch model on held-out inputs, latency at batch 1 and 64 and, "
        "with --quantize, the test metric of int8 beside fp32. ONNX needs pip install "
        "'lstmkit[export]'.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory that lstmkit train wrote")
    p.add_argument("--format", choices=["onnx", "torchscript"], default="onnx",
                   help="default %(default)s")  # fmt: skip
    p.add_argument("--quantize", choices=["int8"], help="dynamic int8 quantisation")
    p.add_argument("--output", metavar="FILE",
                   help="where to write (default RUN_DIR/model[.int8].onnx or .pt)")  # fmt: skip
    p.add_argument("--loop", choices=["auto", "scan", "unroll"], default="auto",
                   help="how the recurrence enters the graph: auto (torch's LSTM/GRU op "
                   "for lstm/gru, a Scan loop for variant cells), scan, or unroll (one "
                   "length only)")  # fmt: skip
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    from lstmkit.export import export_run

    r = export_run(args.run_dir, args.format, quantize=args.quantize, output=args.output,
                   overwrite=args.overwrite, loop=args.loop)  # fmt: skip
    what = f"{r['format']}{' int8' if r.get('quantize') else ''}"
    fixed = "" if r["dynamic_length"] else f", fixed length {r['length']}"
    print(f"wrote {what} model {r['path']} ({r['size_bytes'] / 1024:.1f} KiB; recurrence as "
          f"{r['loop']}{fixed})")  # fmt: skip
    diff = r.get("fp32_max_abs_diff", r["max_abs_diff"])
    print(f"max |export - PyTorch| on {r['check_inputs']} inputs: {diff:.2e}")
    lat, fp = r["latency_ms"], r.get("fp32_latency_ms")
    for b in ("batch_1", "batch_64"):
        line = f"latency {b.replace('_', ' ')}: {lat[b]:.3f} ms"
        if fp:
            line += f" (fp32 {fp[b]:.3f} ms, {lat[b] / fp[b]:.2f}x)"
        print(line)
    for k, v in r.items():
        if k.startswith("test_"):
            fp32 = r.get("fp32_" + k)
            print(f"{k}: {v:.4f}" + ("" if fp32 is None else f" (fp32 {fp32:.4f})"))
    if r.get("fp32_size_bytes"):
        print(f"size: {r['size_bytes'] / r['fp32_size_bytes']:.2f}x of fp32")
    print(f"wrote {args.run_dir}/export.json")
    return 0
