"""Data-parallel training: the sharding helpers alone, then two gloo processes (spawned here)
running the collectives, the Trainer (shared early stopping, rank-0-only files, exact resume)
and the three estimators under DistributedDataParallel."""

import math
import os
import socket
import time

import numpy as np
import pandas as pd
import pytest
import torch
import torch.multiprocessing as mp
from tests.train.toy import toy_data, toy_evaluate, toy_model, toy_step

from lstmkit.data.text import StreamBatches
from lstmkit.train import TensorBatches, TrainConfig, Trainer, distributed
from lstmkit.train.batches import shard_indices
from lstmkit.train.checkpoint import load_safe

WORLD = 2


# ---------------------------------------------------------------- sharding, no processes
@pytest.mark.parametrize("n", [1, 3, 96, 97, 101])
@pytest.mark.parametrize("world", [1, 2, 3, 4])
def test_shards_are_equal_cover_everything_and_overlap_only_in_the_padding(n, world):
    order = torch.randperm(n, generator=torch.Generator().manual_seed(n))
    shards = [shard_indices(order, r, world) for r in range(world)]
    per_rank = math.ceil(n / world)
    assert all(len(s) == per_rank for s in shards)  # the same number of steps on every rank
    together = torch.cat(shards)
    assert set(together.tolist()) == set(range(n))  # every sample is seen
    assert len(together) - n == per_rank * world - n  # repeats: only the wrap-around padding
    if n % world == 0:
        assert len(set(together.tolist())) == len(together)  # disjoint
    assert torch.equal(shard_indices(order, 0, 1), order)


def test_tensor_batches_shard_steps_and_epoch_order():
    x = torch.arange(103).float()[:, None]
    full = TensorBatches((x, None), batch_size=8, shuffle=True)
    parts = [full.shard(r, 3) for r in range(3)]
    assert [len(p) for p in parts] == [5, 5, 5]  # ceil(ceil(103 / 3) / 8)
    gen = lambda: torch.Generator().manual_seed(7)  # noqa: E731  (one epoch's generator)
    seen = [torch.cat([b[0] for b in p.batches(gen())]).flatten() for p in parts]
    order = torch.randperm(103, generator=gen()).float()
    for r in range(3):  # the same permutation on every rank, dealt r, r + 3, ...
        assert torch.equal(seen[r], shard_indices(order, r, 3))
    assert len(full) == 13 and full.shard(0, 1).samples == 103
    with pytest.raises(ValueError, match="rank must be an integer in"):
        full.shard(3, 3)
    with pytest.raises(ValueError, match="world_size must be a positive integer"):
        full.shard(0, 0)


def test_stream_batches_shard_into_equal_contiguous_streams():
    ids = torch.arange(1001)
    one = StreamBatches(ids, batch_size=4, bptt=10)
    parts = [one.shard(r, 2) for r in range(2)]
    assert len({len(p) for p in parts}) == 1 and parts[0].batch_size == 4  # per process
    whole = StreamBatches(ids, batch_size=8, bptt=10)
    assert torch.equal(torch.cat([p.x for p in parts]), whole.x)  # rank r: rows [4r, 4r + 4)
    for p in parts:
        x, y, reset = next(p.batches())
        assert bool(reset) and torch.equal(y[:, :-1], x[:, 1:])
    assert one.shard(0, 1) is one
    with pytest.raises(ValueError, match="2 processes x batch size 4"):
        StreamBatches(torch.arange(6), batch_size=4, bptt=2).shard(0, 2)


def test_outside_a_launched_run_everything_is_one_process():
    assert not distributed.is_initialized()
    assert (distributed.rank(), distributed.world_size(), distributed.is_main()) == (0, 1, True)
    assert distributed.all_reduce_sums([1, 2.5]) == [1.0, 2.5]
    assert distributed.on_main(lambda: 3) == 3 and distributed.main_first(lambda: 4) == 4
    assert distributed.all_gather_object("x") == ["x"] and distributed.broadcast_object(5) == 5
    with distributed.process_group("cpu"):  # no launcher variables: nothing happens
        assert not distributed.is_initialized()


# ---------------------------------------------------------------- two gloo processes
def _fit(config, run_dir, callbacks=(), resume=False):
    x, y = toy_data(120)
    model = toy_model()
    train = TensorBatches((x[:100], y[:100]), config.batch_size, shuffle=True)
    val = TensorBatches((x[100:], y[100:]), 64, shuffle=False)
    trainer = Trainer(model, config, toy_step, toy_evaluate, run_dir, callbacks=callbacks)
    if resume:
        trainer.resume_from(run_dir / "checkpoint.pt")
    history = trainer.fit(train, val)
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history], model


def _stop_at_2(epoch, record):
    if epoch == 2:
        raise KeyboardInterrupt("interrupted")


