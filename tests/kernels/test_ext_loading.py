"""Loading the C++ kernels cannot hang or thrash (issue 13, item 5).

Each case runs fresh Python processes on a cache folder of its own (``LSTMKIT_CACHE``): a built
extension loads while another process holds the build lock; a build killed half-way leaves
torch's ``lock`` file and no ``built.json``: two processes started together clear them and both
load the kernels, built once. Every process runs under a generous timeout, so a hang fails the
test instead of blocking the suite.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lstmkit.kernels import _ext

_LOAD = (
    "import logging, sys; logging.basicConfig(level=logging.INFO, stream=sys.stdout); "
    "from lstmkit.kernels import _ext; ok = _ext.load(); print('LOADED', ok, _ext.error())"
)
HANG = 300  # seconds: far beyond a build on 2 cores (about 20-40 s); only a hang reaches it


@pytest.fixture(scope="module")
def built() -> Path:
    if not _ext.load():
        pytest.skip(f"C++ loops unavailable: {_ext.error()}")
    return _ext.build_folder()


def _env(cache: Path) -> dict:
    return dict(os.environ, LSTMKIT_CACHE=str(cache), LSTMKIT_NO_EXT="0")


def _load_in_process(cache: Path, timeout: float) -> str:
    out = subprocess.run([sys.executable, "-c", _LOAD], env=_env(cache), capture_output=True,
                         text=True, timeout=timeout)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def _copy(built: Path, cache: Path) -> Path:
    folder = cache / built.name  # same environment: same key, same folder name
    shutil.copytree(built, folder)
    return folder


def test_the_key_names_the_python_and_torch_installation(monkeypatch) -> None:
    here = _ext.build_folder()
    monkeypatch.setattr(sys, "prefix", "/some/other/venv")
    assert _ext.build_folder() != here  # another virtual environment: another build
    monkeypatch.setattr(_ext, "_CFLAGS", ["-O0"])
    assert "-O0" in _ext.build_key()


def test_a_built_extension_loads_while_another_process_holds_the_build_lock(
    built, tmp_path
) -> None:
    folder = _copy(built, tmp_path)
    (folder / "lock").write_text("")  # torch's baton, as a killed build leaves it
    fd = os.open(folder / "build.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a live builder
    try:
        out = _load_in_process(tmp_path, timeout=120)
    finally:
        os.close(fd)
    assert "LOADED True" in out, out
    assert "building" not in out and "waiting" not in out, out


@pytest.mark.slow
def test_a_build_killed_half_way_then_two_processes_build_once(built, tmp_path) -> None:
    first = subprocess.Popen([sys.executable, "-c", _LOAD], env=_env(tmp_path),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             start_new_session=True)  # fmt: skip
    folder = tmp_path / built.name
    deadline = time.monotonic() + 120
    while not (folder / "build.ninja").exists():  # the compiler is running
        assert first.poll() is None and time.monotonic() < deadline, "the build never started"
        time.sleep(0.1)
    time.sleep(1.0)
    os.killpg(first.pid, signal.SIGKILL)  # the process and its compiler
    first.wait(timeout=30)
    assert not (folder / "built.json").exists()
    assert (folder / "lock").exists()  # torch's baton: torch alone would wait for it forever
    procs = [subprocess.Popen([sys.executable, "-c", _LOAD], env=_env(tmp_path),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(2)]  # fmt: skip
    outs = [p.communicate(timeout=HANG)[0] for p in procs]
    assert all("LOADED True" in o for o in outs), outs
    assert sum("building lstmkit C++ kernels" in o for o in outs) == 1, outs  # built once
    assert any("removing" in o for o in outs) and not (folder / "lock").exists(), outs
    assert (folder / "built.json").is_file()
