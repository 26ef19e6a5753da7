"""lstmkit train textgen / generate / resume, end to end through the command line."""

import json
import os
import subprocess
import sys

import pytest
import torch
from tests.cli.inproc import lstmkit_cli
from tests.cli.kill9 import assert_same_run, train_and_kill_9
from tests.textgen.unigram import unigram_bits

from lstmkit.data.text import split_text
from lstmkit.estimators import textgen as textgen_module
from lstmkit.tasks.textgen import load_parts

FAST = ["--hidden", "24", "--layers", "1", "--batch-size", "8", "--bptt", "16", "--lr", "0.01"]
ENV = os.environ | {"OMP_NUM_THREADS": "1"}  # tiny model: one thread is fastest on a shared box


def cli(*args, cwd=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "lstmkit", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env=ENV, timeout=timeout)  # fmt: skip


def _assert_user_error(code, err, expected, needle):
    assert code == expected, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert [line for line in lines if "error:" in line] == lines[-1:], err
    assert needle in lines[-1], err


@pytest.fixture(scope="module")
def text_file(tmp_path_factory, small_text):
    path = tmp_path_factory.mktemp("data") / "small.txt"
    path.write_text(small_text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained(text_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "run"
    r = cli("train", "textgen", "--data", text_file, "--epochs", 2, "--out", out, *FAST)
    assert r.returncode == 0, r.stderr
    assert "bits per character" in r.stdout
    return out


def test_train_writes_the_run_directory(trained):
    names = {p.name for p in trained.iterdir()}
    for f in ("config.json", "model.pt", "checkpoint.pt", "metrics.json", "history.csv",
              "loss.png", "samples.txt"):  # fmt: skip
        assert f in names
    m = json.loads((trained / "metrics.json").read_text())
    for key in ("task", "epochs_run", "train_seconds", "params", "test_bpc", "val_bpc"):
        assert key in m
    assert m["task"] == "textgen" and m["epochs_run"] == 2 and "test_perplexity" not in m
    config = json.loads((trained / "config.json").read_text())
    fit_text = split_text(load_parts(config["data"])[0], (0.95, 0.05))[0]  # less val_fraction
    assert 0 < m["test_bpc"] < unigram_bits(fit_text)  # it learnt from context, not frequencies
    assert config["task"] == "textgen" and config["data"]["source"].endswith("small.txt")
    assert config["options"]["bptt"] == 16
    torch.load(trained / "model.pt", weights_only=True)
    samples = (trained / "samples.txt").read_text()
    for t, s in ((0.5, 0), (0.8, 1), (1.0, 2)):
        assert f"# temperature {t}, seed {s}," in samples
    assert len((trained / "history.csv").read_text().splitlines()) == 3


def test_generate_prints_reproducible_text(trained):
    args = ["generate", trained, "--prompt", "And God", "--length", 40]
    a = cli(*args, "--seed", 1, "--temperature", 0.8, "--top-p", 0.9)
    assert a.returncode == 0, a.stderr
    b = lstmkit_cli(*args, "--seed", 1, "--temperature", 0.8, "--top-p", 0.9)  # this process
    assert a.stdout == b.stdout and a.stdout.startswith("And God")
    # the sample in samples.txt is what `generate` prints with the settings written beside it
    first = (trained / "samples.txt").read_text().split("\n\n# ")[0]
    r = lstmkit_cli("generate", trained, "--temperature", 0.5, "--seed", 0, "--length", 400)
    assert r.stdout.rstrip("\n") == first.split("\n", 1)[1].rstrip("\n")


def test_resume_after_crash_matches_uninterrupted(trained, text_file, tmp_path, monkeypatch):
    """A run that crashed in its second epoch, resumed with `lstmkit resume`, ends exactly as the
    uninterrupted CLI run: same weights, same metrics."""
    from lstmkit.tasks.textgen import run_textgen

    calls = {"n": 0}

    class CrashingLoss(textgen_module._StreamLoss):
        def __call__(self, model, batch):
            calls["n"] += 1
            if calls["n"] > 1 and bool(batch[2]):  # the first chunk of the second epoch
                raise KeyboardInterrupt
            return super().__call__(model, batch)

    config = json.loads((trained / "config.json").read_text())
    cut = tmp_path / "cut"
    monkeypatch.setattr(textgen_module, "_StreamLoss", CrashingLoss)
    with pytest.raises(KeyboardInterrupt):
        run_textgen(config["data"], config["options"], cut)
    monkeypatch.undo()
    assert not (cut / "metrics.json").exists() and (cut / "checkpoint.pt").exists()
    r = cli("resume", cut)
    assert r.returncode == 0, r.stderr
    mf = json.loads((trained / "metrics.json").read_text())
    mc = json.loads((cut / "metrics.json").read_text())
    assert mc["epochs_run"] == 2
    assert (mc["test_bpc"], mc["val_bpc"]) == (mf["test_bpc"], mf["val_bpc"])
    sf = torch.load(trained / "model.pt", weights_only=True)
    sc = torch.load(cut / "model.pt", weights_only=True)
    assert all(torch.equal(sf[k], sc[k]) for k in sf)


def test_kill_9_mid_epoch_then_resume_matches_uninterrupted(trained, text_file, tmp_path,
                                                           cli_main):  # fmt: skip
    """SIGKILL in the second epoch (the first checkpointed), then `lstmkit resume`: the same
    model.pt and metrics.json as the uninterrupted `trained` run of the same command."""
    cut = tmp_path / "cut"
    args = ["train", "textgen", "--data", text_file, "--epochs", 2, *FAST]
    train_and_kill_9(args, cut, after=1, env=ENV)
    code, _, err = cli_main("resume", cut)
    assert code == 0, err
    assert_same_run(trained, cut)


def test_existing_out_is_left_untouched(text_file, tmp_path, cli_main):
    out = tmp_path / "keep"
    out.mkdir()
    (out / "precious.txt").write_text("mine")
    code, _, err = cli_main("train", "textgen", "--data", text_file, "--out", out, *FAST)
    _assert_user_error(code, err, 1, "--overwrite")
    assert [p.name for p in out.iterdir()] == ["precious.txt"]
    assert (out / "precious.txt").read_text() == "mine"


def _bad_file(tmp_path, kind):
    path = tmp_path / f"{kind}.txt"
    content = {"empty": b"", "latin1": "No\u00ebl caf\u00e9 ".encode("latin-1") * 20}
    if kind in content:
        path.write_bytes(content[kind])
    return path


@pytest.mark.parametrize(
    "kind, extra, code, needle",
    [
        ("missing", [], 1, "does not exist"),
        ("empty", [], 1, "empty"),
        ("latin1", [], 1, "not UTF-8"),
        ("ok", ["--tie-weights", "--embedding", "8"], 1, "embedding == hidden"),
        ("ok", ["--bidirectional"], 2, "unrecognized arguments: --bidirectional"),
        ("ok", ["--level", "byte"], 2, "invalid choice"),
        ("ok", ["--bptt", "0"], 2, "positive integer"),
        ("ok", ["--test-fraction", "1.5"], 2, "--test-fraction: expected a fraction in (0, 0.5]"),
        ("ok", ["--batch-size", "20000"], 1, "too few"),
    ],
)
def test_train_bad_input(text_file, tmp_path, kind, extra, code, needle, cli_main):
    data = text_file if kind == "ok" else _bad_file(tmp_path, kind)
    out = tmp_path / "out"
    args = ["train", "textgen", "--data", data, "--out", out, "--epochs", 1, *FAST, *extra]
    got, _, err = cli_main(*args)
    _assert_user_error(got, err, code, needle)
    assert not out.exists()  # no debris left behind


@pytest.mark.parametrize(
    "extra, code, needle",
    [
        (["--temperature", "0"], 2, "expected a temperature > 0, got 0.0"),
        (["--temperature", "-1"], 2, "expected a temperature > 0, got -1.0"),
        (["--top-p", "0"], 2, "(0, 1]"),
        (["--top-p", "1.5"], 2, "(0, 1]"),
        (["--top-k", "0"], 2, "positive integer"),
        (["--length", "-3"], 2, ">= 0"),
        (["--prompt", "\u00e9t\u00e9"], 1, "never occur"),
    ],
)
def test_generate_bad_arguments(trained, extra, code, needle, cli_main):
    got, _, err = cli_main("generate", trained, "--length", 5, *extra)
    _assert_user_error(got, err, code, needle)


def test_generate_needs_a_textgen_run(tmp_path, cli_main):
    code, _, err = cli_main("generate", tmp_path / "nope")
    _assert_user_error(code, err, 1, "does not exist")
    other = tmp_path / "classify-run"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"task": "classify"}))
    code, _, err = cli_main("generate", other)
    _assert_user_error(code, err, 1, "not a textgen run")
    code, _, err = cli_main("generate", tmp_path)  # a folder, but no run
    _assert_user_error(code, err, 1, "no config.json")


