"""lstmkit train classify / evaluate / predict / resume, end to end through the command line."""

import json
import os
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from tests.cli.inproc import lstmkit_cli

FAST = [
    "--hidden",
    "16",
    "--layers",
    "1",
    "--batch-size",
    "32",
    "--lr",
    "0.01",
    "--arch",
    "encoder",
    "--conv-channels",
    "0",
]


def cli(*args, cwd=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "lstmkit", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=timeout)  # fmt: skip


def _assert_user_error(r, code, needle):
    """Exit code, no traceback, and exactly one error line (the last; progress logs may precede)."""
    assert r.returncode == code, r.stderr
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert [line for line in lines if "error:" in line] == lines[-1:], r.stderr
    assert needle in lines[-1], r.stderr


@pytest.fixture(scope="module")
def npz(tmp_path_factory):
    """A learnable 3-class problem with variable lengths."""
    rng = np.random.default_rng(0)
    n, L, C = 240, 12, 2
    y = rng.integers(0, 3, n)
    X = rng.normal(0, 0.5, (n, L, C)).astype(np.float32)
    X[:, :, 0] += (y[:, None] - 1) * 2.0  # class shifts channel 0
    lengths = rng.integers(6, L + 1, n)
    for i, k in enumerate(lengths):
        X[i, k:] = 0
    path = tmp_path_factory.mktemp("data") / "toy.npz"
    np.savez(path, X=X, y=y * 10, lengths=lengths)  # labels 0, 10, 20
    return path


@pytest.fixture(scope="module")
def trained(npz, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "run"
    r = cli(
        "train", "classify", "--arch", "encoder", "--data", npz, "--epochs", 10, "--out", out, *FAST
    )
    assert r.returncode == 0, r.stderr
    return out


def test_train_writes_the_run_directory(trained):
    names = {p.name for p in trained.iterdir()}
    for f in ("config.json", "model.pt", "checkpoint.pt", "metrics.json", "history.csv",
              "loss.png", "confusion.png"):  # fmt: skip
        assert f in names
    m = json.loads((trained / "metrics.json").read_text())
    for key in ("task", "epochs_run", "train_seconds", "params", "test_accuracy", "test_macro_f1"):
        assert key in m
    assert m["task"] == "classify" and m["epochs_run"] == 10
    assert m["test_accuracy"] > 0.8  # the classes are well separated
    torch.load(trained / "model.pt", weights_only=True)
    assert len((trained / "history.csv").read_text().splitlines()) == 11


def test_evaluate_and_predict(trained, npz, tmp_path):
    r = lstmkit_cli("evaluate", trained)  # in this process: the fixture trained in a real one
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout)
    saved = json.loads((trained / "metrics.json").read_text())
    assert m["test_accuracy"] == pytest.approx(saved["test_accuracy"])
    with np.load(npz) as z:
        X, lengths = z["X"][:7], z["lengths"][:7]
    inp = tmp_path / "in.npz"
    np.savez(inp, X=X, lengths=lengths)
    out = tmp_path / "pred.csv"
    r = lstmkit_cli("predict", trained, "--input", inp, "--output", out)
    assert r.returncode == 0, r.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "label,p_0,p_10,p_20"
    assert len(lines) == 8
    probs = np.array([[float(v) for v in line.split(",")[1:]] for line in lines[1:]])
    assert np.allclose(probs.sum(1), 1, atol=1e-4)
    r = lstmkit_cli("predict", trained, "--input", inp, "--output", out)
    _assert_user_error(r, 1, "exists; pass --overwrite")


