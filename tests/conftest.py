"""Shared test helpers: one parity checker for every cross-check of the torch side.

``parity.run(module, call, inputs, **options)`` runs ``call(module, **leaves, **options)`` (a dict
of named output tensors), backpropagates a fixed random weighting of every output, and returns the
outputs plus the gradient of every input (``d<name>``) and every parameter (``d<param name>``).
``parity.check(ours, theirs, tol)`` asserts that two such dicts agree key by key.
``parity.rnn(...)`` is the ``call`` for recurrent layers (lstmkit's and torch's, packed or not).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

TOL = {torch.float32: 2e-5, torch.float64: 1e-10}

Outputs = dict[str, Tensor | None]


def run(
    module: nn.Module,
    call: Callable[..., Outputs],
    inputs: dict[str, Tensor | None],
    *,
    seed: int = 0,
    **options,
) -> dict[str, Tensor]:
    """Forward + backward of ``sum_k <w_k, out_k>`` with fixed random w_k; outputs and grads.

    ``call(module, **leaves, **options)``: ``inputs`` (None dropped) become leaves that get a
    gradient ``d<name>``; ``options`` pass through untouched.
    """
    leaves = {k: v.detach().clone().requires_grad_() for k, v in inputs.items() if v is not None}
    outs = {k: v for k, v in call(module, **leaves, **options).items() if v is not None}
    gen = torch.Generator().manual_seed(seed)
    loss = sum(
        (outs[k] * torch.randn(outs[k].shape, generator=gen, dtype=outs[k].dtype).to(outs[k])).sum()
        for k in sorted(outs)
    )  # weights drawn on the CPU, so every device gets the same loss
    params = {n: p for n, p in module.named_parameters() if p.requires_grad}  # frozen: none
    wrt = list(leaves.values()) + list(params.values())
    grads = torch.autograd.grad(loss, wrt, allow_unused=True)
    result = {k: v.detach() for k, v in outs.items()}
    for name, x, g in zip([*leaves, *params], wrt, grads, strict=True):
        result[f"d{name}"] = torch.zeros_like(x) if g is None else g.detach()
    return result


def check(ours: dict, theirs: dict, tol: float, label: str = "") -> float:
    """Assert the same keys and shapes, and for every key max|ours - theirs| <= tol * scale with
    scale = max(1, max|theirs|): an absolute tolerance for O(1) values, a relative one for large
    ones (a float32 gradient summed over many steps). NaN fails. Returns the worst scaled error."""
    assert sorted(ours) == sorted(theirs), (
        f"{label}: keys differ {sorted(ours)} vs {sorted(theirs)}"
    )
    errors = {}
    for k in ours:
        a, b = ours[k].detach().cpu(), theirs[k].detach().cpu()
        assert a.shape == b.shape, f"{label} {k}: shape {tuple(a.shape)} vs {tuple(b.shape)}"
        if a.numel() == 0:
            errors[k] = 0.0
            continue
        scale = max(1.0, b.abs().max().item())
        errors[k] = (a - b).abs().max().item() / scale
    bad = {k: f"{e:.2e}" for k, e in errors.items() if not e <= tol}
    assert not bad, f"{label}: max abs diff (scaled) above {tol:.0e}: {bad}"
    return max(errors.values())


def rnn(
    module: nn.Module,
    x: Tensor,
    h0: Tensor | None = None,
    c0: Tensor | None = None,
    *,
    lengths: Tensor | None = None,
    packed: bool = False,
) -> Outputs:
    """Call a recurrent layer the torch way: hx as (h0, c0), h0 alone for gru, or None.

    ``packed=True`` (torch.nn.LSTM / GRU) feeds ``lengths`` through pack_padded_sequence and pads
    the output back to the full length; otherwise ``lengths`` goes to lstmkit's ``lengths=``.
    """
    hx = None if h0 is None else (h0 if c0 is None else (h0, c0))
    batch_first = module.batch_first
    if packed and lengths is not None:
        total = x.shape[1] if batch_first else x.shape[0]
        seq = pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=False)
        out, state = module(seq, hx)
        out, _ = pad_packed_sequence(out, batch_first=batch_first, total_length=total)
    elif packed:
        out, state = module(x, hx)
    else:
        out, state = module(x, hx, lengths=lengths)
    h_n, c_n = state if isinstance(state, tuple) else (state, None)
    return {"output": out, "h_n": h_n, "c_n": c_n}


# ---------------------------------------------------------------- parallel runs (pytest-xdist)
# The longest modules (seconds summed over their tests, measured on 2 cores), longest first: with
# `make test`'s --no-loadscope-reorder they are dealt out first, so that no worker starts a
# two-minute module while the other has nothing left (longest-first scheduling).
LONGEST_FIRST = (
    "tests/docs/test_doc_examples.py",  # 248 s, dealt out page by page
    "tests/export/test_export_graphs.py",  # 110
    "tests/cli/test_cli_distributed.py",  # 88
    "tests/test_wheel.py",  # 78
    "tests/cli/test_cli_gunpoint.py",  # 76
    "tests/cli/test_cli_classify.py",  # 65
    "tests/nn/test_compile.py",  # 59
    "tests/cli/test_cli_forecast.py",  # 56
    "tests/export/test_export_cli.py",  # 56
    "tests/cli/test_cli_core.py",  # 48
    "tests/textgen/test_cli_textgen.py",  # 48
    "tests/kernels/test_ext_loading.py",  # 39
    "tests/estimators/test_panel_forecaster.py",  # 39
    "tests/serve/test_serve_http.py",  # 34
    "tests/inspect/test_report.py",  # 32
)
# Modules whose tests share nothing (each trains its own): dealt out test by test.
UNGROUPED = ("tests/docs/test_doc_examples.py",)


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (``make test`` runs one worker per core) each worker, and every
    process it starts, uses one torch thread: the workers share the cores, not oversubscribe."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ["OMP_NUM_THREADS"] = "1"
        torch.set_num_threads(1)


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """For ``--dist loadgroup``: a module's tests run on one worker (its module-scoped trained
    fixtures are built once), UNGROUPED ones test by test; LONGEST_FIRST modules go first."""
    modules = {item: item.path.relative_to(config.rootpath).as_posix() for item in items}
    if config.pluginmanager.hasplugin("xdist"):
        for item, module in modules.items():
            if module not in UNGROUPED:
                item.add_marker(pytest.mark.xdist_group(module))
    rank = {m: k for k, m in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(modules[item], len(rank)))  # stable: else as collected


_ONE_THREAD_DIRS = ("nn", "kernels", "textgen", "inspect", "export")


@pytest.fixture(autouse=True)
def _one_thread_for_tiny_tensors(request: pytest.FixtureRequest):
    """The tests of _ONE_THREAD_DIRS use tiny tensors: on a shared small machine, intra-op
    threads only add contention (10x slower measured), so those tests run single-threaded."""
    if request.path.parent.name not in _ONE_THREAD_DIRS:
        yield
        return
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def one_thread():
    """torch single-threaded for a whole module, its module-scoped trained fixtures included
    (use with ``pytestmark = pytest.mark.usefixtures("one_thread")``): tiny models train
    faster on one thread and do not stall when the cores are busy."""
    with torch_threads(1):
        yield


@contextmanager
def torch_threads(n: int):
    """torch's intra-op threads set to ``n`` inside, restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture
