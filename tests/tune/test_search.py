"""tune() with a stub task (no training): pruning, keeping only the best run, fixed options,
seeds, timeout, failed trials, continuing a study, outputs."""

from __future__ import annotations

import csv
import json

import pytest

from lstmkit.tune import tune


def _rows(out):
    with (out / "trials.csv").open() as f:
        return list(csv.DictReader(f))


def _run(stub_spec, out, trials=12, **kwargs):
    spec, run = stub_spec
    kwargs = {"seed": 0, "keep_study": False} | kwargs
    return tune("classify", {"source": "stub"}, kwargs.pop("options", {}), out, trials=trials,
                spec=spec, **kwargs), run  # fmt: skip


def test_pruning_stops_poor_trials_and_only_the_best_run_is_kept(stub, tmp_path):
    out = tmp_path / "search"
    summary, run = _run(stub(epochs=6), out, trials=16)
    rows = _rows(out)
    assert len(rows) == 16 == summary["trials"]["total"]
    pruned = [r for r in rows if r["state"] == "pruned"]
    complete = [r for r in rows if r["state"] == "complete"]
    assert pruned, "the median pruner stopped no trial (coupled cells are 10x worse)"
    assert all(int(r["epochs"]) < 6 for r in pruned)
    assert all(int(r["epochs"]) == 6 for r in complete)
    assert summary["trials"] == {"complete": len(complete), "pruned": len(pruned), "failed": 0,
                                 "total": 16}  # fmt: skip
    # the objective: the validation loss at the kept epoch (the last, as the stub's loss falls)
    best = min(complete, key=lambda r: float(r["val_loss"]))
    assert summary["best_trial"] == int(best["number"])
    assert summary["best_value"] == pytest.approx(
        run.loss(run.calls[summary["best_trial"]], 6), rel=1e-12
    )
    assert summary["metric"] == {"name": "val_loss", "direction": "minimize"}
    # on disk: the best run only, with the best trial's options; no trial directory left
    assert sorted(p.name for p in out.iterdir()) == ["best", "best.json", "search.png",
                                                      "trials.csv"]  # fmt: skip
    kept = json.loads((out / "best" / "metrics.json").read_text())["options"]
    assert kept == run.calls[summary["best_trial"]]
    assert summary["options"] == kept
    assert json.loads((out / "best.json").read_text()) == json.loads(json.dumps(summary))
    assert summary["run_dir"] == str((out / "best").resolve())
    assert summary["test_metrics"] == {"test_accuracy": 0.5}


def test_without_pruner_every_trial_completes(stub, tmp_path):
    summary, _ = _run(stub(epochs=4), tmp_path / "s", trials=8, pruner="none")
    assert summary["trials"]["complete"] == 8 and summary["trials"]["pruned"] == 0


def test_fixed_options_are_not_searched(stub, tmp_path):
    fixed = {"hidden": 24, "layers": 1, "cell": "gru", "epochs": 3}
    summary, run = _run(stub(epochs=3), tmp_path / "s", trials=5, options=fixed)
    rows = _rows(tmp_path / "s")
    searched = set(rows[0]) - {"number", "state", "val_loss", "epochs", "seconds", "error"}
    assert searched == {"bidirectional", "lr", "batch_size", "head_dropout"}  # no dropout: 1 layer
    assert all(call | fixed == call for call in run.calls)
    assert set(summary["best_params"]) == searched
    assert summary["options"]["hidden"] == 24


def test_same_seed_same_trials_other_seed_other_trials(stub, tmp_path):
    def params(seed, name):
        _, run = _run(stub(epochs=3), tmp_path / name, trials=6, seed=seed)
        return run.calls

    a, b, c = params(3, "a"), params(3, "b"), params(4, "c")
    assert a == b
    assert a != c
    assert all(call["random_state"] == 3 for call in a)  # and seeds every trial's training


def test_timeout_stops_the_search_early(stub, tmp_path):
    summary, _ = _run(stub(epochs=2, sleep=0.15), tmp_path / "s", trials=200, timeout=1.0)
    assert 1 <= summary["trials"]["total"] < 20
    assert len(_rows(tmp_path / "s")) == summary["trials"]["total"]


def test_failed_trials_are_recorded_and_the_search_goes_on(stub, tmp_path):
    summary, _ = _run(stub(epochs=2, fail_when=lambda o: o["cell"] == "lstm"), tmp_path / "s",
                      trials=10, pruner="none")  # fmt: skip
    rows = _rows(tmp_path / "s")
    failed = [r for r in rows if r["state"] == "fail"]
    assert failed and summary["trials"]["failed"] == len(failed)
    assert all(r["cell"] == "lstm" and "diverged" in r["error"] for r in failed)
    assert all(r["cell"] != "lstm" for r in rows if r["state"] == "complete")
    assert not (tmp_path / "s" / "trials").exists()


