"""The ``classify`` pipeline: load labelled sequences, train a Classifier, evaluate, write the run.

Everything needed to re-run it sits in config.json (``data`` and ``options``), so that
``lstmkit resume`` repeats exactly the same data preparation and continues the training.
In a data-parallel run every process trains and rank 0 alone writes and evaluates.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lstmkit.data.load import describe_loading
from lstmkit.data.sequences import SequenceData
from lstmkit.estimators import Classifier
from lstmkit.runs import merge_config, read_config
from lstmkit.train import distributed
from lstmkit.train.checkpoint import atomic_write_json
from lstmkit.train.metrics import classification_metrics
from lstmkit.train.trainer import EpochCallback
from lstmkit.viz import plot_confusion, plot_loss

__all__ = ["evaluate_run", "load_split", "run_classify"]

log = logging.getLogger(__name__)


def load_split(data: dict):
    """(train, test) SequenceData for a run's ``data`` section: the source's own test split, the
    ``test_source`` file, or a stratified hold-out of ``test_fraction`` (seeded)."""
    from lstmkit.data import load_classification, stratified_split

    train, test = load_classification(
        data["source"], test_source=data.get("test_source"), data_dir=data.get("data_dir")
    )
    if test is None:
        keep, held = stratified_split(train.y, data.get("test_fraction", 0.2), data["seed"])
        if len(held) == 0:
            raise ValueError(
                f"{data['source']}: {len(train.y)} sequences are too few to hold out a test "
                "split (a class needs 2 or more members); pass --test-data FILE"
            )
        train, test = train.subset(keep), train.subset(held)
    return train, test


def run_classify(data: dict, options: dict, run_dir: str | Path, *, resume: bool = False,
                 progress: bool = False,
                 callbacks: Sequence[EpochCallback] = ()) -> dict:  # fmt: skip
    """Train (or resume) and evaluate; returns the flat metrics written to metrics.json.

    ``callbacks``: the Trainer's ``on_epoch_end(epoch, record)`` hooks (``lstmkit tune``).
    In a data-parallel run the ranks other than 0 return ``{}`` once trained."""
    run_dir = Path(run_dir)
    data = {"test_fraction": 0.2, "seed": options.get("random_state", 0)} | data
    data.setdefault("loaded_as", describe_loading(data["source"]))
    train, test = distributed.main_first(lambda: load_split(data))
    world = distributed.world_size()
    if distributed.is_main() and not resume:
        config = {"task": "classify", "data": data, "options": options, "world_size": world}
        atomic_write_json(run_dir / "config.json", config)
    elif distributed.is_main():
        merge_config(run_dir, {"world_size": world})
    log.info("classify: %d training and %d test sequences of length %d with %d channels, "
             "%d classes", len(train), len(test), train.X.shape[1], train.X.shape[2],
             len(train.classes))  # fmt: skip
    t0 = time.perf_counter()
    clf = Classifier(**options).fit(
        train.X, train.label_values[train.y], train.lengths, run_dir=run_dir,
        progress=progress, resume=resume, callbacks=callbacks,
    )  # fmt: skip
    log.info("trained in %.1f s", time.perf_counter() - t0)
    if not distributed.is_main():
        return {}
    metrics = _evaluate(clf, test, run_dir)
    metrics = {
        "task": "classify",
        "epochs_run": len(clf.history_),
        "train_seconds": round(clf.train_seconds_, 3),
        "params": sum(p.numel() for p in clf.model_.parameters()),
        "world_size": world,
        **metrics,
        "best_epoch": clf.best_epoch_,
        "clipped_steps": clf.clipped_steps_,
        "train_size": len(train),
        "test_size": len(test),
    }
    if clf.averaged_epochs_:  # swa: the epochs whose weights the model averages
        metrics["averaged_epochs"] = clf.averaged_epochs_
    atomic_write_json(run_dir / "metrics.json", metrics)
    plot_loss(clf.history_, run_dir / "loss.png", title=f"classify {data['source']}")
    return metrics


def _evaluate(clf: Classifier, test: SequenceData, run_dir: Path | None) -> dict:
    """Metrics of ``clf`` on ``test``, whose labels are matched to the model's by value; a
    class the model never saw is an error."""
    known = [str(c) for c in clf.classes_]
    extra = sorted(set(test.classes) - set(known))
    if extra:
        raise ValueError(f"the data has classes the model never saw: {extra[:10]}")
    to_model = np.array([known.index(name) for name in test.classes])  # data's index -> model's
    y = to_model[test.y]
    pred = clf.predict_proba(test.X, test.lengths).argmax(1)
    m = classification_metrics(y, pred, list(clf.classes_.astype(str)))
    if run_dir is not None:
        atomic_write_json(run_dir / "report.json", m)
        plot_confusion(m["confusion"], list(clf.classes_.astype(str)), run_dir / "confusion.png")
    flat = {"test_accuracy": round(m["accuracy"], 6), "test_macro_f1": round(m["macro_f1"], 6)}
    for name, pc in m["per_class"].items():
        flat[f"test_precision_{name}"] = round(pc["precision"], 6)
        flat[f"test_recall_{name}"] = round(pc["recall"], 6)
    return flat


def evaluate_run(
    run_dir: str | Path, source: str | None = None, *, estimator: Classifier | None = None
) -> dict:
    """Metrics of a trained run on its own test split, or on ``source`` (its test split when it
    has one, else all of it). ``estimator``: score this one (e.g. an exported model behind the
    run's preprocessing) instead of the run's own."""
    config = read_config(run_dir)
    clf = Classifier.load(run_dir) if estimator is None else estimator
    if source is None:
        _, test = load_split(config["data"])
    else:
        from lstmkit.data import load_classification

        train, test = load_classification(source)
        test = test if test is not None else train
    return {"task": "classify", "test_size": len(test), **_evaluate(clf, test, None)}