def parity() -> SimpleNamespace:
    """The shared parity checker (see the module docstring)."""
    return SimpleNamespace(run=run, check=check, rnn=rnn, tol=TOL)


# ---------------------------------------------------------------- tiny trained runs
@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory) -> SimpleNamespace:
    """One small trained run directory per task (a few seconds in all), as ``lstmkit train``
    writes them: ``.classify`` (digits, 8 steps x 8 channels, 10 classes), ``.forecast``
    (airline, monthly, quantiles 0.1/0.5/0.9), ``.textgen`` (char level, a KJV excerpt), and
    ``.textgen_text`` (that excerpt's file). Read them; copy one before changing it."""
    from lstmkit.data.text import load_text
    from lstmkit.tasks.classify import run_classify
    from lstmkit.tasks.forecast import run_forecast
    from lstmkit.tasks.textgen import run_textgen

    root = tmp_path_factory.mktemp("tiny_runs")
    with torch_threads(1):
        classify = root / "classify"
        run_classify(
            {"source": "digits"},
            {
                "arch": "encoder",
                "hidden": 16,
                "layers": 1,
                "epochs": 3,
                "batch_size": 64,
                "conv_channels": 0,
                "lr": 0.01,
                "random_state": 0,
            },
            classify,
        )
        forecast = root / "forecast"
        run_forecast(
            {"source": "airline"},
            {
                "hidden": 8,
                "epochs": 2,
                "min_steps": 1,
                "quantiles": [0.1, 0.5, 0.9],
                "random_state": 0,
            },
            forecast,
        )
        text = load_text("kjv")
        text_file = root / "kjv-excerpt.txt"
        text_file.write_text(text[: text.index("\n", 20000) + 1])
        textgen = root / "textgen"
        run_textgen(
            {"source": str(text_file)},
            {"hidden": 24, "layers": 1, "batch_size": 8, "bptt": 16, "lr": 0.01, "epochs": 1},
            textgen,
        )
    return SimpleNamespace(
        classify=classify, forecast=forecast, textgen=textgen, textgen_text=text_file
    )


@pytest.fixture
def cli_main(capsys):
    """``cli_main(*args)``: the lstmkit CLI in this process (fast for the many error cases);
    returns (exit code, stdout, stderr)."""
    from lstmkit.cli.main import main

    def run(*args):
        try:
            code = main([str(a) for a in args])
        except SystemExit as e:  # argparse usage errors
            code = e.code
        out, err = capsys.readouterr()
        return code, out, err

    return run
