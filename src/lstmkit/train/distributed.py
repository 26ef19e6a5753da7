"""Data-parallel training on ``torch.distributed``: the process group and what ranks share.

Every process of a data-parallel run is started by torch's own launcher (``torchrun`` /
``python -m torch.distributed.run``, which ``lstmkit train ... --nproc N`` calls for you), which
sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and the rendezvous address in the environment.
``process_group(device)`` joins the group (gloo on CPU, NCCL on CUDA) and leaves it again.

Outside a launched run every helper here is the identity of one process: ``world_size() == 1``,
``is_main()`` is true, ``on_main(fn)`` is ``fn()``, so the Trainer and the tasks call them
unconditionally and a single-process run does exactly what it did before.

Conventions the Trainer relies on: rank 0 ("main") is the only process that writes files; the
other ranks learn the outcome of its one-off work (preparing the run directory, evaluating the
validation split, loading a checkpoint) through ``on_main``, which also carries a failure across:
when rank 0 fails there, the others raise ``PeerFailed`` instead of waiting forever.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

import torch
import torch.distributed as dist
from torch import nn

__all__ = [
    "PeerFailed",
    "all_gather_object",
    "all_reduce_sums",
    "barrier",
    "broadcast_object",
    "is_main",
    "is_peer_error",
    "launched",
    "local_device",
    "local_rank",
    "main_first",
    "on_main",
    "process_group",
    "rank",
    "world_size",
    "wrap",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
# Messages of the errors a collective raises when another process of the group has died.
_PEER_MARKERS = ("closed by peer", "reset by peer", "Broken pipe", "/gloo/", "NCCL communicator")


class PeerFailed(RuntimeError):
    """Another process of the data-parallel run failed (it reports its own error)."""


def launched() -> bool:
    """True in a process started by torch's launcher (the environment names its rank)."""
    return all(name in os.environ for name in _ENV)


def is_initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    """This process's rank in the group; 0 outside a data-parallel run."""
    return dist.get_rank() if is_initialized() else 0


def world_size() -> int:
    """The number of processes training together; 1 outside a data-parallel run."""
    return dist.get_world_size() if is_initialized() else 1


def local_rank() -> int:
    """This process's index on its machine (which GPU it takes); 0 outside a data-parallel run."""
    return int(os.environ.get("LOCAL_RANK", 0)) if is_initialized() else 0


def is_main() -> bool:
    """True in rank 0, the one process that writes the run directory (and outside DDP)."""
    return rank() == 0


def local_device(device: str | torch.device) -> torch.device:
    """The device this process trains on: ``cuda`` becomes ``cuda:<local rank>`` in a
    data-parallel run (each process takes its own GPU); anything else is unchanged."""
    device = torch.device(device)
    if device.type == "cuda" and is_initialized():
        if device.index is not None and device.index != local_rank():
            raise ValueError(
                f"--device {device} pins every process to one GPU; with several processes pass "
                "--device cuda (each process takes the GPU of its local rank)"
            )
        return torch.device("cuda", local_rank())
    return device


def _backend(device: str | torch.device) -> str:
    return "nccl" if torch.device(device).type == "cuda" else "gloo"


@contextmanager
def process_group(device: str | torch.device = "cpu") -> Iterator[None]:
    """Join the process group the launcher describes (gloo on CPU, NCCL when ``device`` is CUDA)
    for the duration of the block; a no-op outside a launched process or when already joined.

    A watchdog ends the process when its launcher dies (``kill -9`` of ``torchrun``), so that no
    orphaned rank keeps training and writing.
    """
    if not launched() or is_initialized():
        yield
        return
    backend = _backend(device)
    if backend == "nccl":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {device}: CUDA is not available on this machine")
        local_size = int(os.environ.get("LOCAL_WORLD_SIZE", 1))
        if local_size > torch.cuda.device_count():
            raise ValueError(
                f"{local_size} processes on this machine need {local_size} GPUs, found "
                f"{torch.cuda.device_count()}; lower --nproc / --nproc-per-node"
            )
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    dist.init_process_group(backend)
    _start_watchdog()
    log.debug("rank %d of %d joined the %s process group", rank(), world_size(), backend)
    try:
        yield
    finally:
        dist.destroy_process_group()


def _start_watchdog(interval: float = 1.0) -> None:
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent:  # re-parented: the launcher is gone
                log.error("rank %d: the launcher died; stopping", rank())
                os.kill(os.getpid(), signal.SIGTERM)  # unwinds where the CLI handles SIGTERM
                time.sleep(10)
                os._exit(1)

    threading.Thread(target=watch, name="lstmkit-ddp-watchdog", daemon=True).start()


def is_peer_error(error: BaseException) -> bool:
    """True for the errors a collective raises because another process died or failed."""
    if isinstance(error, PeerFailed) or isinstance(error, getattr(dist, "DistError", ())):
        return True
    return isinstance(error, RuntimeError) and any(m in str(error) for m in _PEER_MARKERS)


def _comm_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def barrier() -> None:
    """Wait until every process gets here (no-op outside a data-parallel run)."""
    if is_initialized():
        dist.barrier()


def broadcast_object(obj: T, src: int = 0) -> T:
    """``obj`` as rank ``src`` holds it, on every rank (any picklable object)."""
    if not is_initialized():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src, device=_comm_device())
    return box[0]


def all_gather_object(obj: T) -> list[T]:
    """Every rank's ``obj``, in rank order, on every rank."""
    if not is_initialized():
        return [obj]
    out: list = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def all_reduce_sums(values: Sequence[float]) -> list[float]:
    """Element-wise sums over the ranks of ``values`` (float64), the same on every rank: how
    per-rank metric sums (loss x samples, counts) become the totals of the whole run."""
    if not is_initialized():
        return [float(v) for v in values]
    t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=_comm_device())
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.cpu().tolist()


def on_main(fn: Callable[[], T]) -> T:
    """Run ``fn`` on rank 0 only and hand its result to every rank. When ``fn`` fails there,
    rank 0 raises the error and the other ranks raise ``PeerFailed``."""
    if not is_initialized():
        return fn()
    if is_main():
        return _main_then_tell(fn, share=True)
    return _told()


def main_first(fn: Callable[[], T]) -> T:
    """Run ``fn`` on rank 0, then (once it has succeeded) on every other rank: for work each
    process needs its own result of, such as loading data, which may fill a shared cache or
    fail on bad input; a failure is reported once, by rank 0 (the others raise ``PeerFailed``)."""
    if not is_initialized():
        return fn()
    if is_main():
        return _main_then_tell(fn, share=False)
    _told()
    return fn()


def _main_then_tell(fn: Callable[[], T], share: bool) -> T:
    try:
        result = fn()
    except BaseException as e:
        broadcast_object((False, f"{type(e).__name__}: {e}"))
        raise
    broadcast_object((True, result if share else None))
    return result


def _told():
    ok, result = broadcast_object(None)
    if not ok:
        raise PeerFailed(f"rank 0 failed: {result}")
    return result


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` in DistributedDataParallel for the training steps: gradients are averaged over
    the ranks during ``backward`` (the model itself stays unwrapped for evaluation and saving).
    Every parameter must take part in each step's loss (lstmkit's models build only the
    parameters their configuration uses)."""
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)
