"""Build (once, cached) and load lstmkit's C++ time loops; report whether they are available.

The extension is compiled with torch.utils.cpp_extension on first use (about a minute on 2 cores)
and cached in torch's extension directory (``TORCH_EXTENSIONS_DIR`` to move it). Without a
compiler, or with ``LSTMKIT_NO_EXT=1``, lstmkit falls back to the eager-PyTorch loops.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import torch

__all__ = ["available", "load"]

log = logging.getLogger(__name__)
_SOURCE = Path(__file__).parent / "csrc" / "loops.cpp"
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
                sources=[str(_SOURCE)],
                extra_cflags=["-O3", "-march=native", "-ffast-math"],
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


def available() -> bool:
    return load()


def error() -> str | None:
    return _state.get("error")  # type: ignore[return-value]
