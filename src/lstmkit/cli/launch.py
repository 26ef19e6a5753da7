"""``--nproc N``: data-parallel training through torch's own launcher.

``lstmkit train TASK ... --nproc N`` (N > 1) prepares the run directory, then starts N copies of
the same command line through ``torch.distributed.run`` (the code behind ``torchrun``, here
with ``--standalone``: this machine, a rendezvous on a free local port) and waits for them. Each
copy, like every process that ``torchrun ... -m lstmkit train ...`` starts, finds the launcher's
variables in its environment, joins the process group (``lstmkit.train.distributed``) and trains
its shard; rank 0 writes the run directory and prints the result, the other ranks log warnings
only. When a process fails the launcher stops the others, and the command ends with one line:
the failing process's own message (its rank when it is not rank 0), exit code 1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn, TypeVar

from lstmkit.cli.args import UserError

__all__ = ["ERRORS_ENV", "Interrupted", "launch", "resume_work", "run_training", "train_task"]

log = logging.getLogger(__name__)

# Set by ``launch`` for the processes it starts: a folder where a failing rank leaves its
# one-line message for the launcher to print (instead of each rank printing its own).
ERRORS_ENV = "LSTMKIT_DDP_ERRORS"

T = TypeVar("T")
# work(run_dir, callbacks) -> metrics ({} on ranks other than 0); callbacks: the Trainer's
Work = Callable[[Path, tuple], dict]
Report = Callable[[dict, Path], None]  # report(metrics, run_dir): prints the result (rank 0)


def run_training(
    args: argparse.Namespace,
    task: str,
    work: Work,
    report: Report,
    *,
    device: str,
    nproc: int,
    resume_dir: Path | None = None,
) -> int:
    """One training command, in whichever of three places it runs: in one process
    (``nproc == 1``), as the launcher of ``nproc`` processes, or as one of the processes a
    launcher started (the environment says so; ``nproc`` is then the launcher's business).

    ``resume_dir``: continue that run (``lstmkit resume``) instead of preparing ``args.out``.
    """
    from lstmkit.runs import prepare_run_dir, run_or_clean_up
    from lstmkit.train import distributed

    if distributed.launched():
        return _as_worker(args, device, lambda: _train_here(args, task, work, report, resume_dir))
    if nproc == 1:
        return _train_here(args, task, work, report, resume_dir)
    if resume_dir is not None:
        return _resumable(resume_dir, lambda: launch(args.argv, nproc, device, args.verbose))
    run_dir = prepare_run_dir(args.out, task, args.overwrite)
    argv = args.argv if args.out else [*args.argv, "--out", str(run_dir)]  # not a new timestamp
    return _resumable(
        run_dir, lambda: run_or_clean_up(run_dir, lambda: launch(argv, nproc, device, args.verbose))
    )


class Interrupted(KeyboardInterrupt):
    """A training stopped by Ctrl-C (or SIGTERM) after its first checkpoint: ``run_dir`` can be
    continued with ``lstmkit resume``."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__(str(run_dir))
        self.run_dir = run_dir


def _resumable(run_dir: Path, body: Callable[[], T]) -> T:
    """``body()``; an interruption after the run's first checkpoint becomes ``Interrupted``."""
    try:
        return body()
    except KeyboardInterrupt:
        if (Path(run_dir) / "checkpoint.pt").is_file():
            raise Interrupted(Path(run_dir)) from None
        raise


def train_task(
    args: argparse.Namespace, task: str, run_task: Callable[..., dict], data: dict,
    options: dict, report: Report,
) -> int:  # fmt: skip
    """``lstmkit train <task>``: ``run_task(data, options, run_dir, progress=True)`` (a
    ``tasks.<task>.run_<task>``) through ``run_training``."""
    return run_training(
        args,
        task,
        lambda run_dir, callbacks: run_task(
            data, options, run_dir, progress=True, callbacks=callbacks
        ),
        report,
        device=options.get("device", "cpu"),
        nproc=args.nproc or 1,
    )


def resume_work(run_task: Callable[..., dict], config: dict) -> Work:
    """``lstmkit resume``'s work: ``run_task`` continued from the run's checkpoint."""
    return lambda run_dir, callbacks: run_task(
        config["data"], config["options"], run_dir, resume=True, progress=True,
        callbacks=callbacks,
    )  # fmt: skip


def _train_here(
    args: argparse.Namespace, task: str, work: Work, report: Report, resume_dir: Path | None
) -> int:
    from lstmkit.runs import prepare_run_dir, read_config, run_or_clean_up
    from lstmkit.train import distributed

    if resume_dir is not None:
        tracking = read_config(resume_dir).get("tracking")
    else:
        kind = getattr(args, "log", None)  # --log
        tracking = None if kind is None else {"log": kind, "mlflow_uri": args.mlflow_uri}
    if tracking is not None:
        from lstmkit.tracking import check_tracker

        check_tracker(tracking["log"])  # a missing extra: an error before anything is written
    tracked = _tracked(work, task, tracking, distributed.is_main())
    if resume_dir is not None:
        run_dir = resume_dir
        metrics = _resumable(run_dir, lambda: tracked(run_dir))
    else:
        run_dir = distributed.on_main(lambda: prepare_run_dir(args.out, task, args.overwrite))
        if distributed.is_main():  # only rank 0 may remove a half-made run directory
            metrics = _resumable(
                run_dir, lambda: run_or_clean_up(run_dir, lambda: tracked(run_dir))
            )
        else:
            metrics = tracked(run_dir)
    if distributed.is_main():
        report(metrics, run_dir)
    return 0


def _tracked(work: Work, task: str, tracking: dict | None, main: bool) -> Callable[[Path], dict]:
    """``work`` with the run's experiment tracker (``--log``) as its callback, finished with the
    test metrics, or closed as failed when the work raises."""
    if tracking is None or not main:
        return lambda run_dir: work(run_dir, ())

    def run(run_dir: Path) -> dict:
        from lstmkit.tracking import Tracker, make_backend

        backend = make_backend(tracking["log"], run_dir, task, tracking)
        tracker = Tracker(backend, run_dir)
        try:
            metrics = work(run_dir, (tracker,))
        except BaseException as e:
            tracker.close(failed=not isinstance(e, KeyboardInterrupt))
            raise
        tracker.finish(metrics)
        return metrics

    return run


# ---------------------------------------------------------------------- the launcher
def launch(argv: list[str], nproc: int, device: str, verbose: bool = False) -> int:
    """Run ``lstmkit <argv>`` in ``nproc`` processes on this machine through
    ``torch.distributed.run`` and wait; a failure raises a one-line ``UserError``."""
    import torch
    from torch.distributed import run as torchrun
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    cores = os.cpu_count() or 1
    if torch.device(device).type == "cuda":
        if nproc > torch.cuda.device_count():
            raise UserError(
                f"--nproc {nproc} on --device {device} needs {nproc} GPUs, found "
                f"{torch.cuda.device_count()}"
            )
    elif nproc > cores:
        log.warning("--nproc %d is more than the %d CPU cores here: the processes share them",
                    nproc, cores)  # fmt: skip
    env = {}
    if "OMP_NUM_THREADS" not in os.environ:  # the cores shared out, not oversubscribed
        env["OMP_NUM_THREADS"] = str(max(1, cores // nproc))
    launcher = ["--standalone", f"--nproc-per-node={nproc}", "--module", "lstmkit"]
    log.info("data-parallel: %d processes (python -m torch.distributed.run %s %s)", nproc,
             " ".join(launcher), " ".join(argv))  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="lstmkit-ddp-") as errors:
        env[ERRORS_ENV] = errors
        with _environ(env), _quiet_launcher(verbose):
            try:
                config = torchrun.parse_args(launcher)
                config.training_script_args = list(argv)  # not parsed: --nproc is ambiguous there
                torchrun.run(config)
            except ChildFailedError as e:
                raise UserError(_failure(e, Path(errors), nproc)) from None
            except SignalException:
                raise KeyboardInterrupt from None
    return 0


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    """``values`` in os.environ (which the launched processes inherit) for the block."""
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class _LauncherNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith("torch.distributed")


@contextlib.contextmanager
def _quiet_launcher(verbose: bool) -> Iterator[None]:
    """The launcher's own log lines (rendezvous, worker groups, failure tables) only with -v."""
    if verbose:
        yield
        return
    noise = _LauncherNoise()
    # torch logs through its own handlers ("torch", "torch.distributed": no propagation)
    loggers = [logging.getLogger(name) for name in ("", "torch", "torch.distributed")]
    handlers = {h for lg in loggers for h in lg.handlers}
    for h in handlers:
        h.addFilter(noise)
    try:
        yield
    finally:
        for h in handlers:
            h.removeFilter(noise)


def _failure(error, errors: Path, nproc: int) -> str:
    """The one line for a failed launch: the lowest failing rank's own message, else how the
    process that started the failure ended (a signal, an exit code). Processes that failed only
    because another one did (a peer's report, or 130: stopped by the launcher) are not it."""
    reports = {}
    for path in errors.glob("rank*.json"):
        with contextlib.suppress(OSError, ValueError, KeyError):
            record = json.loads(path.read_text())
            reports[int(record["rank"])] = record
    own = sorted(rank for rank, r in reports.items() if not r.get("peer"))
    if own:
        rank, message = own[0], reports[own[0]]["message"]
        return message if rank == 0 else f"process rank {rank}: {message}"
    failures = error.failures  # global rank -> ProcessFailure
    causes = [rank for rank, f in sorted(failures.items())
              if rank not in reports and f.exitcode != 130] or sorted(failures)  # fmt: skip
    signalled = [rank for rank in causes if failures[rank].exitcode < 0]
    rank = (signalled or causes)[0]
    failure = failures[rank]
    how = (
        f"was killed by {failure.signal_name()}"
        if failure.exitcode < 0
        else f"exited with code {failure.exitcode}"
    )
    return f"process rank {rank} of {nproc} {how} (rerun with -v for every process's output)"


# ---------------------------------------------------------------------- a launched process
def _as_worker(args: argparse.Namespace, device: str, body: Callable[[], int]) -> NoReturn:
    """Run ``body`` in the process group. Errors: a one-line message (left for the lstmkit
    launcher, or printed by rank 0 under a plain ``torchrun``); a failure caused by another
    process's is silent; an unexpected error keeps its traceback. With -v, everything raises."""
    from lstmkit.train import distributed

    rank = int(os.environ["RANK"])
    if rank != 0 and not args.verbose:
        logging.getLogger().setLevel(logging.WARNING)  # one set of progress lines: rank 0's
    # The launcher stops processes with SIGTERM: unwind (no half-written temp files stay).
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        with distributed.process_group(device):
            code = body()
    except KeyboardInterrupt:
        if os.environ.get(ERRORS_ENV) and not args.verbose:
            _exit_now(130)  # the lstmkit launcher says "interrupted" once
        raise
    except Exception as e:
        if args.verbose:
            raise
        peer = distributed.is_peer_error(e)
        if not peer and not isinstance(e, UserError | ValueError | TypeError | OSError):
            last = traceback.format_exception_only(e)[-1].strip()
            _worker_error(args.command, rank, last, peer)
            raise  # a bug: its traceback is worth the wall of text
        _worker_error(args.command, rank, str(e), peer)
        _exit_now(1)
    _exit_now(code)  # success too: the teardown may abort and fail a finished run (measured)


def _exit_now(code: int) -> NoReturn:
    """End a launched process without the interpreter's teardown: after torch.distributed has
    run, it sometimes aborts ("terminate called without an active exception", SIGABRT), and after
    a failure it can wait on a process group whose peers are gone. Files are closed by then."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _raise_interrupt(signum: int, frame) -> None:
    raise KeyboardInterrupt


def _worker_error(command: str, rank: int, message: str, peer: bool) -> None:
    folder = os.environ.get(ERRORS_ENV)
    if folder:  # the lstmkit launcher prints one line for all processes
        record = {"rank": rank, "message": message, "peer": peer}
        with contextlib.suppress(OSError):
            (Path(folder) / f"rank{rank}.json").write_text(json.dumps(record))
        return
    if peer:
        if rank == 0:
            message = "another process of the data-parallel run failed (see its message)"
        else:
            return
    prefix = "" if rank == 0 else f"[rank {rank}] "
    print(f"lstmkit {command}: error: {prefix}{message}", file=sys.stderr)