def test_all_trials_failing_is_one_error_after_three(stub, tmp_path):
    spec_run = stub(epochs=2, fail_when=lambda o: True)
    with pytest.raises(ValueError, match=r"no trial completed .*diverged"):
        _run(spec_run, tmp_path / "s", trials=10)
    assert len(spec_run[1].calls) == 3  # gave up after three failures in a row
    assert not (tmp_path / "s" / "best.json").exists()


def test_maximised_metric(stub, tmp_path):
    summary, _ = _run(stub(epochs=3), tmp_path / "s", trials=6, metric="val_accuracy")
    rows = _rows(tmp_path / "s")
    values = [float(r["val_accuracy"]) for r in rows if r["state"] == "complete"]
    assert summary["metric"]["direction"] == "maximize"
    assert summary["best_value"] == pytest.approx(max(values), rel=1e-5)


def test_continue_adds_trials_to_the_study(stub, tmp_path):
    out = tmp_path / "s"
    first, _ = _run(stub(epochs=2), out, trials=3, keep_study=True)
    second, run = _run(stub(epochs=2), out, trials=2, keep_study=True, resume=True)
    assert second["trials"]["total"] == 5 and len(_rows(out)) == 5
    assert second["best_value"] <= first["best_value"]
    assert len(run.calls) == 2
    with pytest.raises(ValueError, match="differs in options"):
        _run(stub(epochs=2), out, trials=1, keep_study=True, resume=True, options={"hidden": 8})
    with pytest.raises(ValueError, match="--continue needs"):
        _run(stub(epochs=2), tmp_path / "none", trials=1, keep_study=True, resume=True)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"trials": 0}, "trials must be a positive integer"),
        ({"trials": None}, "give trials, timeout or both"),
        ({"timeout": -1}, "timeout must be a positive"),
        ({"metric": "test_accuracy"}, "metric for classify must be one of val_loss, val_accuracy"),
        ({"pruner": "hyperband"}, "pruner must be one of"),
        ({"options": {"val_fraction": 0.0}}, "val_fraction must be > 0"),
        ({"task": "regress"}, "task must be one of classify, forecast, textgen"),
        ({"options": {"hidden": 8, "layers": 1, "cell": "gru", "bidirectional": False,
                      "lr": 0.01, "batch_size": 8, "head_dropout": 0.0}},
         "nothing to search"),
    ],
)  # fmt: skip
def test_bad_arguments(stub, tmp_path, kwargs, match):
    spec, _ = stub()
    kwargs = {"trials": 2} | kwargs
    task = kwargs.pop("task", "classify")
    options = kwargs.pop("options", {})
    with pytest.raises(ValueError, match=match):
        tune(task, {"source": "x"}, options, tmp_path / "s", spec=spec, **kwargs)
    assert not (tmp_path / "s").exists()


def test_an_existing_out_is_left_alone_without_overwrite(stub, tmp_path):
    out = tmp_path / "s"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="already exists and is not empty"):
        _run(stub(), out, trials=1)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    _run(stub(epochs=1), out, trials=1, overwrite=True)
    assert not (out / "keep.txt").exists() and (out / "best.json").is_file()


def test_an_interrupted_search_keeps_what_it_found(stub, tmp_path):
    spec, run = stub(epochs=2)
    calls = {"n": 0}

    def interrupted(data, options, run_dir, callbacks):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the fourth trial
        return run(data, options, run_dir, callbacks)

    out = tmp_path / "s"
    with pytest.raises(KeyboardInterrupt):
        tune("classify", {"source": "stub"}, {}, out, trials=10, keep_study=False,
             spec=type(spec)(interrupted, spec.context, spec.metrics, 2))  # fmt: skip
    rows = _rows(out)
    assert [r["state"] for r in rows][-1] == "fail" and len(rows) == 4
    best = json.loads((out / "best.json").read_text())
    assert best["trials"]["total"] == 4 and (out / "best" / "metrics.json").is_file()
    assert not (out / "trials").exists()


def test_without_optuna_the_error_names_the_extra(stub, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna raises ImportError
    with pytest.raises(ValueError, match=r"pip install 'lstmkit\[tune\]'"):
        _run(stub(), tmp_path / "s", trials=1)
    assert not (tmp_path / "s").exists()
