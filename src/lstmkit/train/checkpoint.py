"""Atomic writes and safe loads for run-directory files."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "load_safe",
    "save_atomic",
]


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def _atomic(path: Path, write) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_file(path: str | Path, write_to: Callable[[str], Any]) -> None:
    """For writers that want a file name (onnx, onnxruntime, torch.jit): ``write_to(tmp)`` with
    a temp name in ``path``'s folder, then rename over ``path``; the temp file never stays."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write_to(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def save_atomic(obj: Any, path: str | Path) -> None:
    """torch.save to a temp file in the same folder, then rename over ``path``."""
    _atomic(Path(path), lambda f: torch.save(obj, f))


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    _atomic(Path(path), lambda f: f.write(data))


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def load_safe(path: str | Path, map_location: str | torch.device = "cpu") -> Any:
    """torch.load with weights_only=True: tensors and plain containers only, never code."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"expected a checkpoint file at {path}, found none")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # corrupt, truncated or unsafe content
        raise ValueError(f"cannot load {path}: {type(e).__name__}: {str(e).splitlines()[0]}") from e
