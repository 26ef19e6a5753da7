"""The lstmkit command: demo and bench, usage errors, exit codes."""

import json
import subprocess
import sys

import pytest
from tests.cli.inproc import lstmkit_cli

from lstmkit.cli.core_cmds import DEMO_OPTIONS
from lstmkit.cli.main import main


def run_cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lstmkit", *args], capture_output=True, text=True, cwd=cwd
    )


def test_help_lists_subcommands():
    r = run_cli("--help")
    assert r.returncode == 0
    assert "demo" in r.stdout and "bench" in r.stdout


def test_demo_without_bench_reports_checks(capsys, tmp_path, monkeypatch):
    # the text model at 64 units: 2 epochs of the demo's 256-unit model alone took 100 s here
    monkeypatch.setitem(DEMO_OPTIONS, "textgen", {"epochs": 1, "hidden": 64})
    assert main(["demo", "--no-bench", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "classify-digits" / "metrics.json").is_file()
    assert (tmp_path / "textgen-kjv" / "samples.txt").is_file()
    assert (tmp_path / "forecast-airline" / "forecast.png").is_file()
    assert "4. Sequence classification" in out and "5. Character-level text" in out
    assert "6. Forecasting the shipped airline series" in out and "| seasonal naive |" in out
    assert "finite differences" in out
    assert "all checks passed" in out
    for cell in ("lstm", "peephole", "coupled", "gru", "layernorm"):
        assert f"| {cell} |" in out


@pytest.mark.parametrize(
    "args, needle",
    [
        (["bench", "--threads", "0"], "expected a positive integer, got 0"),
        (["bench", "--threads", "two"], "expected a positive integer, got 'two'"),
        (["nosuch"], "invalid choice"),
    ],
)
def test_usage_errors_exit_2_without_traceback(args, needle):
    r = lstmkit_cli(*args)  # in this process; test_help_lists_commands starts a real one
    assert r.returncode == 2
    assert needle in r.stderr
    assert "Traceback" not in r.stderr


def test_bench_output_path_that_is_a_directory_is_one_line_error(tmp_path, monkeypatch):
    # the JSON target exists as a directory: a user mistake, exit 1, no traceback
    import lstmkit.bench as bench

    monkeypatch.setattr(bench, "QUICK_CONFIGS", [(2, 3, 2, 4, 1)])
    monkeypatch.setattr(bench, "_cases", lambda quick: [("lstm", "fused")])
    target = tmp_path / "out.json"
    target.mkdir()
    assert main(["bench", "--quick", "--out", str(target)]) == 1


def test_bench_quick_writes_table_and_json(tmp_path, monkeypatch, capsys):
    import lstmkit.bench as bench

    cfg = (4, 5, 3, 8, 1)
    monkeypatch.setattr(bench, "QUICK_CONFIGS", [cfg])
    pairs = []  # every (torch seconds, case seconds) that bench measured, in order
    time_pair = bench._time_pair

    def recording(base, other, reps):
        pairs.append(time_pair(base, other, reps))
        return pairs[-1]

    monkeypatch.setattr(bench, "_time_pair", recording)
    out = tmp_path / "speed.json"
    assert main(["bench", "--quick", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| 4,5,3,8,1 | torch.nn.LSTM |" in text
    data = json.loads(out.read_text())
    cells = {(r["cell"], r["backend"]) for r in data["rows"]}
    assert ("lstm", "auto") in cells and ("layernorm", "fused") in cells
    assert ("gru", "fused-eager") in cells
    # each row is its own measurement: ms the case's median, ratio over torch's median timed
    # beside it (the torch row: torch against itself); GFLOP/s the step's GEMM work over that
    # time, a fraction of the machine's GEMM rate (rounded to 0.1 in meta) that no step reaches
    rate = data["meta"]["gemm_gflops"]
    assert len(data["rows"]) == len(pairs)
    for r, (t_torch, t_case) in zip(data["rows"], pairs, strict=True):
        torch_row = r["cell"] == "torch.nn.LSTM"
        seconds = t_torch if torch_row else t_case
        assert r["ms"] == seconds * 1e3, r
        assert r["ratio"] == (1.0 if torch_row else t_case / t_torch), r
        flops = bench.step_flops("lstm" if torch_row else r["cell"], cfg)
        assert r["gflops"] == pytest.approx(flops / seconds / 1e9, rel=1e-12), r
        assert abs(r["gflops"] / r["gemm_fraction"] - rate) <= 0.05 + 1e-9, r
        assert 0 < r["gemm_fraction"] < 1, r
