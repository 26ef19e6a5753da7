"""``lstmkit serve`` command-line mistakes: one line and exit code 1 or 2, no traceback."""

from __future__ import annotations

import socket
import sys

import pytest

from lstmkit.cli.main import main


def test_serve_help(capsys):
    with pytest.raises(SystemExit) as e:
        main(["serve", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--host", "--port", "--max-body-mb", "--batch-ms"):
        assert flag in out


def test_missing_run_directory_is_one_line(tmp_path, capsys):
    assert main(["serve", str(tmp_path / "nope")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "lstmkit serve: error:" in err and "does not exist" in err


@pytest.mark.parametrize(
    "flags",
    [["--port", "70000"], ["--port", "x"], ["--max-body-mb", "0"], ["--batch-ms", "-1"]],
)
def test_bad_flags_exit_2(tmp_path, flags, capsys):
    with pytest.raises(SystemExit) as e:
        main(["serve", str(tmp_path), *flags])
    assert e.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_port_in_use_is_one_line(tiny_runs, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", str(tiny_runs.classify), "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cannot listen on 127.0.0.1:{port}" in err


def test_missing_fastapi_names_the_extra(tiny_runs, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "fastapi", None)  # import fastapi -> ImportError
    assert main(["serve", str(tiny_runs.classify)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'lstmkit[serve]'" in err
