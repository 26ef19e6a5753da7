"""inspect_run and ``lstmkit inspect`` end to end on the tiny trained runs of every task."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

import lstmkit
from lstmkit.data import load_classification
from lstmkit.inspect import forget_stats, gate_trace, hidden_grad_norms, inspect_run


def _check_report_folder(out: Path) -> dict:
    """Every PNG is referenced by index.html and listed in summary.json, and every reference
    points at an existing PNG; returns the summary."""
    pngs = {p.name for p in out.glob("*.png")}
    assert pngs, "no figures written"
    html = (out / "index.html").read_text()
    refs = set(re.findall(r'<img src="([^"]+)"', html))
    assert refs == pngs
    summary = json.loads((out / "summary.json").read_text())
    assert {f["file"] for f in summary["figures"]} == pngs
    assert "forget.png" in pngs
    return summary


@pytest.fixture(scope="module")
def digits_npz(tmp_path_factory) -> tuple[Path, np.ndarray, np.ndarray, np.ndarray]:
    """Five digits as an .npz with labels (the values, as the data holds them) and lengths."""
    data, _ = load_classification("digits")
    X = data.X[:5]
    y = np.array(data.classes)[data.y[:5]].astype(np.int64)
    lengths = np.array([8, 5, 8, 8, 8])
    X = X * (np.arange(8)[None, :, None] < lengths[:, None, None])
    path = tmp_path_factory.mktemp("inputs") / "digits5.npz"
    np.savez(path, X=X, y=y, lengths=lengths)
    return path, X, y, lengths


@pytest.fixture(scope="module")
def airline_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("inputs") / "airline.csv"
    path.write_bytes(resources.files("lstmkit").joinpath("datasets", "airline.csv").read_bytes())
    return path


def test_inspect_run_numbers_match_the_pieces(tiny_runs, digits_npz, tmp_path):
    """The summary's forget statistics and gradient norms are those of forget_stats /
    hidden_grad_norms on the same samples; a padded sample is shown up to its length."""
    path, X, y, lengths = digits_npz
    report = inspect_run(tiny_runs.classify, path, tmp_path / "out", samples=[1, 0])
    summary = _check_report_folder(report.out_dir)
    assert report.index == tmp_path / "out" / "index.html"
    assert summary == json.loads(json.dumps(report.summary))
    assert [s["index"] for s in summary["samples"]] == [1, 0]
    assert "true class" in summary["samples"][0]["label"]
    (entry,) = summary["recurrent"]
    assert entry["name"] == "features.rnn" and entry["cell"] == "gru"

    clf = lstmkit.load(tiny_runs.classify)
    rec = gate_trace(clf, X[[1, 0]], lengths[[1, 0]])
    expected = forget_stats(rec, lengths[[1, 0]])
    got = entry["forget"]["layers"][0]
    want = expected["layers"][0]
    assert expected["gate"] == entry["forget"]["gate"] == "z"
    assert got["count"] == want["count"] == (5 + 8) * entry["hidden"]
    for key in ("share_low", "share_high"):  # fused vs step-by-step kernels: at most a value
        assert got[key] == pytest.approx(want[key], abs=1.5 / got["count"])
    assert got["mean"] == pytest.approx(want["mean"], abs=1e-6)

    norms = hidden_grad_norms(clf, X[[0]], y[[0]])  # (layers, D, N, L)
    np.testing.assert_allclose(entry["samples"]["0"]["grad_norms"], norms[:, :, 0], rtol=1e-5)
    assert np.asarray(entry["samples"]["1"]["grad_norms"]).shape == (1, 1, 5)  # its length


def test_cli_classify(tiny_runs, digits_npz, tmp_path, cli_main):
    path = digits_npz[0]
    out = tmp_path / "report"
    code, stdout, err = cli_main("inspect", tiny_runs.classify, "--input", path,
                                 "--out", out, "--samples", "2", "--max-units", "6")  # fmt: skip
    assert code == 0, err
    assert "wrote" in stdout and "z < 0.1" in stdout
    summary = _check_report_folder(out)
    assert summary["task"] == "classify"
    assert len(summary["recurrent"][0]["samples"]["2"]["units_shown"][0]) == 6
    assert {f["file"] for f in summary["figures"]} == {
        "forget.png", "sample2-layer0-gates.png", "sample2-layer0-states.png",
        "sample2-gradnorm.png", "sample2-saliency.png",
    }  # fmt: skip

    # an existing report is not replaced without --overwrite, then is
    before = (out / "summary.json").read_text()
    code, _, err = cli_main("inspect", tiny_runs.classify, "--input", path, "--out", out)
    assert code == 1 and "--overwrite" in err and "Traceback" not in err
    assert (out / "summary.json").read_text() == before
    code, _, err = cli_main("inspect", tiny_runs.classify, "--input", path, "--out", out,
                            "--samples", "0", "--overwrite")  # fmt: skip
    assert code == 0, err
    assert not (out / "sample2-gradnorm.png").exists()  # the earlier report's files are gone
    _check_report_folder(out)


def test_cli_forecast(tiny_runs, airline_csv, tmp_path, cli_main):
    """Default samples: the last window with a known future and the last window."""
    out = tmp_path / "report"
    code, stdout, err = cli_main("inspect", tiny_runs.forecast, "--input", airline_csv,
                                 "--out", out)  # fmt: skip
    assert code == 0, err
    summary = _check_report_folder(out)
    first, last = summary["samples"]
    assert last["index"] == first["index"] + 12  # the horizon
    assert "truth known" in first["label"] and "after the data" in last["label"]
    assert summary["task"] == "forecast" and "forecast of 12 steps" in stdout
    assert summary["recurrent"][0]["forget"]["gate"] == "f"


def test_cli_textgen_from_file_and_text(tiny_runs, tmp_path, cli_main):
    out = tmp_path / "file"
    code, _, err = cli_main("inspect", tiny_runs.textgen, "--input",
                            tiny_runs.textgen_text, "--out", out, "--samples", "1",
                            "--steps", "24")  # fmt: skip
    assert code == 0, err
    summary = _check_report_folder(out)
    (row,) = summary["samples"]
    assert row["index"] == 1 and "chars 24..47" in row["label"]
    assert len(summary["recurrent"][0]["samples"]["1"]["grad_norms"][0][0]) == 24

    default_out = tiny_runs.textgen / "inspect"
    code, _, err = cli_main("inspect", tiny_runs.textgen, "--text", "In the beginning")
    try:
        assert code == 0, err
        assert _check_report_folder(default_out)["input"] == "text"
    finally:
        import shutil

        shutil.rmtree(default_out, ignore_errors=True)  # the run folder is shared by the session


def _user_error(code, err, expected, needle):
    assert code == expected, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert [line for line in lines if "error:" in line] == lines[-1:], err
    assert needle in lines[-1], err


def test_bad_inputs_are_one_line_errors(tiny_runs, digits_npz, airline_csv, tmp_path, cli_main):
    npz = digits_npz[0]
    wide = tmp_path / "wide.npz"
    np.savez(wide, X=np.zeros((2, 8, 5), np.float32))
    other = tmp_path / "other.csv"
    other.write_text("day,visitors\n" + "".join(f"{d},{d * 3}\n" for d in range(60)))
    cases = [
        ([tiny_runs.classify, "--input", tmp_path / "missing.npz"], 1, "does not exist"),
        ([tiny_runs.classify, "--input", wide], 1, "5 channels"),
        ([tiny_runs.classify, "--input", npz, "--samples", "7"], 1, "sample 7 is out of range"),
        ([tiny_runs.classify, "--input", npz, "--samples", "x"], 2, "sample indices"),
        ([tiny_runs.classify, "--input", airline_csv], 1, "a classify run reads"),
        ([tiny_runs.classify, "--text", "hello"], 1, "text= is for textgen runs"),
        ([tiny_runs.classify], 1, "give --input"),
        ([tiny_runs.textgen, "--input", npz], 1, "a textgen run reads"),
        ([tiny_runs.textgen, "--text", "Z\u00e9\u00e9"], 1, "never occur in the training text"),
        ([tiny_runs.forecast, "--input", npz], 1, "unknown table file type"),
        ([tiny_runs.forecast, "--input", other], 1, "passengers"),
        ([tmp_path, "--input", npz], 1, "not an lstmkit run directory"),
    ]
    for args, expected, needle in cases:
        out = tmp_path / f"out{len(list(tmp_path.iterdir()))}"
        code, _, err = cli_main("inspect", *args, "--out", out)
        _user_error(code, err, expected, needle)
        assert not out.exists() or not any(out.iterdir()), args  # nothing half-written

    keep = tmp_path / "mine"
    keep.mkdir()
    (keep / "notes.txt").write_text("my notes")
    code, _, err = cli_main("inspect", tiny_runs.classify, "--input", npz,
                            "--out", keep, "--overwrite")  # fmt: skip
    _user_error(code, err, 1, "holds no earlier inspect report")
    assert (keep / "notes.txt").read_text() == "my notes"


def test_stacked_bidirectional_strided_run_with_padding(tmp_path):
    """Two bidirectional peephole layers behind a strided Conv1d front end, on right-padded
    sequences: figures per layer with both directions, gradient norms over the steps the
    recurrence runs (ceil(length / stride)), the forget table per layer and direction."""
    from lstmkit import Classifier

    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 10, 3)).astype(np.float32)
    y = rng.integers(0, 2, 40)
    lengths = rng.integers(5, 11, 40)
    lengths[0] = 7
    clf = Classifier(
        arch="encoder",
        hidden=4,
        layers=2,
        bidirectional=True,
        cell="peephole",
        conv_channels=3,
        conv_stride=2,
        epochs=1,
        min_steps=0,
        batch_size=20,
    )
    run = clf.fit(X, y, lengths).save(tmp_path / "run")
    report = inspect_run(run, X, tmp_path / "out", labels=y, lengths=lengths, samples=[0])
    summary = _check_report_folder(report.out_dir)
    files = {f["file"] for f in summary["figures"]}
    assert {"sample0-layer0-gates.png", "sample0-layer1-states.png"} <= files
    (entry,) = summary["recurrent"]
    assert (entry["layers"], entry["directions"]) == (2, 2)
    assert np.asarray(entry["samples"]["0"]["grad_norms"]).shape == (2, 2, 4)  # ceil(7 / 2)
    assert len(entry["forget"]["layers"]) == 4
    assert all(e["count"] == 4 * 4 for e in entry["forget"]["layers"])  # 4 steps x 4 units


def test_index_page_escapes_text():
    from lstmkit.inspect.page import render_index

    summary = {
        "task": "textgen", "run_dir": "runs/<x>", "input": "text", "loss": "a & b",
        "model": {"hidden": 4, "cell": "lstm"}, "recurrent": [],
        "samples": [{"index": 0, "label": "chunk 0: '<script>alert(1)</script>'",
                     "prediction": "p < 1", "loss": 1.0}],
        "figures": [{"file": "sample0 gates.png", "title": "t<", "caption": "c>", "sample": 0}],
    }  # fmt: skip
    page = render_index(summary)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert 'src="sample0%20gates.png"' in page and "runs/&lt;x&gt;" in page
