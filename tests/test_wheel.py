"""The package as a user installs it: ``python -m build`` makes an sdist and a wheel; the wheel,
installed into a fresh virtual environment outside the checkout (torch and the other
dependencies taken from this environment's site-packages, as a preinstalled CPU torch would
be), trains a classifier and a forecaster and answers ``--version`` from its own files; its
metadata names every extra in ``all``.

The C++ kernels are compiled on first use into the user cache (``~/.cache/lstmkit``, HOME
pointed at an empty folder here) from the sources the wheel carries, and a training with
``--backend fused`` then runs them without a warning; with no compiler (``CXX`` pointing
nowhere, an empty cache) the wheel falls back to the eager kernels with one warning."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

import lstmkit

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("build", reason="python -m build comes with the dev extra")


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    r = subprocess.run([sys.executable, "-m", "build", "--sdist", "--wheel", "--no-isolation",
                        "--outdir", str(out), str(ROOT)], capture_output=True, text=True,
                       timeout=600)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    return out


def _wheel(dist: Path) -> Path:
    (wheel,) = dist.glob("lstmkit-*.whl")
    return wheel


def test_the_sdist_and_the_wheel_carry_the_kernel_sources_and_the_data(dist):
    names = set(zipfile.ZipFile(_wheel(dist)).namelist())
    csrc = {f"lstmkit/kernels/csrc/{n}" for n in ("loops.cpp", "common.h", "gru.h",
                                                  "layernorm.h", "lstm_family.h")}  # fmt: skip
    data = {"lstmkit/datasets/airline.csv", "lstmkit/datasets/kjv.txt"}
    assert csrc | data <= names
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)
    (sdist,) = dist.glob("lstmkit-*.tar.gz")
    members = tarfile.open(sdist).getnames()
    assert any("/src/lstmkit/kernels/csrc/" in m and m.endswith(".cpp") for m in members)
    assert f"lstmkit-{lstmkit.__version__}.tar.gz" == sdist.name


def test_the_metadata_has_one_version_and_all_names_every_extra(dist):
    with zipfile.ZipFile(_wheel(dist)) as z:
        meta_name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(z.read(meta_name).decode())
    assert meta["Version"] == lstmkit.__version__
    extras = set(meta.get_all("Provides-Extra")) - {"all", "dev"}
    assert {"datasets", "export", "serve", "tune", "tensorboard", "mlflow"} <= extras
    all_requires = [r for r in meta.get_all("Requires-Dist") if re.search(r'extra == "all"', r)]
    named = set()
    for r in all_requires:
        m = re.match(r"lstmkit\[([^\]]+)\]", r)
        if m:
            named |= set(m.group(1).split(","))
    assert named == extras, (named, extras)


@pytest.fixture(scope="module")
def venv(dist, tmp_path_factory) -> Path:
    """A fresh venv holding the wheel; its dependencies (torch's CPU build among them) come from
    this environment, lstmkit only from the wheel."""
    venv = tmp_path_factory.mktemp("wheel-env") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()"
                                "['purelib'])"], capture_output=True, text=True,
                               check=True).stdout.strip())  # fmt: skip
    # a .pth path line adds the folder without running its .pth files (the editable install's)
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    r = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                        "--no-deps", "--quiet", str(_wheel(dist))], capture_output=True,
                       text=True)  # fmt: skip
    assert r.returncode == 0, r.stderr
    return venv


def _runner(tmp_path: Path, **env_changes: str | None):
    """``run(*args, timeout=300)`` in a fresh folder with no lstmkit source in sight, in this
    environment less PYTHONPATH / VIRTUAL_ENV, with ``env_changes`` (None: removed); and the
    folder."""
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    for k, v in env_changes.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v

    def run(*args, timeout=300):
        return subprocess.run([str(a) for a in args], cwd=work, env=env, capture_output=True,
                              text=True, timeout=timeout)  # fmt: skip

    return run, work


def test_the_installed_wheel_trains_outside_the_checkout(venv, tmp_path):
    python = venv / "bin" / "python"
    run, work = _runner(tmp_path, CXX=str(tmp_path / "no-compiler"),
                        LSTMKIT_CACHE=str(tmp_path / "cache"))  # fmt: skip
    r = run(python, "-c", "import lstmkit; print(lstmkit.__file__); print(lstmkit.__version__)")
    assert r.returncode == 0, r.stderr
    where, version = r.stdout.split()
    assert Path(where).is_relative_to(venv) and version == lstmkit.__version__
    exe = str(venv / "bin" / "lstmkit")
    r = run(exe, "--version")
    assert r.stdout.strip() == f"lstmkit {lstmkit.__version__}"
    r = run(
        exe,
        "train",
        "classify",
        "--data",
        "digits",
        "--epochs",
        "1",
        "--hidden",
        "8",
        "--backend",
        "fused",
        "--out",
        "clf",
    )  # fmt: skip (lstmkit's own kernels)
    assert r.returncode == 0, r.stderr
    assert "C++ kernels unavailable" in r.stderr and "using eager PyTorch" in r.stderr
    assert (work / "clf" / "metrics.json").is_file()
    r = run(exe, "train", "forecast", "--data", "airline", "--epochs", "1", "--hidden", "8",
            "--out", "fc")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert (work / "fc" / "metrics.json").is_file()


def test_the_installed_wheel_builds_its_kernels_into_the_user_cache(venv, tmp_path):
    home = tmp_path / "home"
    run, _ = _runner(tmp_path, HOME=str(home), CXX=None, LSTMKIT_CACHE=None)
    code = ("from lstmkit.kernels import _ext; import lstmkit; ok = _ext.load(); "
            "print(ok, lstmkit.__file__, _ext.build_folder(), _ext.error())")  # fmt: skip
    r = run(venv / "bin" / "python", "-c", code, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    ok, where, folder, _ = r.stdout.split(maxsplit=3)
    assert ok == "True", r.stdout + r.stderr[-2000:]
    assert Path(where).is_relative_to(venv)  # the wheel's sources were compiled
    assert Path(folder).is_relative_to(home / ".cache" / "lstmkit")
    assert (Path(folder) / "built.json").is_file()
    r = run(venv / "bin" / "lstmkit", "train", "classify", "--data", "digits", "--epochs", "1",
            "--hidden", "8", "--backend", "fused", "--out", "clf")  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    assert "unavailable" not in r.stderr  # loaded from the cache, no rebuild, no fallback
