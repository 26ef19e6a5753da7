"""``lstmkit train classify``, ``evaluate``, ``predict``, ``resume``."""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

from lstmkit.cli.args import (
    add_common_train_args,
    add_run_dir,
    default_help,
    output_file,
    positive_int,
    source_path,
    train_options,
)
from lstmkit.cli.launch import resume_work, run_training, train_task
from lstmkit.cli.sequence_args import (
    add_network_args,
    add_sequence_data_args,
    print_metrics,
    read_sequence_inputs,
    unit_fraction,
)

__all__ = ["add_classify_args", "classify_inputs", "register"]


def register(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser(
        "train",
        help="train a model (classify, regress, forecast, textgen)",
        description="Train a model and write its run directory: config.json, model.pt, "
        "checkpoint.pt, metrics.json, history.csv and plots.",
    )
    tasks = train.add_subparsers(dest="task", metavar="TASK", required=True)
    c = tasks.add_parser(
        "classify",
        help="sequence classification",
        description="Train an LSTM sequence classifier. SOURCE is a built-in name (digits, "
        "fashion-mnist, mnist, ucr:<Name>) or a file (.npz with X, y[, lengths]; IDX; UCR "
        ".tsv / .ts). Values are used as loaded (nothing is rescaled); each channel is "
        "standardised with statistics of the training split.",
    )
    add_classify_args(c)
    c.set_defaults(func=cmd_train_classify)

    e = sub.add_parser(
        "evaluate",
        help="metrics of a trained run on its test data or --data",
        description="Score a trained run on its own test split (as made at training time), or "
        "on --data (its test split when it has one, else all of it); prints JSON.",
    )
    add_run_dir(e)
    e.add_argument("--data", metavar="SOURCE", help="evaluate on this data instead")
    e.set_defaults(func=cmd_evaluate)

    p = sub.add_parser(
        "predict",
        help="predict with a trained run; writes CSV",
        description="Classify: one row per input sequence, the predicted label and a p_<class> "
        "probability column per class. Regress: a value column (value_<k> for several "
        "targets) per input sequence. Forecast: the horizon after the input's last row (the "
        "time column, the point forecast, q<level> quantile columns).",
    )
    add_run_dir(p, "a classify, regress or forecast run directory")
    p.add_argument("--input", required=True, metavar="FILE", help="classify / regress: .npz "
                   "with X[, lengths], IDX, UCR or .ts file; forecast: CSV / Parquet with the "
                   "training columns (the forecast starts after its last row); or a built-in "
                   "name: its test split (a whole built-in series for forecast)")  # fmt: skip
    p.add_argument("--future", metavar="FILE", help="panel forecast runs: the future "
                   "covariates over the horizon (id, time, --future-features columns)")  # fmt: skip
    p.add_argument("--output", metavar="FILE", help="CSV to write, in an existing folder "
                   "(default: standard output)")  # fmt: skip
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    p.set_defaults(func=cmd_predict)

    x = sub.add_parser(
        "extract",
        help="features from a trained classifier's or regressor's network",
        description="The local feature extraction network: write per-step local features "
        "(N, L, D*H) with --pool none, or pooled sequence features (N, D*H), to a .npy file.",
    )
    add_run_dir(x, "a classify or regress run directory")
    x.add_argument("--input", required=True, metavar="FILE", help=".npz with X[, lengths], IDX "
                   "or UCR file, or a built-in name (its test split)")  # fmt: skip
    x.add_argument("--output", required=True, metavar="FILE.npy",
                   help=".npy file to write, in an existing folder")  # fmt: skip
    x.add_argument("--pool", choices=["last", "mean", "max", "attention", "none"],
                   help="default: the model's own pooling")  # fmt: skip
    x.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    x.set_defaults(func=cmd_extract)

    r = sub.add_parser(
        "resume",
        help="continue an interrupted run from its checkpoint.pt",
        description="Continue a run that was stopped (Ctrl-C, kill, a crash) from the last "
        "epoch its checkpoint.pt holds; it ends with the weights and metrics of the run that "
        "was never stopped.",
    )
    add_run_dir(r, "the run directory to continue")
    r.add_argument("--nproc", type=positive_int, metavar="N", help="data-parallel processes "
                   "(default: as many as the run had; another number continues but does not "
                   "repeat the uninterrupted run exactly)")  # fmt: skip
    r.set_defaults(func=cmd_resume)


def add_classify_args(c: argparse.ArgumentParser) -> None:
    """The flags of ``train classify`` (data, classifier model and the common training flags);
    ``lstmkit tune classify`` takes the same."""
    from lstmkit.estimators.classifier import Classifier

    def h(text: str, name: str, shown: str | None = None) -> str:
        return default_help(text, Classifier, name, shown)

    add_sequence_data_args(c, "a stratified hold-out")
    m = c.add_argument_group("classifier")
    add_network_args(m, Classifier, "probabilities")
    m.add_argument(
        "--label-smoothing",
        type=unit_fraction,
        help=h("smooth the training targets by this much", "label_smoothing"),
    )
    m.add_argument("--class-weight", choices=["balanced"],
                   help=h("weight the loss by inverse class frequency", "class_weight",
                          "none: every class alike"))  # fmt: skip
    add_common_train_args(c, Classifier)


def classify_inputs(args: argparse.Namespace) -> tuple[dict, dict]:
    """The run's ``data`` section and the estimator options from the flags of
    ``add_classify_args``, every option validated (nothing is written yet)."""
    from lstmkit.estimators.classifier import Classifier

    options = train_options(args, Classifier)
    Classifier(**options).check_options()  # every option checked before anything is written
    data = {"source": source_path(args.data), "test_source": source_path(args.test_data),
            "test_fraction": args.test_fraction, "data_dir": args.data_dir}  # fmt: skip
    return data, options


def cmd_train_classify(args: argparse.Namespace) -> int:
    from lstmkit.tasks.classify import run_classify

    data, options = classify_inputs(args)

    def report(metrics: dict, run_dir: Path) -> None:
        print(f"classify {args.data}: test accuracy {metrics['test_accuracy']:.4f}")
        print_metrics(metrics, run_dir)

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
    elif config["task"] == "regress":
        from lstmkit.cli.regress_cmds import resume_regress as resume
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
        print_metrics(metrics, run_dir)

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
    from lstmkit.runs import read_config

    task = _require_task(args.run_dir, ("classify", "regress", "forecast", "textgen"), "evaluate")
    if task == "textgen":
        from lstmkit.tasks.textgen import evaluate_run
    elif task == "forecast" and read_config(args.run_dir).get("panel"):
        from lstmkit.tasks.panel import evaluate_panel_run as evaluate_run
    elif task == "forecast":
        from lstmkit.tasks.forecast import evaluate_run
    elif task == "regress":
        from lstmkit.tasks.regress import evaluate_run
    else:
        from lstmkit.tasks.classify import evaluate_run

    metrics = evaluate_run(args.run_dir, args.data)
    print(json.dumps(metrics, indent=2))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from lstmkit.estimators.loading import load

    task = _require_task(args.run_dir, ("classify", "regress", "forecast"), "predict")
    if task == "forecast":
        from lstmkit.cli.forecast_cmds import predict_forecast

        return predict_forecast(args)
    if task == "regress":
        from lstmkit.cli.regress_cmds import predict_regress

        return predict_regress(args)
    path = None if args.output is None else output_file(args.output, args.overwrite)
    clf = load(args.run_dir)
    X, lengths = read_sequence_inputs(Path(args.input))
    proba = clf.predict_proba(X, lengths)
    labels = clf.classes_[proba.argmax(1)]
    out = io.StringIO()
    names = [str(c) for c in clf.classes_]
    out.write(",".join(["label"] + [f"p_{n}" for n in names]) + "\n")
    for label, row in zip(labels, proba, strict=True):
        out.write(",".join([str(label)] + [f"{p:.6f}" for p in row]) + "\n")
    if path is None:
        sys.stdout.write(out.getvalue())
        return 0
    from lstmkit.train.checkpoint import atomic_write_text

    atomic_write_text(path, out.getvalue())
    print(f"wrote {len(labels)} predictions to {path}")
    return 0


def cmd_extract(args: argparse.Namespace) -> int:
    import numpy as np

    from lstmkit.estimators.loading import load

    path = output_file(args.output, args.overwrite, ".npy")
    task = _require_task(args.run_dir, ("classify", "regress"), "extract")
    clf = load(args.run_dir)
    if task == "regress":
        from lstmkit.cli.regress_cmds import regression_inputs

        X, lengths = regression_inputs(Path(args.input))
    else:
        X, lengths = read_sequence_inputs(Path(args.input))
    features = clf.extract(X, lengths, args.pool)
    from lstmkit.train.checkpoint import atomic_write_bytes

    buf = io.BytesIO()
    np.save(buf, features)
    atomic_write_bytes(path, buf.getvalue())
    print(f"wrote features {features.shape} ({features.dtype}) to {path}")
    return 0
