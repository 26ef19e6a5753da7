"""Run directories: create without clobbering, read back, rebuild a trained model."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = [
    "merge_config",
    "prepare_run_dir",
    "read_config",
    "run_or_clean_up",
    "write_run_dir",
]


def prepare_run_dir(out: str | Path | None, task: str, overwrite: bool = False) -> Path:
    """The run directory to write: ``out`` or ``runs/<task>-<timestamp>``.

    An existing non-empty directory is an error unless ``overwrite`` (then it is emptied);
    nothing the user had is touched otherwise.
    """
    path = Path(out) if out else Path("runs") / f"{task}-{time.strftime('%Y%m%d-%H%M%S')}"
    if path.exists() and not path.is_dir():
        raise ValueError(f"--out {path} exists and is not a directory; choose another path")
    if path.is_dir() and any(path.iterdir()):
        if not overwrite:
            raise ValueError(
                f"run directory {path} already exists and is not empty; pass --overwrite to "
                "replace it or choose another --out"
            )
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_run_dir(
    path: str | Path, write: Callable[[Path], None], *, overwrite: bool = False
) -> Path:
    """Write a run directory as a whole: ``write(folder)`` fills a fresh folder beside ``path``,
    which then takes ``path``'s place. An existing non-empty ``path`` is an error unless
    ``overwrite``; with it, the old directory is replaced by the new one, never mixed with it
    (and kept intact if ``write`` fails)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{path} exists and is not a directory; choose another path")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise ValueError(
            f"run directory {path} already exists and is not empty; pass overwrite=True to "
            "replace it or choose another directory"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(prefix=f".{path.name}.new-", dir=path.parent))
    try:
        write(fresh)
        if not path.exists():
            os.replace(fresh, path)
            return path
        old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=path.parent))
        os.replace(path, old / path.name)  # the old run, whole, out of the way
        try:
            os.replace(fresh, path)
        except BaseException:
            os.replace(old / path.name, path)  # put it back
            raise
        finally:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(fresh, ignore_errors=True)  # gone already after a successful swap
    return path


def run_or_clean_up(run_dir: Path, work: Callable[[], T]) -> T:
    """Run ``work`` (a training that writes into the fresh ``run_dir``). If it fails before its
    first checkpoint, the half-made directory is removed; with a checkpoint it stays, for
    ``lstmkit resume``."""
    try:
        return work()
    except BaseException:
        if not (Path(run_dir) / "checkpoint.pt").exists():
            shutil.rmtree(run_dir, ignore_errors=True)
        raise


def merge_config(run_dir: str | Path, config: dict[str, Any]) -> None:
    """Write ``config`` into run_dir/config.json atomically, keeping the keys already there that
    it does not set (the data section the task pipeline wrote before training)."""
    from lstmkit.train.checkpoint import atomic_write_json

    path = Path(run_dir) / "config.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    atomic_write_json(path, old | config)


def read_config(run_dir: str | Path) -> dict[str, Any]:
    """config.json of a run directory, with a clear error when it is not one."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(f"run directory {run_dir} does not exist")
    path = run_dir / "config.json"
    if not path.is_file():
        raise ValueError(f"{run_dir} is not an lstmkit run directory (no config.json)")
    try:
        config = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON: {e}") from e
    if not isinstance(config, dict) or "task" not in config:
        raise ValueError(f"{path} has no 'task'; it was not written by lstmkit train")
    return config