def _worker(rank, world, port, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))  # fmt: skip
    torch.set_num_threads(1)
    r = {}
    with distributed.process_group("cpu"):
        r["sums"] = distributed.all_reduce_sums([rank + 1, 0.25])
        r["gathered"] = distributed.all_gather_object(rank * 10)
        r["broadcast"] = distributed.broadcast_object(f"from rank {rank}")
        r["on_main"] = distributed.on_main(lambda: f"ran on rank {distributed.rank()}")
        try:
            distributed.on_main(lambda: 1 / 0)
        except (ZeroDivisionError, distributed.PeerFailed) as e:
            r["failure"] = type(e).__name__
        marker = out / "marker"
        r["marker_there_before"] = distributed.main_first(lambda: _touch(marker))

        c = TrainConfig(epochs=4, batch_size=8, lr=0.03, seed=1)
        r["full"], model = _fit(c, out / f"full-rank{rank}")
        r["full_state"] = model.state_dict()
        try:
            _fit(c, out / f"cut-rank{rank}", callbacks=[_stop_at_2])
        except KeyboardInterrupt:
            pass
        cut = out / "cut-rank0"  # rank 0 reads it and hands it to rank 1
        r["resumed"], model = _fit(c, cut if rank == 0 else out / "cut-rank1", resume=True)
        r["resumed_state"] = model.state_dict()

        noisy = TrainConfig(epochs=40, batch_size=8, lr=0.2, seed=2, patience=1)
        r["early"], _ = _fit(noisy, None)

        r["textgen"] = _textgen()
        r["forecast"] = _forecast()
    torch.save(r, out / f"rank{rank}.pt")
    os._exit(0)  # as the CLI's processes end: the interpreter's teardown can abort after gloo


def _touch(path):
    there = path.exists()
    path.touch()
    return there


def _textgen():
    from lstmkit.estimators import TextGenerator

    text = "".join(f"line {i}: the quick brown fox jumps over the lazy dog\n" for i in range(60))
    # tie_weights: the embedding and the head share one parameter under DDP too
    gen = TextGenerator(hidden=16, layers=1, bptt=12, batch_size=4, epochs=2, random_state=0,
                        tie_weights=True).fit(text)  # fmt: skip
    return [row["val_loss"] for row in gen.history_]


def _forecast():
    from lstmkit.estimators import Forecaster

    t = np.arange(120)
    df = pd.DataFrame({"y": 10 + np.sin(2 * np.pi * t / 12) + 0.01 * t})
    fc = Forecaster(lookback=24, horizon=6, season=12, hidden=8, epochs=2, calendar=False,
                    random_state=0).fit(df, target="y")  # fmt: skip
    return [row["val_loss"] for row in fc.history_]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """The results of ``_worker`` on each of two gloo processes (and their folder)."""
    out = tmp_path_factory.mktemp("ddp")
    ctx = mp.start_processes(_worker, args=(WORLD, _free_port(), out), nprocs=WORLD,
                             join=False, start_method="spawn")  # fmt: skip
    deadline = time.time() + 240
    while not ctx.join(timeout=1):  # raises with the traceback when a process fails
        if time.time() > deadline:
            for p in ctx.processes:
                p.kill()
            pytest.fail("the two processes hung (a collective one rank never reached?)")
    return [torch.load(out / f"rank{r}.pt", weights_only=False) for r in range(WORLD)], out


def test_collectives(two_ranks):
    (r0, r1), _ = two_ranks
    assert r0["sums"] == r1["sums"] == [3.0, 0.5]
    assert r0["gathered"] == r1["gathered"] == [0, 10]
    assert r0["broadcast"] == r1["broadcast"] == "from rank 0"
    assert r0["on_main"] == r1["on_main"] == "ran on rank 0"
    assert (r0["failure"], r1["failure"]) == ("ZeroDivisionError", "PeerFailed")
    assert (r0["marker_there_before"], r1["marker_there_before"]) == (False, True)  # 0 first


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_ranks_agree_on_weights_history_and_early_stopping(two_ranks):
    (r0, r1), _ = two_ranks
    assert _same(r0["full_state"], r1["full_state"])  # DDP keeps the replicas identical
    assert r0["full"] == r1["full"] and len(r0["full"]) == 4  # all-reduced loss, shared val
    assert r0["early"] == r1["early"]  # the same early stop, decided alike (else: a hang)
    assert len(r0["early"]) < 40


def test_only_rank_0_writes_and_validation_is_the_single_process_number(two_ranks):
    (r0, _), out = two_ranks
    assert not (out / "full-rank1").exists() and not (out / "cut-rank1").exists()
    assert {p.name for p in (out / "full-rank0").iterdir()} == {
        "checkpoint.pt", "history.csv", "model.pt"}  # fmt: skip
    ck = load_safe(out / "full-rank0" / "checkpoint.pt")
    assert len(ck["rng_ranks"]) == WORLD
    model = toy_model()
    model.load_state_dict(ck["model"])  # the last epoch's weights, evaluated in one process
    model.eval()
    x, y = toy_data(120)
    val = TensorBatches((x[100:], y[100:]), 64, shuffle=False)
    assert toy_evaluate(model, val)["loss"] == r0["full"][-1]["val_loss"]


def test_interrupted_parallel_run_resumes_exactly(two_ranks):
    (r0, r1), _ = two_ranks
    for r in (r0, r1):
        assert r["resumed"] == r["full"]
        assert _same(r["resumed_state"], r["full_state"])


def test_textgen_and_forecast_estimators_train_in_parallel(two_ranks):
    (r0, r1), _ = two_ranks
    for task in ("textgen", "forecast"):
        assert r0[task] == r1[task] and len(r0[task]) == 2
        assert all(math.isfinite(v) for v in r0[task])
