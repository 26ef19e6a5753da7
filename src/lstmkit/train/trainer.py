"""The Trainer: optimisation, schedules, clipping, early stopping, checkpoints and resume.

A task supplies two functions: ``step_loss(model, batch) -> (loss, n)`` for one batch and
``evaluate(model, batches) -> dict`` (must hold ``"loss"``). The Trainer owns everything else.
After every epoch it writes ``checkpoint.pt`` atomically (model, optimizer, schedule, RNG state,
history, best weights), so that a run killed at any moment resumes to exactly the result of the
uninterrupted run: the shuffling of each epoch depends only on (seed, epoch).

``callbacks``: functions ``on_epoch_end(epoch, record)`` called after every epoch, once its
checkpoint is written (``epoch`` counts from 1; ``record`` is a copy of the epoch's history row:
``loss``, ``val_loss``, ``lr``, ``grad_norm`` (the mean global gradient norm of the epoch's
steps, before clipping), ...); a callback object with an ``on_fit_start(trainer, train, val)``
method has it called once before the first epoch (experiment trackers read the model there).
An exception raised by a callback (``optuna.TrialPruned``, for example) stops the training and
propagates out of ``fit``; the run directory then holds the checkpoint of that epoch.

Data-parallel runs (``lstmkit.train.distributed``: a process group is joined): each process
trains on its shard of every epoch's order through DistributedDataParallel, so ``batch_size`` is
per process and one step sees ``world_size * batch_size`` samples; the learning rate is not
scaled. The validation split is evaluated by rank 0 alone (the numbers of the single-process
evaluation of the same weights) and shared, so the history, early stopping and the schedule
decide the same on every rank; callbacks run on every rank and must decide alike too. Only rank
0 writes files; the checkpoint holds every rank's RNG state, so a data-parallel run resumes
exactly too (with the same number of processes).
"""

from __future__ import annotations

import logging
import math
import signal
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path

import torch
from torch import Tensor, nn

from lstmkit.train import distributed
from lstmkit.train.batches import TensorBatches, epoch_generator
from lstmkit.train.checkpoint import atomic_write_text, load_safe, save_atomic
from lstmkit.train.config import TrainConfig
from lstmkit.train.progress import progress_bar
from lstmkit.train.schedule import LRSchedule
from lstmkit.train.swa import WeightAverage, refresh_batch_norm, swa_start_epoch

__all__ = ["EpochCallback", "Trainer", "make_optimizer"]

log = logging.getLogger(__name__)

StepLoss = Callable[[nn.Module, tuple], tuple[Tensor, int]]
Evaluate = Callable[[nn.Module, TensorBatches], dict[str, float]]
EpochCallback = Callable[[int, dict[str, float]], None]  # on_epoch_end(epoch, record)


