"""Keep freed memory inside the process (glibc's malloc), so that a training loop does not pay
page faults for its big buffers on every step.

By default glibc hands every large freed buffer back to the operating system (``munmap``, heap
trimming) and the next step's allocation of the same size page-faults it in again, zeroed by the
kernel: for an LSTM train step, whose activations and gradients are tens of MB allocated and
freed per step, that is 15-25 % of the step on a 2-core machine (``benchmarks/README.md``), for
torch.nn.LSTM and lstmkit's kernels alike. :func:`keep_freed_memory` sets the allocator to serve
buffers of up to 32 MiB from its heap and to keep up to 1 GiB of freed heap: the equivalent, for
glibc, of the jemalloc/tcmalloc preload that PyTorch's CPU tuning guide recommends. The process's
resident memory then stays at its peak instead of shrinking between steps.

The ``lstmkit`` command calls it at start; library users opt in. ``LSTMKIT_MALLOC=system`` turns
it off; other C libraries (macOS, musl) are left alone.
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform
import sys

__all__ = ["keep_freed_memory"]

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1  # mallopt parameters, <malloc.h>
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's maximum on 64-bit systems
TRIM_THRESHOLD = 1 << 30
_state: dict[str, bool] = {}


def keep_freed_memory() -> bool:
    """Configure glibc's malloc as above (once per process); True when it is in effect."""
    if "on" in _state:
        return _state["on"]
    _state["on"] = False
    if os.environ.get("LSTMKIT_MALLOC", "").lower() == "system":
        log.debug("LSTMKIT_MALLOC=system: malloc left as it is")
        return False
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    ok = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    ok = mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and ok
    _state["on"] = ok
    log.debug("malloc keeps freed memory: %s", ok)
    return ok
