"""``lstmkit train classify``, and ``predict`` / ``resume`` of classify runs (``run_cmds``
dispatches those commands here by the run's task)."""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from lstmkit.cli.args import (
    add_common_train_args,
    default_help,
    output_file,
    source_path,
    train_options,
    train_tasks,
)
from lstmkit.cli.launch import resume_work, train_task
from lstmkit.cli.sequence_args import (
    add_network_args,
    add_sequence_data_args,
    print_metrics,
    read_sequence_inputs,
    unit_fraction,
)

__all__ = [
    "add_classify_args",
    "classify_inputs",
    "predict_classify",
    "register",
    "resume_classify",
]


def register(sub: argparse._SubParsersAction) -> None:
    c = train_tasks(sub).add_parser(
        "classify",
        help="sequence classification",
        description="Train an LSTM sequence classifier. SOURCE is a built-in name (digits, "
        "fashion-mnist, mnist, ucr:<Name>) or a file (.npz with X, y[, lengths]; IDX; UCR "
        ".tsv / .ts). Values are used as loaded (nothing is rescaled); each channel is "
        "standardised with statistics of the training split.",
    )
    add_classify_args(c)
    c.set_defaults(func=cmd_train_classify)


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


def resume_classify(run_dir: Path, config: dict):
    """``lstmkit resume`` of a classify run: its work and report for ``run_training``."""
    from lstmkit.tasks.classify import run_classify

    def report(metrics: dict, run_dir: Path) -> None:
        print(f"resumed {run_dir}: test accuracy {metrics['test_accuracy']:.4f}")
        print_metrics(metrics, run_dir)

    return resume_work(run_classify, config), report


def predict_classify(args: argparse.Namespace) -> int:
    """``lstmkit predict`` of a classify run: the label and a ``p_<class>`` column per class."""
    from lstmkit.estimators.loading import load
    from lstmkit.train.checkpoint import atomic_write_text

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
    atomic_write_text(path, out.getvalue())
    print(f"wrote {len(labels)} predictions to {path}")
    return 0