def test_same_seed_same_metrics(npz, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        assert (
            lstmkit_cli(
                "train",
                "classify",
                "--arch",
                "encoder",
                "--data",
                npz,
                "--epochs",
                2,
                "--out",
                out,
                *FAST,
            ).returncode
            == 0
        )
    ma = json.loads((a / "metrics.json").read_text())
    mb = json.loads((b / "metrics.json").read_text())
    assert ma["test_accuracy"] == mb["test_accuracy"]
    sa = torch.load(a / "model.pt", weights_only=True)
    sb = torch.load(b / "model.pt", weights_only=True)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_kill_9_then_resume_matches_uninterrupted(npz, tmp_path):
    args = ["--data", npz, "--epochs", 6, *FAST]
    full = tmp_path / "full"
    assert cli("train", "classify", "--arch", "encoder", *args, "--out", full).returncode == 0
    cut = tmp_path / "cut"
    cmd = [
        sys.executable,
        "-m",
        "lstmkit",
        "train",
        "classify",
        "--arch",
        "encoder",
        *map(str, args),
        "--out",
        str(cut),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    history = cut / "history.csv"
    while time.time() < deadline:  # wait for the second epoch's checkpoint, then kill -9
        if history.exists() and len(history.read_text().splitlines()) >= 3:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (cut / "metrics.json").exists()
    r = cli("resume", cut)
    assert r.returncode == 0, r.stderr
    mf = json.loads((full / "metrics.json").read_text())
    mc = json.loads((cut / "metrics.json").read_text())
    assert mc["epochs_run"] == 6
    assert mc["test_accuracy"] == mf["test_accuracy"]
    sf = torch.load(full / "model.pt", weights_only=True)
    sc = torch.load(cut / "model.pt", weights_only=True)
    assert all(torch.equal(sf[k], sc[k]) for k in sf)


def test_existing_out_is_left_untouched(npz, tmp_path):
    out = tmp_path / "keep"
    out.mkdir()
    (out / "precious.txt").write_text("mine")
    r = cli(
        "train", "classify", "--arch", "encoder", "--data", npz, "--epochs", 1, "--out", out, *FAST
    )
    _assert_user_error(r, 1, "--overwrite")
    assert (out / "precious.txt").read_text() == "mine"


@pytest.mark.parametrize(
    "args, code, needle",
    [
        (["train", "classify", "--arch", "encoder", "--data", "missing.npz"], 1, "missing.npz"),
        (["train", "classify", "--arch", "encoder", "--data", "nosuchset"], 1, "nosuchset"),
        (
            ["train", "classify", "--arch", "encoder", "--data", "x.npz", "--epochs", "0"],
            2,
            "positive integer",
        ),
        (
            ["train", "classify", "--arch", "encoder", "--data", "x.npz", "--dropout", "1.5"],
            2,
            "[0, 1)",
        ),
        (
            ["train", "classify", "--arch", "encoder", "--data", "x.npz", "--cell", "rnn"],
            2,
            "invalid choice",
        ),
        (["evaluate", "no/such/run"], 1, "does not exist"),
        (["resume", "no/such/run"], 1, "does not exist"),
    ],
)
def test_user_mistakes_are_one_line(args, code, needle, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # in this process: test_bad_files runs one in a real one
    r = lstmkit_cli(*args)
    _assert_user_error(r, code, needle)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_bad_files(tmp_path, cli_main):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"garbage")
    _assert_user_error(
        cli("train", "classify", "--arch", "encoder", "--data", bad, "--out", tmp_path / "o"),
        1,
        "bad.npz",
    )  # one in a real process, the rest in this one

    def run(*args):
        code, _, err = cli_main(*args)
        return SimpleNamespace(returncode=code, stderr=err)

    X = np.random.default_rng(0).random((10, 5, 2)).astype(np.float32)
    np.savez(tmp_path / "short_y.npz", X=X, y=np.arange(7) % 2)
    r = run(
        "train",
        "classify",
        "--arch",
        "encoder",
        "--data",
        tmp_path / "short_y.npz",
        "--out",
        tmp_path / "o2",
    )
    _assert_user_error(r, 1, "10")
    X[0, 0, 0] = np.nan
    np.savez(tmp_path / "nan.npz", X=X, y=np.arange(10) % 2)
    r = run(
        "train",
        "classify",
        "--arch",
        "encoder",
        "--data",
        tmp_path / "nan.npz",
        "--out",
        tmp_path / "o3",
    )
    _assert_user_error(r, 1, "NaN")
    assert not (tmp_path / "o").exists() and not (tmp_path / "o2").exists()


@pytest.mark.parametrize("pool, shape", [("none", (5, 12, 16)), ("mean", (5, 16)), (None, (5, 16))])
def test_extract_features(trained, npz, tmp_path, pool, shape):
    with np.load(npz) as z:
        X, lengths = z["X"][:5], z["lengths"][:5]
    inp = tmp_path / "in.npz"
    np.savez(inp, X=X, lengths=lengths)
    out = tmp_path / "f.npy"
    args = ["extract", trained, "--input", inp, "--output", out] + (
        ["--pool", pool] if pool else []
    )
    r = cli(*args) if pool is None else lstmkit_cli(*args)  # one in a real process
    assert r.returncode == 0, r.stderr
    f = np.load(out)
    assert f.shape == shape
    if pool == "none":  # local features are zero past each sequence's length
        for i, k in enumerate(lengths):
            assert np.all(f[i, k:] == 0) and np.any(f[i, :k] != 0)
    if pool is None:  # the model's own pooling ("last") equals the Python API's
        import lstmkit

        clf = lstmkit.load(trained)
        assert np.allclose(f, clf.extract(X, lengths), atol=1e-6)


def test_bf16_precision_trains_on_cpu(npz, tmp_path, cli_main, monkeypatch):
    """--precision bf16 trains under CPU bf16 autocast: every training step's LSTM is called
    inside it, on the bf16 output of the Conv1d front end; and the toy problem is learnt."""
    from lstmkit.nn import LSTM

    calls = []  # (training, autocast on, autocast dtype, input dtype) of every LSTM call
    forward = LSTM.forward

    def spy(self, x, *args, **kwargs):
        dtype = torch.get_autocast_dtype("cpu")
        calls.append((self.training, torch.is_autocast_enabled("cpu"), dtype, x.dtype))
        return forward(self, x, *args, **kwargs)

    monkeypatch.setattr(LSTM, "forward", spy)
    out = tmp_path / "bf16"
    args = [a if a != "0" else "8" for a in FAST]  # a Conv1d front end that autocast runs in bf16
    code, _, err = cli_main(
        "train",
        "classify",
        "--arch",
        "encoder",
        "--data",
        npz,
        "--epochs",
        10,
        "--precision",
        "bf16",
        "--out",
        out,
        *args,
    )
    assert code == 0, err
    training = [c[1:] for c in calls if c[0]]
    assert len(training) >= 10  # 10 epochs of at least one step
    assert set(training) == {(True, torch.bfloat16, torch.bfloat16)}
    m = json.loads((out / "metrics.json").read_text())
    assert m["test_accuracy"] > 0.8  # the toy problem is learnt in bf16 too


def _write_bad_inputs(d):
    """Broken IDX / UCR files, each paired with the text its one-line error must contain."""
    (d / "bad-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03garbage")
    (d / "bad-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x02\x01\x02")
    (d / "lone-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03")
    (d / "ragged.tsv").write_text("1\t0.1\t0.2\n2\t0.3\n")
    (d / "one_label.tsv").write_text("a\t0.1\t0.2\na\t0.3\t0.4\n")
    (d / "empty.tsv").write_text("")
    (d / "missing.tsv").write_text("1\tnan\tnan\n2\t0.1\t0.2\n")
    (d / "junk.ts").write_text("@problemName x\n@data\nnot,a,series\n")
    return [
        ("bad-images-idx3-ubyte", "bad-images-idx3-ubyte"),
        ("lone-images-idx3-ubyte", "labels file not found"),
        ("ragged.tsv", "too few to hold out a test split"),
        ("one_label.tsv", "at least 2 classes"),
        ("empty.tsv", "empty"),
        ("missing.tsv", "all missing"),
        ("junk.ts", "junk.ts"),
    ]


def test_bad_idx_and_ucr_files_are_one_line_errors(tmp_path, cli_main):
    """In this process for the many files (the CLI's own error path), then one in a real one."""
    for i, (name, needle) in enumerate(_write_bad_inputs(tmp_path)):
        out = tmp_path / f"out{i}"
        code, _, err = cli_main(
            "train", "classify", "--arch", "encoder", "--data", tmp_path / name, "--out", out, *FAST
        )
        _assert_user_error(SimpleNamespace(returncode=code, stderr=err), 1, needle)
        assert not out.exists(), name  # nothing half-made is left behind
    r = cli(
        "train",
        "classify",
        "--arch",
        "encoder",
        "--data",
        "digits",
        "--test-data",
        tmp_path / "ragged.tsv",
        "--out",
        tmp_path / "o",
        *FAST,
    )
    _assert_user_error(r, 1, "channels")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("out")) == []


def test_relative_data_path_works_from_another_directory(npz, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    (work / "toy.npz").write_bytes(npz.read_bytes())
    monkeypatch.chdir(work)
    r = lstmkit_cli(
        "train",
        "classify",
        "--arch",
        "encoder",
        "--data",
        "toy.npz",
        "--epochs",
        1,
        "--out",
        "run",
        *FAST,
    )
    assert r.returncode == 0, r.stderr
    config = json.loads((work / "run" / "config.json").read_text())
    assert config["data"]["source"] == str(work / "toy.npz")  # stored absolute
    monkeypatch.chdir(tmp_path)
    r = lstmkit_cli("evaluate", work / "run")  # run from elsewhere
    assert r.returncode == 0, r.stderr
    assert "test_accuracy" in json.loads(r.stdout)