def make_optimizer(model: nn.Module, c: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    builders = {
        "adam": lambda: torch.optim.Adam(params, lr=c.lr, weight_decay=c.weight_decay),
        "adamw": lambda: torch.optim.AdamW(params, lr=c.lr, weight_decay=c.weight_decay),
        "rmsprop": lambda: torch.optim.RMSprop(
            params, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay
        ),
        "sgd": lambda: torch.optim.SGD(
            params, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay
        ),
    }
    return builders[c.optimizer]()


class Trainer:
    """Train ``model`` with ``config``; write checkpoints and history into ``run_dir`` if given.

    Example::

        trainer = Trainer(model, TrainConfig(epochs=5), step_loss, evaluate, run_dir="runs/x")
        history = trainer.fit(train_batches, val_batches)
    """

    def __init__(
        self,
        model: nn.Module,
        config: TrainConfig,
        step_loss: StepLoss,
        evaluate: Evaluate,
        run_dir: str | Path | None = None,
        progress: bool = False,
        callbacks: Sequence[EpochCallback] = (),
        forward: Callable[[nn.Module, tuple], object] | None = None,
    ) -> None:
        self.model, self.config = model, config
        # a forward pass of one training batch, no augmentation, no loss: the batch-norm refresh
        # of ``swa`` (default: step_loss, whose loss is then dropped)
        self.forward = forward
        self.callbacks = tuple(callbacks)
        self.step_loss, self.evaluate = step_loss, evaluate
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.progress = progress
        self.rank, self.world_size = distributed.rank(), distributed.world_size()
        self.writes = self.run_dir is not None and self.rank == 0  # only rank 0 writes files
        self.device = distributed.local_device(config.device)
        self.model.to(self.device)
        self.optimizer = make_optimizer(model, config)
        self.history: list[dict[str, float]] = []
        self.best_state: dict[str, Tensor] | None = None
        self.best_score = math.inf
        self.best_epoch = 0
        self.bad_epochs = 0
        self.clip_count = 0
        self.train_seconds = 0.0
        self.start_epoch = 0
        self.stopped_early = False
        self.swa = WeightAverage()  # with config.swa: the mean of the last epochs' weights
        self._resume: dict | None = None

    # ------------------------------------------------------------------ checkpoints
    def resume_from(self, path: str | Path) -> None:
        """Restore everything a checkpoint holds; ``fit`` then continues after its epoch.
        In a data-parallel run rank 0 reads the file and hands its content to the others."""
        if self.world_size == 1:
            ck = load_safe(path, map_location=self.device)
        else:
            ck = distributed.on_main(lambda: load_safe(path))
        saved = len(ck.get("rng_ranks") or [None])  # processes that wrote it
        if saved != self.world_size and self.rank == 0:
            log.warning("%s was written by %d process(es), resumed by %d: the run continues but "
                        "does not repeat the uninterrupted one exactly", path, saved,
                        self.world_size)  # fmt: skip
        self.model.load_state_dict(ck["model"])
        self.optimizer.load_state_dict(ck["optimizer"])
        self.history = list(ck["history"])
        self.best_state = ck["best_state"]
        self.best_score, self.best_epoch = ck["best_score"], ck["best_epoch"]
        self.bad_epochs, self.clip_count = ck["bad_epochs"], ck["clip_count"]
        self.train_seconds, self.start_epoch = ck["train_seconds"], ck["epoch"]
        self.stopped_early = ck["stopped_early"]
        if "swa" in ck:
            self.swa.load_state_dict(ck["swa"])
        self._resume = ck

    def _checkpoint(self, epoch: int, schedule: LRSchedule, rngs: list[Tensor] | None) -> dict:
        extra = {} if rngs is None else {"rng_ranks": rngs}  # every rank's, in rank order
        return extra | {
            "epoch": epoch,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": schedule.state_dict(),
            "rng": torch.get_rng_state(),
            "history": self.history,
            "best_state": self.best_state,
            "best_score": self.best_score,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
            "clip_count": self.clip_count,
            "train_seconds": self.train_seconds,
            "stopped_early": self.stopped_early,
            "swa": self.swa.state_dict(),
        }

    # ------------------------------------------------------------------ training
    def fit(self, train: TensorBatches, val: TensorBatches | None = None) -> list[dict[str, float]]:
        """Train; a Ctrl-C stops it with KeyboardInterrupt even where Python would swallow the
        first one (raised inside a finaliser or a C callback): the next batch re-raises it."""
        self._interrupted = False
        previous = None
        if threading.current_thread() is threading.main_thread():
            if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
                previous = signal.signal(signal.SIGINT, self._on_sigint)
        try:
            return self._fit(train, val)
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)

    def _on_sigint(self, signum, frame) -> None:
        self._interrupted = True
        raise KeyboardInterrupt

    def _fit(
        self, train: TensorBatches, val: TensorBatches | None = None
    ) -> list[dict[str, float]]:
        c = self.config
        step_model = self.model  # what the training steps call: DDP-wrapped in a parallel run
        whole = train  # every rank's batches (the batch-norm pass of an averaged model)
        if self.world_size > 1:
            if not hasattr(train, "shard"):
                raise TypeError(f"{type(train).__name__} cannot be split across processes")
            train = train.shard(self.rank, self.world_size)
            step_model = distributed.wrap(self.model, self.device)
        schedule = LRSchedule(c, len(train))
        if self._resume is not None:
            schedule.load_state_dict(self._resume["schedule"])
            rngs = self._resume.get("rng_ranks")
            same = rngs is not None and len(rngs) == self.world_size
            torch.set_rng_state(rngs[self.rank] if same else self._resume["rng"])
        else:
            torch.manual_seed(c.seed + self.rank)  # dropout etc.; its own stream on every rank
        autocast = (
            torch.autocast(self.device.type, dtype=torch.bfloat16)
            if c.precision == "bf16"
            else nullcontext()
        )
        for callback in self.callbacks:  # e.g. a tracker that reads the model and the data
            start = getattr(callback, "on_fit_start", None)
            if start is not None:
                start(self, whole, val)
        for epoch in range(self.start_epoch, c.epochs):
            if self.stopped_early:
                break
            t0 = time.perf_counter()
            row = self._train_epoch(epoch, step_model, train, schedule, autocast)
            if val is not None:
                row |= {f"val_{k}": v for k, v in self._validate(val, autocast).items()}
            self.train_seconds += time.perf_counter() - t0
            row["seconds"] = time.perf_counter() - t0
            self._end_epoch(epoch, row, schedule)
        del step_model  # drops the DDP wrapper (and its gradient hooks) of a parallel run
        if self.swa.count:
            self._load_average(whole, val, autocast)
        elif self.best_state is not None:
            self.model.load_state_dict(self.best_state)  # best weights restored
        return self.history

    def _load_average(self, train: TensorBatches, val: TensorBatches | None, autocast) -> None:
        """End of a run with ``swa``: the averaged weights (their batch-norm statistics from a
        pass over the training data) replace the best epoch's, in model.pt too."""
        self.model.load_state_dict(self.swa.mean)

        plain = self.forward or self.step_loss

        def forward(model: nn.Module, batch: tuple) -> None:
            with autocast:
                plain(model, tuple(None if t is None else t.to(self.device) for t in batch))

        c = self.config
        refresh_batch_norm(self.model, train.batches(epoch_generator(c.seed, c.epochs)), forward)
        self.swa_metrics = self._validate(val, autocast) if val is not None else {}
        log.info("weights averaged over the last %d epochs%s", self.swa.count,
                 "".join(f" val_{k}={v:.4g}" for k, v in self.swa_metrics.items()))  # fmt: skip
        if self.writes:
            save_atomic(self.model.state_dict(), self.run_dir / "model.pt")

    def _validate(self, val: TensorBatches, autocast) -> dict[str, float]:
        """The task's evaluation of the validation split: on rank 0 only in a parallel run,
        whose numbers every rank receives."""

        def evaluate() -> dict[str, float]:
            with torch.no_grad(), autocast:
                self.model.eval()
                return self.evaluate(self.model, val)

        return distributed.on_main(evaluate)

    def _train_epoch(
        self, epoch: int, model: nn.Module, train: TensorBatches, schedule: LRSchedule, autocast
    ) -> dict:
        c = self.config
        self.model.train()
        total, count, clipped, steps, norms = 0.0, 0, 0, 0, 0.0
        batches = train.batches(epoch_generator(c.seed, epoch))
        bar = None
        if self.progress and self.rank == 0:  # where someone watches: a terminal, a notebook
            unit, scale = getattr(train, "progress_unit", ("batch", 1))  # e.g. windows / s
            bar = progress_bar(batches, len(train), f"epoch {epoch + 1}/{c.epochs}", unit, scale)
            batches = batches if bar is None else bar
        for batch in batches:
            lr = c.lr * schedule.factor(epoch * len(train) + steps)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            batch = tuple(None if t is None else t.to(self.device) for t in batch)
            with autocast:
                loss, n = self.step_loss(model, batch)
            objective = loss + self._l1() if c.l1 else loss
            self.optimizer.zero_grad(set_to_none=True)
            objective.backward()
            if c.clip_norm is not None:  # the norm before clipping
                norm = nn.utils.clip_grad_norm_(self.model.parameters(), c.clip_norm)
                clipped += int(norm > c.clip_norm)
            else:
                grads = [p.grad for p in self.model.parameters() if p.grad is not None]
                norm = nn.utils.get_total_norm(grads) if grads else torch.zeros(())
            norms = norms + norm.detach()  # a tensor: no device sync per step
            self.optimizer.step()
            total += float(loss.detach()) * n
            count += n
            steps += 1
            if bar is not None:
                bar.set_postfix(loss=f"{total / count:.4f}", lr=f"{lr:.2e}")
            if self._interrupted:  # a Ctrl-C that something swallowed
                raise KeyboardInterrupt
        self.clip_count += clipped  # the same on every rank (the gradients are averaged)
        if self.world_size > 1:
            total, count = distributed.all_reduce_sums([total, count])  # the whole epoch's mean
        return {"epoch": epoch + 1, "loss": total / max(count, 1), "lr": lr,
                "clipped_fraction": clipped / max(steps, 1),
                "grad_norm": float(norms) / max(steps, 1)}  # fmt: skip

    def _l1(self) -> Tensor:
        weights = [
            p for n, p in self.model.named_parameters() if p.requires_grad and "bias" not in n
        ]
        return self.config.l1 * sum(p.abs().sum() for p in weights)

    def _end_epoch(self, epoch: int, row: dict, schedule: LRSchedule) -> None:
        c = self.config
        score = row.get("val_loss", row["loss"])  # monitored: validation loss (train loss without)
        if not math.isfinite(score):
            raise ValueError(
                f"training diverged at epoch {epoch + 1} (loss {score}); lower --lr or set a "
                "gradient clip norm"
            )
        schedule.end_epoch(row.get("val_loss"))
        if score < self.best_score - 1e-12:
            self.best_score, self.best_epoch, self.bad_epochs = score, epoch + 1, 0
            self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            if self.writes:
                save_atomic(self.best_state, self.run_dir / "model.pt")
        else:
            self.bad_epochs += 1
            if c.patience is not None and self.bad_epochs >= c.patience:
                self.stopped_early = True
        if c.swa and epoch + 1 >= swa_start_epoch(c.epochs, c.swa):
            self.swa.update(self.model)
        self.history.append(row)
        msg = " ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()
        )
        every = max(1, math.ceil(c.epochs / 20))  # about 20 lines for a long run of tiny epochs
        shown = epoch == 0 or (epoch + 1) % every == 0 or epoch + 1 == c.epochs
        level = logging.INFO if shown or self.stopped_early else logging.DEBUG
        log.log(level, "%s%s", msg, " (early stop)" if self.stopped_early else "")
        rngs = None
        if self.world_size > 1:  # collective: every rank sends its RNG state to the checkpoint
            rngs = distributed.all_gather_object(torch.get_rng_state())
        if self.writes:
            state = self._checkpoint(epoch + 1, schedule, rngs)
            save_atomic(state, self.run_dir / "checkpoint.pt")
            atomic_write_text(self.run_dir / "history.csv", history_csv(self.history))
        for callback in self.callbacks:
            callback(epoch + 1, dict(row))


def _cell(v: object) -> str:
    if v is None:
        return ""
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def history_csv(history: list[dict]) -> str:
    """One row per epoch, columns in first-seen order."""
    keys = list(dict.fromkeys(k for row in history for k in row))
    lines = [",".join(keys)] + [",".join(_cell(row.get(k)) for k in keys) for row in history]
    return "\n".join(lines) + "\n"
