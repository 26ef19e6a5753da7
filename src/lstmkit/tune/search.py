"""``tune``: an Optuna study over a task's hyperparameters, one run directory per trial.

Each trial trains a normal run (``run_classify`` / ``run_forecast`` / ``run_textgen``) into
``DIR/trials/trial-<k>/``. The objective is a validation metric (``val_loss`` by default: what
early stopping watches), taken at the epoch whose weights the run keeps; it is reported to
Optuna after every epoch through the Trainer's ``callbacks``, and a trial that the pruner finds
worse than the median of earlier trials at the same epoch stops there (``optuna.TrialPruned``)
and its directory is removed. Only the best run is kept, as ``DIR/best/``; a trial that does not
beat it is deleted when it ends, so the disk holds two runs at most.

``DIR`` holds ``best.json``, ``trials.csv`` (one row per trial), ``search.png`` and
``study.db`` (SQLite: ``resume=True`` adds trials to the same study).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import shutil
import time
import warnings
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lstmkit.train.checkpoint import atomic_write_json, atomic_write_text
from lstmkit.tune.space import Param, search_space, suggest
from lstmkit.tune.tasks import TASKS, TaskSpec

__all__ = ["PRUNERS", "STUDY_NAME", "tune"]

log = logging.getLogger(__name__)

STUDY_NAME = "lstmkit-tune"
PRUNERS = ("median", "none")
_INSTALL = "lstmkit tune needs optuna: pip install 'lstmkit[tune]'"
_GIVE_UP_AFTER = 3  # failed trials in a row, before any completed, that stop the search


def _optuna():
    try:
        import optuna
    except ImportError as e:
        raise ValueError(_INSTALL) from e
    return optuna


@contextmanager
def _quiet_optuna(optuna):
    """Optuna logs every trial (and a failed one with its traceback): we log our own lines."""
    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        optuna.logging.set_verbosity(before)


class _Monitor:
    """The Trainer callback of one trial: tracks the objective at the epoch the run keeps (the
    lowest validation loss so far, as in the Trainer), reports it, and prunes."""

    def __init__(self, trial, metric: str, optuna) -> None:
        self.trial, self.metric, self.optuna = trial, metric, optuna
        self.best_loss, self.value, self.epochs = math.inf, None, 0

    def __call__(self, epoch: int, record: dict[str, float]) -> None:
        self.epochs = epoch
        if "val_loss" not in record:
            raise ValueError("tuning needs a validation split: set val_fraction > 0")
        if record["val_loss"] < self.best_loss - 1e-12:
            self.best_loss, self.value = record["val_loss"], float(record[self.metric])
        self.trial.report(self.value, epoch)
        if self.trial.should_prune():
            raise self.optuna.TrialPruned(f"pruned at epoch {epoch}")


def _check(
    task: str, options: Mapping, trials: int | None, timeout: float | None, metric: str, pruner: str
) -> TaskSpec:
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    spec = TASKS[task]
    if trials is not None and (
        isinstance(trials, bool) or not isinstance(trials, int) or trials < 1
    ):
        raise ValueError(f"trials must be a positive integer, got {trials!r}")
    if trials is None and timeout is None:
        raise ValueError("give trials, timeout or both: the search needs an end")
    if timeout is not None and not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if metric not in spec.metrics:
        raise ValueError(
            f"metric for {task} must be one of {', '.join(spec.metrics)}, got {metric!r}"
        )
    if pruner not in PRUNERS:
        raise ValueError(f"pruner must be one of {', '.join(PRUNERS)}, got {pruner!r}")
    if options.get("val_fraction", 1.0) <= 0:
        raise ValueError("tuning scores trials on a validation split: val_fraction must be > 0")
    return spec


def _make_study(
    optuna,
    out: Path,
    identity: dict,
    seed: int,
    trials: int | None,
    epochs: int,
    pruner: str,
    resume: bool,
    keep_study: bool,
):
    budget = trials or 20
    done = 0
    storage = f"sqlite:///{(out / 'study.db').resolve()}" if keep_study else None
    if resume:
        study = optuna.load_study(study_name=STUDY_NAME, storage=storage)
        stored = study.user_attrs.get("lstmkit")
        if stored != identity:
            diff = sorted(
                k
                for k in set(stored or {}) | set(identity)
                if (stored or {}).get(k) != identity.get(k)
            )
            raise ValueError(
                f"{out} holds a study of other settings (differs in "
                f"{', '.join(diff)}); run it with the same flags or start a new "
                "--out"
            )
        for t in study.get_trials(deepcopy=False):  # killed mid-trial last time
            if t.state == optuna.trial.TrialState.RUNNING:
                study._storage.set_trial_state_values(t._trial_id, optuna.trial.TrialState.FAIL)
        done = len(study.trials)
    sampler = optuna.samplers.TPESampler(
        seed=seed + done, n_startup_trials=min(10, max(3, budget // 3))
    )  # a continued study draws new random starts
    if pruner == "median":
        chosen = optuna.pruners.MedianPruner(
            n_startup_trials=min(5, max(2, budget // 5)), n_warmup_steps=max(1, round(epochs / 4))
        )
    else:
        chosen = optuna.pruners.NopPruner()
    direction = identity["direction"]
    if resume:
        study.sampler, study.pruner = sampler, chosen
        return study
    study = optuna.create_study(
        study_name=STUDY_NAME, storage=storage, direction=direction, sampler=sampler, pruner=chosen
    )
    study.set_user_attr("lstmkit", identity)
    return study


def tune(
    task: str,
    data: dict,
    options: Mapping[str, Any],
    out_dir: str | Path | None,
    *,
    trials: int | None = 20,
    timeout: float | None = None,
    seed: int = 0,
    metric: str = "val_loss",
    pruner: str = "median",
    overwrite: bool = False,
    resume: bool = False,
    keep_study: bool = True,
    spec: TaskSpec | None = None,
) -> dict[str, Any]:
    """Search ``task``'s hyperparameters; returns what ``DIR/best.json`` holds.

    ``data`` and ``options``: as ``lstmkit train`` passes them to ``run_<task>``; an option of
    the search space given in ``options`` is fixed (not searched). ``trials``: how many trials
    (``None``: until ``timeout``); ``timeout``: seconds after which no new trial starts. ``seed``:
    the sampler's seed and each trial's training seed (unless ``options`` sets one): the same
    seed gives the same sequence of trials. ``metric``: the validation objective (see
    ``TASKS[task].metrics``). ``pruner``: ``"median"`` or ``"none"``. ``out_dir``: a new (or
    empty) directory, replaced with ``overwrite``; ``resume`` adds the trials to the study
    already in it (kept as ``study.db`` unless ``keep_study=False``). ``spec``: replaces the
    task's TaskSpec (tests).
    """
    from lstmkit.runs import prepare_run_dir

    optuna = _optuna()
    base = _check(task, options, trials, timeout, metric, pruner)
    spec = spec or base
    options = {"random_state": seed} | dict(options)
    context = spec.context(data, options)  # bad data fails here, before DIR is made
    space = search_space(task, options, context)
    if not space:
        raise ValueError("nothing to search: every hyperparameter of the search space is fixed")
    if resume:
        out = Path(out_dir) if out_dir else None
        if out is None or not (out / "study.db").is_file():
            raise ValueError(
                f"--continue needs the --out of an earlier tune with its study.db, got {out_dir!r}"
            )
    else:
        out = prepare_run_dir(out_dir, f"tune-{task}", overwrite)
    direction = spec.metrics[metric]
    identity = {
        "task": task,
        "data": data,
        "options": options,
        "metric": metric,
        "direction": direction,
    }
    identity = json.loads(json.dumps(identity))  # as the study stores it (tuples -> lists)
    epochs = options.get("epochs", spec.default_epochs)
    t_start = time.perf_counter()
    with _quiet_optuna(optuna):
        study = _make_study(optuna, out, identity, seed, trials, epochs, pruner, resume, keep_study)
        search = _Search(optuna, study, spec, task, data, options, space, metric, out, trials)
        log.info(
            "tune %s: %s trials%s, objective %s (%s), searching %s",
            task,
            trials if trials is not None else "unlimited",
            f" or {timeout:g} s" if timeout else "",
            metric,
            direction,
            ", ".join(p.name for p in space),
        )
        try:
            study.optimize(
                search.objective,
                n_trials=trials,
                timeout=timeout,
                catch=(Exception,),
                callbacks=[search.after_trial],
            )
        finally:
            summary = search.write_summary(time.perf_counter() - t_start)
    if summary is None:
        first = next(
            (t.user_attrs.get("error") for t in study.trials if "error" in t.user_attrs),
            "every trial was pruned",
        )
        raise ValueError(f"no trial completed ({_counts(optuna, study)}); first error: {first}")
    return summary


def _counts(optuna, study) -> dict[str, int]:
    states = optuna.trial.TrialState
    trials = study.get_trials(deepcopy=False)
    named = (("complete", states.COMPLETE), ("pruned", states.PRUNED), ("failed", states.FAIL))
    count = {name: sum(t.state == s for t in trials) for name, s in named}
    return count | {"total": len(trials)}


class _Search:
    """The objective and the after-trial bookkeeping of one ``tune`` call."""

    def __init__(
        self,
        optuna,
        study,
        spec: TaskSpec,
        task: str,
        data: dict,
        options: dict,
        space: list[Param],
        metric: str,
        out: Path,
        trials: int | None,
    ) -> None:
        self.optuna, self.study, self.spec, self.task = optuna, study, spec, task
        self.data, self.options, self.space, self.metric = data, options, space, metric
        self.out, self.trials, self.ran = out, trials, 0
        self.trials_dir = out / "trials"

    # ------------------------------------------------------------------ one trial
    def objective(self, trial) -> float:
        params = suggest(trial, self.space, self.options)
        run_dir = self.trials_dir / f"trial-{trial.number}"
        shutil.rmtree(run_dir, ignore_errors=True)  # a leftover of an interrupted search
        run_dir.mkdir(parents=True)
        monitor = _Monitor(trial, self.metric, self.optuna)
        t0 = time.perf_counter()
        try:
            self.spec.run(self.data, self.options | params, run_dir, [monitor])
            if monitor.value is None:
                raise ValueError("the run reported no epoch to score")
        except BaseException as e:
            shutil.rmtree(run_dir, ignore_errors=True)  # pruned, failed or interrupted
            if isinstance(e, Exception) and not isinstance(e, self.optuna.TrialPruned):
                trial.set_user_attr("error", f"{type(e).__name__}: {e}")
            raise
        finally:
            trial.set_user_attr("epochs", monitor.epochs)
            trial.set_user_attr("seconds", round(time.perf_counter() - t0, 3))
        return monitor.value

    def after_trial(self, study, trial) -> None:
        """Keep the new best run as DIR/best (deleting the old one), else delete this run; log
        one line; rewrite trials.csv and, on a new best, best.json."""
        states = self.optuna.trial.TrialState
        self.ran += 1
        run_dir = self.trials_dir / f"trial-{trial.number}"
        best = trial.state == states.COMPLETE and study.best_trial.number == trial.number
        if best:
            self._keep(run_dir)
        else:
            shutil.rmtree(run_dir, ignore_errors=True)
        self._log(study, trial, best)
        atomic_write_text(self.out / "trials.csv", self._csv(study))
        if best:
            atomic_write_json(self.out / "best.json", self._best(study, None))
        counts = _counts(self.optuna, study)
        if counts["complete"] == 0 and _failed_in_a_row(study, states) >= _GIVE_UP_AFTER:
            log.warning("stopping: the first %d trials failed", _GIVE_UP_AFTER)
            study.stop()

    def _keep(self, run_dir: Path) -> None:
        best, old = self.out / "best", self.out / ".best-old"
        shutil.rmtree(old, ignore_errors=True)
        if best.exists():
            best.rename(old)
        run_dir.rename(best)
        shutil.rmtree(old, ignore_errors=True)

    def _log(self, study, trial, best: bool) -> None:
        states = self.optuna.trial.TrialState
        params = " ".join(f"{k}={_fmt(v)}" for k, v in trial.params.items())
        of = f"/{self.trials}" if self.trials else ""
        head = f"trial {trial.number} ({self.ran}{of})"
        seconds = trial.user_attrs.get("seconds", 0.0)
        if trial.state == states.COMPLETE:
            mark = "  new best" if best else f"  (best {study.best_value:.4g})"
            log.info(
                "%s complete  %s %.4g%s  %.1f s  %s",
                head,
                self.metric,
                trial.value,
                mark,
                seconds,
                params,
            )
        elif trial.state == states.PRUNED:
            step = trial.last_step
            value = trial.intermediate_values.get(step, math.nan) if step is not None else math.nan
            log.info(
                "%s pruned at epoch %s  %s %.4g  %.1f s  %s",
                head,
                step,
                self.metric,
                value,
                seconds,
                params,
            )
        else:
            log.warning(
                "%s failed  %s  %.1f s  %s",
                head,
                trial.user_attrs.get("error", "?"),
                seconds,
                params,
            )

    # ------------------------------------------------------------------ outputs
    def _csv(self, study) -> str:
        names = list(dict.fromkeys(k for t in study.trials for k in t.params))
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["number", "state", self.metric, "epochs", "seconds", *names, "error"])
        for t in study.trials:
            value = "" if t.value is None else f"{t.value:.6g}"
            w.writerow(
                [
                    t.number,
                    t.state.name.lower(),
                    value,
                    t.user_attrs.get("epochs", ""),
                    t.user_attrs.get("seconds", ""),
                    *(_fmt(t.params[n], 6) if n in t.params else "" for n in names),
                    t.user_attrs.get("error", ""),
                ]
            )
        return buf.getvalue()

    def _best(self, study, seconds: float | None) -> dict[str, Any]:
        best = study.best_trial
        run_dir = self.out / "best"
        metrics_path = run_dir / "metrics.json"
        test = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
        out = {
            "task": self.task,
            "metric": {"name": self.metric, "direction": study.direction.name.lower()},
            "best_value": best.value,
            "best_params": best.params,
            "best_trial": best.number,
            "run_dir": str(run_dir.resolve()),
            "options": self.options | best.params,  # what the best run was trained with
            "data": self.data,
            "trials": _counts(self.optuna, study),
            "test_metrics": {k: v for k, v in test.items() if _headline_metric(k)},
            "epochs_run": test.get("epochs_run"),
        }
        if seconds is not None:
            out["search_seconds"] = round(seconds, 2)
        return out

    def write_summary(self, seconds: float) -> dict[str, Any] | None:
        """trials.csv, best.json and search.png after the search (None: no trial completed)."""
        from lstmkit.tune.plot import plot_search

        study = self.study
        if not study.trials:
            return None
        atomic_write_text(self.out / "trials.csv", self._csv(study))
        try:
            self.trials_dir.rmdir()  # every trial's run is deleted or kept as DIR/best by now
        except OSError:
            pass
        complete = [t for t in study.trials if t.state.name == "COMPLETE"]
        try:
            plot_search(
                study,
                self.space,
                self.metric,
                self.out / "search.png",
                title=f"tune {self.task} {self.data.get('source', '')}",
            )
        except Exception as e:  # a plot must not lose the search's results
            log.warning("search.png not written: %s", e)
        if not complete:
            return None
        summary = self._best(study, seconds)
        atomic_write_json(self.out / "best.json", summary)
        return summary


def _headline_metric(key: str) -> bool:
    """Test metrics for best.json (the per-class ones stay in the run's metrics.json)."""
    per_class = key.startswith(("test_precision_", "test_recall_"))
    return key.startswith(("test_", "baseline_")) and not per_class


def _failed_in_a_row(study, states) -> int:
    n = 0
    for t in reversed(study.trials):
        if t.state != states.FAIL:
            break
        n += 1
    return n


def _fmt(v: Any, digits: int = 4) -> str:
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v).lower() if isinstance(v, bool) else str(v)
