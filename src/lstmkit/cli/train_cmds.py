"""``lstmkit train classify``, ``evaluate``, ``predict``, ``resume``."""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

from lstmkit.cli.args import add_common_train_args, positive_int, source_path, train_options
from lstmkit.cli.launch import resume_work, run_training, train_task

__all__ = ["add_classify_args", "classify_inputs", "register"]


def register(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser("train", help="train a model (classify, forecast, textgen)",
                           description="Train a model.")  # fmt: skip
    tasks = train.add_subparsers(dest="task", metavar="TASK", required=True)
    c = tasks.add_parser(
        "classify",
        help="sequence classification",
        description="Train an LSTM sequence classifier. SOURCE is a built-in name (digits, "
        "fashion-mnist, mnist, ucr:<Name>) or a file (.npz with X, y[, lengths]; IDX; UCR "
        ".tsv / .ts).",
    )
    add_classify_args(c)
    c.set_defaults(func=cmd_train_classify)

    e = sub.add_parser("evaluate", help="metrics of a trained run on its test data or --data")
    e.add_argument("run_dir", metavar="RUN_DIR")
    e.add_argument("--data", metavar="SOURCE", help="evaluate on this data instead")
    e.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="predict with a trained run; writes CSV")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--input", required=True, metavar="FILE", help="classify: .npz with X[, "
                   "lengths], IDX or UCR file; forecast: CSV / Parquet with the training "
                   "columns (the forecast starts after its last row)")  # fmt: skip
    p.add_argument("--output", metavar="FILE", help="CSV to write (default: standard output)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    p.set_defaults(func=cmd_predict)

    x = sub.add_parser(
        "extract",
        help="features from a trained network (seed 000's local feature extraction)",
        description="Write per-timestep local features (N, L, D*H) with --pool none, or pooled "
        "sequence features (N, D*H), to a .npy file.",
    )
    x.add_argument("run_dir", metavar="RUN_DIR")
    x.add_argument("--input", required=True, metavar="FILE", help=".npz with X[, lengths], IDX "
                   "or UCR file")  # fmt: skip
    x.add_argument("--output", required=True, metavar="FILE.npy")
    x.add_argument("--pool", choices=["last", "mean", "max", "attention", "none"],
                   help="default: the model's own pooling")  # fmt: skip
    x.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    x.set_defaults(func=cmd_extract)

    r = sub.add_parser("resume", help="continue an interrupted run from its checkpoint.pt")
    r.add_argument("run_dir", metavar="RUN_DIR")
    r.add_argument("--nproc", type=positive_int, metavar="N", help="data-parallel processes "
                   "(default: as many as the run had; another number continues but does not "
                   "repeat the uninterrupted run exactly)")  # fmt: skip
    r.set_defaults(func=cmd_resume)


def add_classify_args(c: argparse.ArgumentParser) -> None:
    """The flags of ``train classify`` (data, classifier model and the common training flags);
    ``lstmkit tune classify`` takes the same."""
    c.add_argument("--data", required=True, metavar="SOURCE", help="built-in name or file")
    c.add_argument("--test-data", metavar="FILE", help="separate test set (else the source's "
                   "own test split, or a stratified hold-out)")  # fmt: skip
    c.add_argument("--test-fraction", type=float, default=0.2,
                   help="hold-out fraction without a test set (default %(default)s)")  # fmt: skip
    c.add_argument("--data-dir", help="where built-in data sets are looked up and cached")
    c.add_argument("--pool", choices=["last", "mean", "max", "attention"], default=None,
                   help="how the per-step features become one vector (default last)")  # fmt: skip
    c.add_argument("--conv-channels", type=int, default=None,
                   help="Conv1d front end channels (0: none; default 64)")  # fmt: skip
    c.add_argument("--conv-stride", type=int, default=None,
                   help="front end stride: the LSTM sees ceil(L / stride) steps")  # fmt: skip
    c.add_argument("--head-dropout", type=float, default=None, help="dropout before the head")
    c.add_argument("--min-steps", type=int, default=None,
                   help="without --epochs, train at least this many optimizer steps (default "
                   "300: small data sets get more epochs)")  # fmt: skip
    add_common_train_args(c)


def classify_inputs(args: argparse.Namespace) -> tuple[dict, dict]:
    """The run's ``data`` section and the estimator options from the flags of
    ``add_classify_args``, every option validated (nothing is written yet)."""
    from lstmkit.estimators.classifier import split_options

    options = train_options(args)
    for name in ("pool", "conv_channels", "conv_stride", "head_dropout", "min_steps"):
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    if not 0.0 < args.test_fraction < 1.0:
        raise ValueError(f"--test-fraction must lie in (0, 1), got {args.test_fraction}")
    split_options(options)  # validate every option before anything is written
    data = {"source": source_path(args.data), "test_source": source_path(args.test_data),
            "test_fraction": args.test_fraction, "data_dir": args.data_dir}  # fmt: skip
    return data, options


def _print_metrics(metrics: dict, run_dir: Path | None = None) -> None:
    keys = [k for k in metrics if not k.startswith(("test_precision_", "test_recall_"))]
    width = max(len(k) for k in keys)
    for k in keys:
        v = metrics[k]
        print(f"  {k:<{width}}  {v:.4f}" if isinstance(v, float) else f"  {k:<{width}}  {v}")
    if run_dir is not None:
        print(f"\nrun directory: {run_dir}  (metrics.json, loss.png, confusion.png, model.pt)")


def cmd_train_classify(args: argparse.Namespace) -> int:
    from lstmkit.tasks.classify import run_classify

    data, options = classify_inputs(args)

    def report(metrics: dict, run_dir: Path) -> None:
        print(f"classify {args.data}: test accuracy {metrics['test_accuracy']:.4f}")
        _print_metrics(metrics, run_dir)

    return train_task(args, "classify", run_classify, data, options, report)


def cmd_resume(args: argparse.Namespace) -> int:
    """Continue a run from its checkpoint.pt, in as many processes as it had (or --nproc)."""
    from lstmkit.runs import read_config

    run_dir = Path(args.run_dir)
    config = read_config(run_dir)
    if not (run_dir / "checkpoint.pt").is_file():
        raise ValueError(f"{run_dir} has no checkpoint.pt to resume from")
    if config["task"] == "textgen":
        from lstmkit.cli.textgen_cmds import resume_textgen as resume
    elif config["task"] == "forecast":
        from lstmkit.cli.forecast_cmds import resume_forecast as resume
    elif config["task"] == "classify":
        resume = _resume_classify
    else:
        raise ValueError(f"resume does not support task {config['task']!r} yet")
    work, report = resume(run_dir, config)
    return run_training(
        args,
        config["task"],
        work,
        report,
        device=config["options"].get("device", "cpu"),
        nproc=args.nproc or config.get("world_size", 1),
        resume_dir=run_dir,
    )


def _resume_classify(run_dir: Path, config: dict):
    """``lstmkit resume`` of a classify run: its work and report for ``run_training``."""
    from lstmkit.tasks.classify import run_classify

    def report(metrics: dict, run_dir: Path) -> None:
        print(f"resumed {run_dir}: test accuracy {metrics['test_accuracy']:.4f}")
        _print_metrics(metrics, run_dir)

    return resume_work(run_classify, config), report


def _require_task(run_dir: str, allowed: tuple[str, ...], command: str) -> str:
    """The run's task, or a one-line error when ``command`` does not apply to it."""
    from lstmkit.runs import read_config

    task = read_config(run_dir)["task"]
    if task not in allowed:
        raise ValueError(
            f"{run_dir} is a {task} run; 'lstmkit {command}' works on {' or '.join(allowed)} runs"
        )
    return task


def cmd_evaluate(args: argparse.Namespace) -> int:
    task = _require_task(args.run_dir, ("classify", "forecast", "textgen"), "evaluate")
    if task == "textgen":
        from lstmkit.tasks.textgen import evaluate_run
    elif task == "forecast":
        from lstmkit.tasks.forecast import evaluate_run
    else:
        from lstmkit.tasks.classify import evaluate_run

    metrics = evaluate_run(args.run_dir, args.data)
    print(json.dumps(metrics, indent=2))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from lstmkit.runs import load

    if _require_task(args.run_dir, ("classify", "forecast"), "predict") == "forecast":
        from lstmkit.cli.forecast_cmds import predict_forecast

        return predict_forecast(args)
    clf = load(args.run_dir)
    X, lengths = _read_inputs(Path(args.input))
    proba = clf.predict_proba(X, lengths)
    labels = clf.classes_[proba.argmax(1)]
    out = io.StringIO()
    names = [str(c) for c in clf.classes_]
    out.write(",".join(["label"] + [f"p_{n}" for n in names]) + "\n")
    for label, row in zip(labels, proba, strict=True):
        out.write(",".join([str(label)] + [f"{p:.6f}" for p in row]) + "\n")
    if args.output is None:
        sys.stdout.write(out.getvalue())
        return 0
    path = Path(args.output)
    if path.exists() and not args.overwrite:
        raise ValueError(f"{path} exists; pass --overwrite to replace it")
    from lstmkit.train.checkpoint import atomic_write_text

    atomic_write_text(path, out.getvalue())
    print(f"wrote {len(labels)} predictions to {path}")
    return 0


def cmd_extract(args: argparse.Namespace) -> int:
    import numpy as np

    from lstmkit.runs import load

    path = Path(args.output)
    if path.suffix != ".npy":
        raise ValueError(f"--output must be a .npy file, got {path.name}")
    if path.exists() and not args.overwrite:
        raise ValueError(f"{path} exists; pass --overwrite to replace it")
    _require_task(args.run_dir, ("classify",), "extract")
    clf = load(args.run_dir)
    X, lengths = _read_inputs(Path(args.input))
    features = clf.extract(X, lengths, args.pool)
    from lstmkit.train.checkpoint import atomic_write_bytes

    buf = io.BytesIO()
    np.save(buf, features)
    atomic_write_bytes(path, buf.getvalue())
    print(f"wrote features {features.shape} ({features.dtype}) to {path}")
    return 0


def _read_inputs(path: Path):
    """X (and lengths) to predict on: an .npz without labels is fine here."""
    from lstmkit.data.load import read_inputs

    X, _, lengths = read_inputs(path)
    return X, lengths
