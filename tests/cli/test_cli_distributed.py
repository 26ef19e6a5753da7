"""``lstmkit train ... --nproc 2``, end to end: two processes on this machine through torch's own
launcher match the single-process accuracy (the acceptance test of data-parallel training), only
rank 0 writes, a killed process fails the run in one line and ``lstmkit resume`` finishes it
exactly; ``torchrun -m lstmkit`` works directly too."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from tests.cli.inproc import lstmkit_cli

# digits (8 rows x 8 pixels, 10 classes): 20 epochs bring one and two processes to the same
# accuracy (0.944 both, measured) in a few seconds each.
DIGITS = [
    "--data",
    "digits",
    "--hidden",
    "32",
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
    "--epochs",
    "20",
    "--seed",
    "0",
]
RUN_FILES = {"checkpoint.pt", "config.json", "confusion.png", "history.csv", "loss.png",
             "metrics.json", "model.pt", "report.json"}  # fmt: skip
ENV = os.environ | {"OMP_NUM_THREADS": "1"}  # one thread per process on a shared 2-core machine


def cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "lstmkit", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=ENV)  # fmt: skip


def _metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def _one_error_line(r, code, needle):
    assert r.returncode == code, r.stderr
    assert "Traceback" not in r.stderr and "ChildFailedError" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert [line for line in lines if "error" in line.lower()] == lines[-1:], r.stderr
    assert needle in lines[-1], r.stderr


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same training in one process and in two (``--nproc 2``), with their outputs."""
    root = tmp_path_factory.mktemp("ddp-cli")
    out = {}
    for nproc in (1, 2):
        t0 = time.perf_counter()
        r = cli(
            "train",
            "classify",
            "--arch",
            "encoder",
            *DIGITS,
            "--out",
            root / f"p{nproc}",
            "--nproc",
            nproc,
        )
        assert r.returncode == 0, r.stderr
        out[nproc] = (root / f"p{nproc}", r, time.perf_counter() - t0)
    return out


def test_two_processes_reach_the_single_process_accuracy(runs):
    (one, _, t1), (two, _, t2) = runs[1], runs[2]
    m1, m2 = _metrics(one), _metrics(two)
    print(f"\n1 process: accuracy {m1['test_accuracy']:.4f} in {t1:.1f} s; 2 processes: "
          f"{m2['test_accuracy']:.4f} in {t2:.1f} s")  # fmt: skip
    assert abs(m2["test_accuracy"] - m1["test_accuracy"]) <= 0.02
    assert (m1["world_size"], m2["world_size"]) == (1, 2)
    assert m1["epochs_run"] == m2["epochs_run"] == 20
    assert json.loads((two / "config.json").read_text())["world_size"] == 2


def test_rank_0_alone_wrote_the_run_and_printed_the_result(runs):
    (one, _, _), (two, r, _) = runs[1], runs[2]
    assert {p.name for p in two.iterdir()} == {p.name for p in one.iterdir()} == RUN_FILES
    assert r.stdout.count("test accuracy") == 1 and r.stdout.count("run directory:") == 1
    assert r.stderr.count("epoch=1 ") == 1  # the other rank logs warnings only
    assert "elastic" not in r.stderr  # the launcher's own log lines stay quiet
    history = (two / "history.csv").read_text().splitlines()
    assert len(history) == 21
    ck = torch.load(two / "checkpoint.pt", weights_only=True)
    assert len(ck["rng_ranks"]) == 2


def _workers(parent: int) -> dict[int, int]:
    """rank -> pid of the processes the launcher ``parent`` started (read from /proc)."""
    found = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            env = (d / "environ").read_bytes().split(b"\0") if ppid == parent else []
        except (OSError, IndexError, ValueError):
            continue
        for item in env:
            if item.startswith(b"RANK="):
                found[int(item[5:])] = int(d.name)
    return found


def test_a_killed_process_fails_the_run_in_one_line_and_resume_finishes_it_exactly(runs, tmp_path):
    cut = tmp_path / "cut"
    cmd = [
        sys.executable,
        "-m",
        "lstmkit",
        "train",
        "classify",
        "--arch",
        "encoder",
        *DIGITS,
        "--out",
        str(cut),
        "--nproc",
        "2",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=ENV)  # fmt: skip
    history, deadline = cut / "history.csv", time.time() + 180
    while not (history.exists() and len(history.read_text().splitlines()) >= 2):
        assert proc.poll() is None and time.time() < deadline, "no first checkpoint"
        time.sleep(0.02)
    os.kill(_workers(proc.pid)[1], signal.SIGKILL)  # rank 1 dies after the first checkpoint
    _, err = proc.communicate(timeout=120)
    r = subprocess.CompletedProcess(cmd, proc.returncode, "", err)
    _one_error_line(r, 1, "process rank 1 of 2 was killed by SIGKILL")
    assert not (cut / "metrics.json").exists()
    assert not [p.name for p in cut.iterdir() if p.name.startswith(".")]  # no half-written file

    r = cli("resume", cut)  # in two processes again: the run's config says so
    assert r.returncode == 0, r.stderr
    full = runs[2][0]
    mf, mc = _metrics(full), _metrics(cut)
    assert mc["epochs_run"] == 20 and mc["world_size"] == 2
    assert mc["test_accuracy"] == mf["test_accuracy"]  # the same seed and N: the same run
    sf = torch.load(full / "model.pt", weights_only=True)
    sc = torch.load(cut / "model.pt", weights_only=True)
    assert all(torch.equal(sf[k], sc[k]) for k in sf)


def test_torchrun_runs_lstmkit_directly(tmp_path):
    out = tmp_path / "direct"
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
    args = [
        "train",
        "classify",
        "--arch",
        "encoder",
        *DIGITS[:-4],
        "--epochs",
        "2",
        "--out",
        str(out),
    ]
    cmd = [*launcher, "-m", "lstmkit", *args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=ENV)
    assert r.returncode == 0, r.stderr
    assert _metrics(out)["world_size"] == 2
    assert {p.name for p in out.iterdir()} == RUN_FILES


def test_mistakes_are_one_line(tmp_path):
    # the usage errors in this process, the workers' failure in real ones
    _one_error_line(
        lstmkit_cli("train", "classify", "--arch", "encoder", *DIGITS, "--nproc", "0"),
        2,
        "positive integer",
    )
    out = tmp_path / "never"
    r = cli(
        "train",
        "classify",
        "--arch",
        "encoder",
        "--data",
        tmp_path / "missing.npz",
        "--out",
        out,
        "--nproc",
        2,
    )
    _one_error_line(r, 1, "missing.npz")
    assert not out.exists()  # nothing half-made stays
    r = lstmkit_cli("tune", "classify", "--data", "digits", "--trials", 1, "--nproc", 2)
    _one_error_line(r, 1, "--nproc is for lstmkit train")