def test_errors_in_a_real_process_are_one_line(tmp_path):
    r = cli("train", "textgen", "--data", tmp_path / "missing.txt", "--out", tmp_path / "o")
    _assert_user_error(r.returncode, r.stderr, 1, "missing.txt")
    r = cli("generate", tmp_path, "--temperature", "0")
    _assert_user_error(r.returncode, r.stderr, 2, "temperature")


def test_evaluate_run_repeats_the_test_metric(trained, text_file):
    from lstmkit.tasks.textgen import evaluate_run

    saved = json.loads((trained / "metrics.json").read_text())
    m = evaluate_run(trained)
    assert m["task"] == "textgen" and m["test_bpc"] == saved["test_bpc"]
    assert evaluate_run(trained, str(text_file))["test_tokens"] > m["test_tokens"]


def test_classify_only_commands_refuse_a_textgen_run(trained, tmp_path, cli_main):
    inp = tmp_path / "in.npz"
    import numpy as np

    np.savez(inp, X=np.zeros((2, 3, 1), dtype=np.float32))
    for args in (["predict", trained, "--input", inp], ["extract", trained, "--input", inp,
                 "--output", tmp_path / "f.npy"]):  # fmt: skip
        code, _, err = cli_main(*args)
        _assert_user_error(code, err, 1, "is a textgen run")


def test_evaluate_a_textgen_run(trained, cli_main):
    code, out, err = cli_main("evaluate", trained)
    assert code == 0, err
    import json

    m = json.loads(out)
    saved = json.loads((trained / "metrics.json").read_text())
    key = "test_bpc" if "test_bpc" in saved else "test_perplexity"
    assert m[key] == pytest.approx(saved[key], rel=1e-6)
