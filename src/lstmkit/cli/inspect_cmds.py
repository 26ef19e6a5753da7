"""``lstmkit inspect``: gate, state, gradient and saliency figures of a trained run."""

from __future__ import annotations

import argparse
from pathlib import Path

from lstmkit.cli.args import positive_int

__all__ = ["register"]


def _indices(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated sample indices, got {text!r}"
        ) from None
    if not values or min(values) < 0:
        raise argparse.ArgumentTypeError(f"expected indices >= 0, got {text!r}")
    return values


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "inspect",
        help="gate / cell-state / gradient / saliency plots of a trained run",
        description="Run a trained model on chosen samples with every gate recorded and write, "
        "per sample and layer, heatmaps of the gates and the cell and hidden states, the "
        "per-step norm of dLoss/dh_t (the vanishing-gradient picture) and the input saliency, "
        "plus forget-gate saturation statistics, summary.json and an index.html gathering it.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory that lstmkit train wrote")
    p.add_argument("--input", metavar="FILE", help="classify: .npz with X[, y, lengths], IDX "
                   "or UCR file; forecast: CSV / Parquet with the training columns; textgen: "
                   "a UTF-8 .txt file; or a built-in name (its test split)")  # fmt: skip
    p.add_argument("--text", help="textgen: the text itself instead of --input")
    p.add_argument("--out", metavar="DIR", help="where to write (default RUN_DIR/inspect)")
    p.add_argument("--samples", type=_indices, metavar="I,J,...",
                   help="which sequences (classify), windows (forecast: window j reads rows "
                   "j..j+lookback-1) or text chunks (textgen) to inspect; default: the first 3 "
                   "sequences, the last window with a known future and the last window, or "
                   "chunk 0")  # fmt: skip
    p.add_argument("--max-units", type=positive_int, default=32,
                   help="most units per heatmap: the most active (default 32)")  # fmt: skip
    p.add_argument("--steps", type=positive_int, default=64,
                   help="textgen: tokens per chunk (default 64)")  # fmt: skip
    p.add_argument("--overwrite", action="store_true", help="replace an earlier report in --out")
    p.set_defaults(func=cmd_inspect)


def cmd_inspect(args: argparse.Namespace) -> int:
    from lstmkit.inspect import inspect_run

    if args.input is None and args.text is None:
        raise ValueError("give --input FILE (or, for a textgen run, --text TEXT)")
    if args.input is not None and args.text is not None:
        raise ValueError("give either --input or --text, not both")
    if args.steps < 2:
        raise ValueError("--steps must be at least 2 (a token and the one it predicts), got 1")
    report = inspect_run(
        args.run_dir,
        None if args.input is None else Path(args.input),
        args.out,
        samples=args.samples,
        text=args.text,
        max_units=args.max_units,
        steps=args.steps,
        overwrite=args.overwrite,
    )
    for row in report.summary["samples"]:
        print(f"  sample {row['index']}: {row['label']}; {row['prediction']}")
    for entry in report.summary["recurrent"]:
        stats = entry["forget"]
        for e in stats["layers"]:
            where = f"layer {e['layer']}" + ("", " backward")[e["direction"]]
            print(f"  {entry['name']} {where}: {stats['gate']} < {stats['low']:g} "
                  f"{e['share_low']:.1%}, > {stats['high']:g} {e['share_high']:.1%}")  # fmt: skip
    print(f"wrote {len(report.figures)} figures, summary.json and index.html to {report.out_dir}")
    return 0
