"""Build (once, cached) and load lstmkit's C++ time loops; report whether they are available.

The extension is compiled with torch.utils.cpp_extension on first use (about 20 s on 2 cores) and
cached under ``$LSTMKIT_CACHE`` (default ``~/.cache/lstmkit``) in a folder named by everything
the build depends on: the source, the compiler flags, the Python and torch versions and where
torch is installed (two virtual environments keep two builds instead of rebuilding each
other's). Without a compiler, or with ``LSTMKIT_NO_EXT=1``, lstmkit falls back to the
eager-PyTorch loops.

Loading never hangs:

- a finished build (its ``built.json`` written after the library loaded) is loaded directly,
  without any lock;
- a build takes an exclusive ``flock`` on ``build.lock``, which the kernel releases when its
  holder dies, so a killed build leaves no lock behind; under it a ``lock`` file that a dead
  process left for torch's own build baton (on which torch would wait forever) is removed;
- processes that start together (DDP workers, pytest-xdist) wait on that lock, and then load
  the library the first one built; a wait longer than ``$LSTMKIT_BUILD_TIMEOUT`` seconds
  (default 600) falls back to the eager loops with a warning.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import sys
import threading
import time
from pathlib import Path

import torch

__all__ = ["available", "build_folder", "error", "load"]

log = logging.getLogger(__name__)
_CSRC = Path(__file__).parent / "csrc"  # loops.cpp (the one translation unit) and its headers
_CFLAGS = ["-O3", "-march=native", "-ffast-math"]
_NAME = "lstmkit_loops"
_lock = threading.Lock()
_state: dict[str, object] = {}

try:
    import fcntl
except ImportError:  # not POSIX: torch's own build baton only
    fcntl = None  # type: ignore[assignment]


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
            key = build_key()
            _load(build_folder(key), key)
            _state["ok"] = hasattr(torch.ops.lstmkit, "lstm_forward")
        except Exception as e:  # no compiler, no ninja, a build error: fall back, never fail
            _state["error"] = f"{type(e).__name__}: {e}".splitlines()[0][:300]
            log.warning(
                "lstmkit C++ kernels unavailable (%s); using eager PyTorch", _state["error"]
            )
        return bool(_state["ok"])


def _sources() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(_CSRC.iterdir()) if p.suffix in {".cpp", ".h"}}


def build_key() -> str:
    """What the build depends on, as one string: the source, the flags, the compiler named by
    ``$CXX``, the Python and torch versions and installation paths, the machine."""
    blob = b"".join(name.encode() + code for name, code in _sources().items())
    parts = [hashlib.sha256(blob).hexdigest(), " ".join(_CFLAGS), os.environ.get("CXX", ""),
             sys.version, sys.prefix, torch.__version__, str(Path(torch.__file__).parent),
             platform.machine()]  # fmt: skip
    return "\n".join(parts)


def build_folder(key: str | None = None) -> Path:
    """The cache folder of the build ``key`` (default :func:`build_key`):
    ``ext-torch<version>-<hash of the key>``."""
    digest = hashlib.sha256((build_key() if key is None else key).encode()).hexdigest()[:16]
    root = Path(os.environ.get("LSTMKIT_CACHE", Path.home() / ".cache" / "lstmkit"))
    return root / f"ext-torch{torch.__version__}-{digest}"


def _built(folder: Path, key: str) -> Path | None:
    """The finished library of ``folder`` built for ``key``, or None."""
    marker, library = folder / "built.json", folder / f"{_NAME}.so"
    try:
        if json.loads(marker.read_text()).get("key") == key and library.is_file():
            return library
    except (OSError, ValueError):
        pass
    return None


def _load(folder: Path, key: str) -> None:
    library = _built(folder, key)
    if library is not None:  # the common case: no lock at all
        torch.ops.load_library(str(library))
        return
    folder.mkdir(parents=True, exist_ok=True)
    with _build_lock(folder):
        library = _built(folder, key)  # another process built it while this one waited
        if library is not None:
            torch.ops.load_library(str(library))
            return
        _stage(folder)
        stale = folder / "lock"  # torch's baton: under our lock, only a dead build left it
        if fcntl is not None and stale.exists():
            log.warning("removing %s, left by a build that did not finish", stale)
            stale.unlink(missing_ok=True)
        from torch.utils import cpp_extension

        log.info("building lstmkit C++ kernels in %s (once, then cached)", folder)
        cpp_extension.load(name=_NAME, sources=[str(folder / "loops.cpp")],
                           extra_cflags=_CFLAGS, build_directory=str(folder),
                           is_python_module=False, verbose=False)  # fmt: skip
        tmp = folder / f"built.json.{os.getpid()}.tmp"
        tmp.write_text(json.dumps({"key": key, "library": f"{_NAME}.so"}))
        tmp.replace(folder / "built.json")


class _build_lock:
    """An exclusive ``flock`` on ``folder/build.lock``, waited for up to
    ``$LSTMKIT_BUILD_TIMEOUT`` seconds (then TimeoutError: the caller falls back)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "build.lock"
        self.fd: int | None = None

    def __enter__(self) -> _build_lock:
        if fcntl is None:
            return self
        timeout = float(os.environ.get("LSTMKIT_BUILD_TIMEOUT", "600"))
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        start, told = time.monotonic(), False
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except BlockingIOError:
                waited = time.monotonic() - start
                if waited > timeout:
                    os.close(self.fd)
                    raise TimeoutError(
                        f"another process has been building the kernels in {self.path.parent} "
                        f"for over {timeout:.0f} s (LSTMKIT_BUILD_TIMEOUT)"
                    ) from None
                if not told:
                    log.info("waiting for another process's kernel build in %s", self.path.parent)
                    told = True
                time.sleep(0.2)

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)


def _stage(folder: Path) -> None:
    """The sources copied into the build folder (ninja sees the same path every time)."""
    for name, code in _sources().items():
        staged = folder / name
        if not staged.exists() or staged.read_bytes() != code:
            tmp = folder / f"{name}.{os.getpid()}.tmp"
            tmp.write_bytes(code)
            tmp.replace(staged)


def available() -> bool:
    return load()


def error() -> str | None:
    return _state.get("error")  # type: ignore[return-value]
