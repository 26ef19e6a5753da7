"""Build (once, cached) and load lstmkit's C++ time loops; report whether they are available.

The extension is compiled with torch.utils.cpp_extension on first use (about 20 s on 2 cores) and
cached under ``$LSTMKIT_CACHE`` (default ``~/.cache/lstmkit``) in a folder named by the torch
version and a hash of the source, so every checkout with the same source shares one build. Without
a compiler, or with ``LSTMKIT_NO_EXT=1``, lstmkit falls back to the eager-PyTorch loops.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path

import torch

__all__ = ["available", "load"]

log = logging.getLogger(__name__)
_CSRC = Path(__file__).parent / "csrc"  # loops.cpp (the one translation unit) and its headers
_CFLAGS = ["-O3", "-march=native", "-ffast-math"]
_lock = threading.Lock()
_state: dict[str, object] = {}


def load() -> bool:
    """Load (building if needed) the extension; True when ``torch.ops.lstmkit`` is usable."""
    with _lock:
        if "ok" in _state:
            return bool(_state["ok"])
        _state["ok"] = False
        if os.environ.get("LSTMKIT_NO_EXT", "") not in ("", "0"):
            log.info("LSTMKIT_NO_EXT is set: using the eager-PyTorch loops")
            return False
        try:
            from torch.utils import cpp_extension

            log.info("loading lstmkit C++ kernels (built once, then cached)")
            cpp_extension.load(
                name="lstmkit_loops",
                sources=[str(_staged_source())],
                extra_cflags=_CFLAGS,
                build_directory=str(_staged_source().parent),
                is_python_module=False,
                verbose=False,
            )
            _state["ok"] = hasattr(torch.ops.lstmkit, "lstm_forward")
        except Exception as e:  # no compiler, no ninja, a build error: fall back, never fail
            _state["error"] = f"{type(e).__name__}: {e}".splitlines()[0][:300]
            log.warning(
                "lstmkit C++ kernels unavailable (%s); using eager PyTorch", _state["error"]
            )
        return bool(_state["ok"])


def _staged_source() -> Path:
    """A copy of the sources in a build folder named by their content (so that checkouts at
    different paths share one build, and ninja sees the same path every time)."""
    files = {p.name: p.read_bytes() for p in sorted(_CSRC.iterdir()) if p.suffix in {".cpp", ".h"}}
    blob = b"".join(name.encode() + code for name, code in files.items())
    digest = hashlib.sha256(blob + " ".join(_CFLAGS).encode()).hexdigest()[:16]
    root = Path(os.environ.get("LSTMKIT_CACHE", Path.home() / ".cache" / "lstmkit"))
    folder = root / f"ext-torch{torch.__version__}-{digest}"
    folder.mkdir(parents=True, exist_ok=True)
    for name, code in files.items():
        staged = folder / name
        if not staged.exists() or staged.read_bytes() != code:
            tmp = folder / f"{name}.{os.getpid()}.tmp"
            tmp.write_bytes(code)
            tmp.replace(staged)
    return folder / "loops.cpp"


def available() -> bool:
    return load()


def error() -> str | None:
    return _state.get("error")  # type: ignore[return-value]
