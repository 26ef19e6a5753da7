"""The commands that act on a run directory whatever its task: ``evaluate``, ``predict``,
``extract``, ``resume``, and the ``train`` command that each task module adds its ``TASK`` to.

Each task's CLI module (``classify_cmds``, ``regress_cmds``, ``forecast_cmds``,
``textgen_cmds``) stands alone on the shared base (``args``, ``launch``, ``sequence_args``);
this module sits above them and dispatches by the ``task`` that the run's config.json names.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

from lstmkit.cli import classify_cmds, forecast_cmds, regress_cmds, textgen_cmds
from lstmkit.cli.args import add_run_dir, output_file, positive_int
from lstmkit.cli.launch import run_training
from lstmkit.cli.sequence_args import read_sequence_inputs

__all__ = ["register", "register_train"]

# per task: what resume continues with, what predict writes, how extract reads its --input
RESUME = {
    "classify": classify_cmds.resume_classify,
    "regress": regress_cmds.resume_regress,
    "forecast": forecast_cmds.resume_forecast,
    "textgen": textgen_cmds.resume_textgen,
}
PREDICT = {
    "classify": classify_cmds.predict_classify,
    "regress": regress_cmds.predict_regress,
    "forecast": forecast_cmds.predict_forecast,
}
EXTRACT_INPUTS = {"classify": read_sequence_inputs, "regress": regress_cmds.regression_inputs}
EVALUATED = ("classify", "regress", "forecast", "textgen")


def register_train(sub: argparse._SubParsersAction) -> None:
    """``lstmkit train``, with no tasks yet: each task module adds its own."""
    train = sub.add_parser(
        "train",
        help="train a model (classify, regress, forecast, textgen)",
        description="Train a model and write its run directory: config.json, model.pt, "
        "checkpoint.pt, metrics.json, history.csv and plots.",
    )
    train.add_subparsers(dest="task", metavar="TASK", required=True)


def register(sub: argparse._SubParsersAction) -> None:
    """``evaluate``, ``predict``, ``extract`` and ``resume``."""
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


def cmd_resume(args: argparse.Namespace) -> int:
    """Continue a run from its checkpoint.pt, in as many processes as it had (or --nproc)."""
    from lstmkit.runs import read_config

    run_dir = Path(args.run_dir)
    config = read_config(run_dir)
    if not (run_dir / "checkpoint.pt").is_file():
        raise ValueError(f"{run_dir} has no checkpoint.pt to resume from")
    if config["task"] not in RESUME:
        raise ValueError(f"resume does not support task {config['task']!r} yet")
    work, report = RESUME[config["task"]](run_dir, config)
    return run_training(
        args,
        config["task"],
        work,
        report,
        device=config["options"].get("device", "cpu"),
        nproc=args.nproc or config.get("world_size", 1),
        resume_dir=run_dir,
    )


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

    task = _require_task(args.run_dir, EVALUATED, "evaluate")
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
    return PREDICT[_require_task(args.run_dir, tuple(PREDICT), "predict")](args)


def cmd_extract(args: argparse.Namespace) -> int:
    import numpy as np

    from lstmkit.estimators.loading import load
    from lstmkit.train.checkpoint import atomic_write_bytes

    path = output_file(args.output, args.overwrite, ".npy")
    task = _require_task(args.run_dir, tuple(EXTRACT_INPUTS), "extract")
    model = load(args.run_dir)
    X, lengths = EXTRACT_INPUTS[task](Path(args.input))
    features = model.extract(X, lengths, args.pool)
    buf = io.BytesIO()
    np.save(buf, features)
    atomic_write_bytes(path, buf.getvalue())
    print(f"wrote features {features.shape} ({features.dtype}) to {path}")
    return 0
