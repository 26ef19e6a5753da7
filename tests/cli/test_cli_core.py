"""The lstmkit command: demo and bench, usage errors, exit codes."""

import json
import subprocess
import sys

import pytest

from lstmkit.cli.main import main


def run_cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lstmkit", *args], capture_output=True, text=True, cwd=cwd
    )


def test_help_lists_subcommands():
    r = run_cli("--help")
    assert r.returncode == 0
    assert "demo" in r.stdout and "bench" in r.stdout


def test_demo_without_bench_reports_checks(capsys, tmp_path):
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
    r = run_cli(*args)
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

    monkeypatch.setattr(bench, "QUICK_CONFIGS", [(4, 5, 3, 8, 1)])
    out = tmp_path / "speed.json"
    assert main(["bench", "--quick", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| 4,5,3,8,1 | torch.nn.LSTM |" in text
    data = json.loads(out.read_text())
    assert data["meta"]["gemm_gflops"] > 0
    cells = {(r["cell"], r["backend"]) for r in data["rows"]}
    assert ("lstm", "auto") in cells and ("layernorm", "fused") in cells
    assert ("gru", "fused-eager") in cells
    assert all(r["ms"] > 0 and r["ratio"] > 0 for r in data["rows"])
