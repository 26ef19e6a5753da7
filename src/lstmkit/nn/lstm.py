"""``lstmkit.nn.LSTM``: a multi-layer, optionally bidirectional recurrent layer of any cell type."""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from lstmkit.kernels import _ext
from lstmkit.kernels.cells import CellSpec, get_cell, run_fused, run_reference
from lstmkit.kernels.native import run_native
from lstmkit.nn._checks import (
    cast_state,
    check_cell_options,
    check_input,
    check_lengths,
    check_positive_int,
    check_state,
)
from lstmkit.nn._inputs import as_batch, batch_and_length, restore
from lstmkit.nn._time import (
    final_state,
    record_values,
    reverse_index,
    reverse_result,
    time_reverse,
)
from lstmkit.nn.params import INITS, init_layer, layer_param_names, make_layer_params

__all__ = ["BACKENDS", "GRU", "LSTM"]

_LAYER_RUNNERS = {"fused": run_fused, "reference": run_reference}


def cpu_bf16_lstm() -> bool:
    """Whether CPU autocast is in bf16 now and torch's oneDNN LSTM runs bf16 on this CPU."""
    return torch.get_autocast_dtype("cpu") == torch.bfloat16 and _mkldnn_bf16()


@functools.cache
def _mkldnn_bf16() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


BACKENDS = ("auto", "torch", "fused", "reference")

State = Tensor | tuple[Tensor, Tensor | None] | None


class LSTM(nn.Module):
    r"""A stack of recurrent layers: LSTM and its variants, unrolled over a sequence.

    For ``cell="lstm"`` each layer computes, for every step t (gate rows stacked i|f|g|o)::

        i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)
        f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)
        g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)
        o_t = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho)
        c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
        h_t = o_t ⊙ tanh(c_t)

    ``cell`` may also be ``"peephole"`` (i, f see c_{t-1}, o sees c_t), ``"coupled"`` (i = 1 - f),
    ``"gru"`` (torch.nn.GRU's equations, no cell state) or ``"layernorm"`` (layer-normalised gate
    pre-activations and cell state). Parameter names and shapes follow torch.nn.LSTM / GRU
    (``weight_ih_l{k}[_reverse]``, ...), so ``state_dict``s load both ways with ``strict=True``.

    The positional arguments are ``torch.nn.LSTM``'s, in its order and with its defaults
    (``batch_first=False``): swapping the import keeps the meaning of working code. lstmkit's own
    options are keyword-only.

    Args:
        input_size: I, features per step.
        hidden_size: H, units per layer and direction.
        num_layers: stacked layers; layer k > 0 reads layer k-1's output (D*H features).
        bias: use ``bias_ih`` / ``bias_hh``.
        batch_first: inputs and outputs are (N, L, ·) instead of torch's default (L, N, ·).
        dropout: dropout probability on the outputs of every layer but the last (training only).
        bidirectional: add a reverse-time direction (D = 2); outputs are concatenated.
        proj_size: P > 0 projects each step's o⊙tanh(c) to h = W_hr (o⊙tanh(c)) of size P
            (torch.nn.LSTM's ``weight_hr_l{k}``): outputs and h are P wide, c stays H. For the
            cells with a cell state (not gru); runs on backends ``"torch"`` (lstm) and
            ``"reference"``, ``"auto"`` picking between them (lstmkit's fused kernels have no
            projection).
        device, dtype: where and in which dtype the parameters are made.
        cell: ``"lstm" | "peephole" | "coupled" | "gru" | "layernorm"``.
        backend: ``"auto"`` (the fastest path: torch's fused kernels for plain lstm, and for gru
            off the CPU, without recording; else ``"fused"``), ``"torch"`` (torch's kernels
            only), ``"fused"`` (lstmkit's kernels with hand-written BPTT), ``"reference"``
            (step by step under autograd, for checking).
        forget_bias: initial forget-gate bias (e.g. 1.0); None keeps torch's uniform init.
        recurrent_init: ``"uniform"`` (torch's) or ``"orthogonal"`` (each gate block of W_hh).

    Inputs: ``x, hx=None, lengths=None, record=False, probe=None``
        x: (L, N, I), or (N, L, I) with ``batch_first=True``; or one unbatched sequence (L, I)
            (states then 2-D, results without N); or a ``PackedSequence`` (the output is then
            packed the same way).
        hx: ``(h0, c0)``, h0 (D*num_layers, N, P or H), c0 (D*num_layers, N, H); for gru ``h0``
            alone. Zeros when None. Shapes are checked as torch checks them (same messages;
            the error is both a ValueError and a RuntimeError).
        lengths: (N,) valid lengths of a right-padded batch; padded steps are skipped, the reverse
            direction starts at each sequence's last valid step (as torch's packed sequences).
        record: also return every layer's gates and states per step.
        probe: zeros of shape (num_layers, D, N, L, H), time running forward, added to every
            step's hidden state: the gradient of a loss w.r.t. it is dLoss/dh_t through every
            path (the layers above and all later steps), BPTT's total hidden-state gradient,
            which the recorded ``h`` (a copy) cannot give. Runs step by step (``"reference"``).

    Outputs: ``output, (h_n, c_n)`` and, with ``record=True``, a dict
        output: (L, N, D*H) ((N, L, D*H) with ``batch_first``), zeros at padded steps.
        h_n, c_n: (D*num_layers, N, H); c_n is None for gru. The dict maps ``"i", "f", "g",
        "o", "c", "h"`` (gru: ``"r", "z", "n", "h"``) to tensors of shape
        (num_layers, D, N, L, H), time running forward for both directions.

    Example::

        >>> lstm = LSTM(28, 128, 2, batch_first=True, bidirectional=True, cell="peephole")
        >>> out, (h, c) = lstm(torch.randn(32, 28, 28))
        >>> out.shape, h.shape
        (torch.Size([32, 28, 256]), torch.Size([4, 32, 128]))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        cell: str = "lstm",
        backend: str = "auto",
        forget_bias: float | None = None,
        recurrent_init: str = "uniform",
    ) -> None:
        super().__init__()
        check_positive_int("input_size", input_size)
        check_positive_int("hidden_size", hidden_size)
        check_positive_int("num_layers", num_layers)
        if not isinstance(dropout, int | float) or isinstance(dropout, bool):
            raise TypeError(f"dropout must be a number in [0, 1), got {dropout!r}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout!r}")
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
        if recurrent_init not in INITS:
            raise ValueError(f"recurrent_init must be one of {INITS}, got {recurrent_init!r}")
        self.spec: CellSpec = get_cell(cell)
        if backend == "torch" and not self.spec.torch_native:
            raise ValueError(
                f"backend='torch' runs only cell='lstm' or 'gru' (torch.nn.LSTM / GRU), "
                f"not cell={cell!r}; use backend='fused' or 'auto'"
            )
        check_cell_options(self.spec, cell, bias, forget_bias)
        _check_proj(proj_size, hidden_size, self.spec, cell, backend)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.cell, self.bidirectional, self.dropout = cell, bidirectional, float(dropout)
        self.batch_first, self.bias, self.backend = batch_first, bias, backend
        self.forget_bias, self.recurrent_init = forget_bias, recurrent_init
        self.num_directions = 2 if bidirectional else 1
        self._layer_names: list[list[list[str | None]]] = []  # [layer][direction] -> names
        self.proj_size = proj_size
        self.output_size = proj_size or hidden_size  # h's width: torch's H_out
        for k in range(num_layers):
            layer_in = input_size if k == 0 else self.output_size * self.num_directions
            per_dir = []
            for d in range(self.num_directions):
                sfx = f"_l{k}" + ("_reverse" if d == 1 else "")
                params = make_layer_params(self.spec, layer_in, hidden_size, bias, sfx, proj_size)
                for n, p in params.items():
                    self.register_parameter(n, p)
                init_layer(self.spec, params, hidden_size, sfx, forget_bias, recurrent_init)
                per_dir.append(layer_param_names(self.spec, bias, sfx))
            self._layer_names.append(per_dir)
        if device is not None or dtype is not None:
            self.to(device=device, dtype=dtype)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}"
        s += f", cell={self.cell!r}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.bidirectional:
            s += ", bidirectional=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        return s + f", backend={self.backend!r}"

    def _layer_params(self, k: int, d: int) -> list[Tensor | None]:
        return [None if n is None else getattr(self, n) for n in self._layer_names[k][d]]

    def _proj(self, k: int, d: int) -> Tensor | None:
        """Layer k, direction d's projection weight_hr (P, H), or None without proj_size."""
        if not self.proj_size:
            return None
        return getattr(self, f"weight_hr_l{k}" + ("_reverse" if d == 1 else ""))

    def _flat_weights(self) -> list[Tensor]:
        """torch.nn.LSTM's flat weight list: per layer and direction w_ih, w_hh[, b_ih, b_hh]
        [, w_hr]."""
        return [p for k in range(self.num_layers) for d in range(self.num_directions)
                for p in (*self._layer_params(k, d)[:4], self._proj(k, d))
                if p is not None]  # fmt: skip

    def probe_shape(self, x: Tensor | PackedSequence) -> tuple[int, ...]:
        """The shape ``probe=`` takes for input ``x``: (num_layers, D, N, L, P or H), without N
        for an unbatched sequence."""
        n, length = batch_and_length(x, self.batch_first)
        batch = () if n is None else (n,)
        return (self.num_layers, self.num_directions, *batch, length, self.output_size)

    def resolved_backend(self, record: bool = False, device: torch.device | None = None) -> str:
        """The backend that runs: ``"torch"``, ``"fused"`` or ``"reference"``.

        ``"auto"`` takes torch's kernels for plain lstm, and for gru except on the CPU with
        lstmkit's C++ loops built: there, measured, torch's GRU kernel is 1.2x to 6x slower than
        lstmkit's fused GRU (``lstmkit bench``). Recording always needs lstmkit's kernels; a
        projected layer that torch cannot run (a variant, or recording) runs ``"reference"``.
        """
        if self.backend == "auto":
            if self.proj_size and (record or self.cell != "lstm"):
                return "reference"
            if record or not self.spec.torch_native:
                return "fused"
            if torch.compiler.is_compiling():
                # compiled: lstmkit's custom ops keep the whole model one graph (torch's kernels
                # would break it); exported: torch's own ops, which run without lstmkit
                return "torch" if torch.compiler.is_exporting() else "fused"
            on_cpu = device is None or torch.device(device).type == "cpu"
            if self.cell == "gru" and on_cpu and _ext.load():
                return "fused"
            return "torch"
        if self.backend == "torch" and record:
            raise ValueError(
                "record=True needs lstmkit's kernels; torch's fused kernels cannot expose the "
                "gates. Use backend='auto' or 'fused'"
            )
        return self.backend

    def forward(
        self,
        x: Tensor | PackedSequence,
        hx: State = None,
        lengths: Tensor | list[int] | None = None,
        record: bool = False,
        probe: Tensor | None = None,
    ):
        name = "GRU" if self.cell == "gru" else "LSTM"
        batch = as_batch(name, x, hx, lengths, self.batch_first, self.spec.has_cell_state)
        if probe is not None:
            check_state("probe", probe, self.probe_shape(x), batch.x)
            if not batch.batched:
                probe = probe.unsqueeze(2)
        out, (h_n, c_n), *rec = self._forward_batch(batch.x, batch.hx, batch.lengths, record,
                                                    probe)  # fmt: skip
        out, h_n, c_n, recorded = restore(batch, out, h_n, c_n, rec[0] if rec else None,
                                          self.batch_first)  # fmt: skip
        return (out, (h_n, c_n)) if not record else (out, (h_n, c_n), recorded)

    def _forward_batch(self, x, hx, lengths, record, probe):
        w = self.weight_ih_l0
        autocast = torch.is_autocast_enabled(x.device.type)
        if autocast and x.is_floating_point() and x.dtype != w.dtype:
            x = x.to(w.dtype)  # under autocast an earlier layer may hand over bf16 / fp16
            hx = cast_state(hx, w.dtype)
            probe = None if probe is None else probe.to(w.dtype)
        check_input(x, self.input_size, w.dtype)
        N, L = (x.shape[0], x.shape[1]) if self.batch_first else (x.shape[1], x.shape[0])
        lens = None if lengths is None else check_lengths(lengths, N, L, x.device)
        h0, c0 = self._initial_state(hx, x, N)
        backend = "reference" if probe is not None else self.resolved_backend(record, x.device)
        if autocast and (backend != "torch" or x.device.type == "cpu"):
            if backend == "torch" and self.cell == "lstm" and cpu_bf16_lstm():
                # torch's oneDNN LSTM computes in bf16 itself on CPUs with bf16 instructions
                # (measured 3x faster than fp32 at (100, 28, 28, 128, 2), benchmarks/precision.py)
                return self._run(x, h0, c0, lens, record, backend)
            # Everywhere else the recurrence runs in the parameters' dtype (autocast's fp32
            # policy); layers around it still run in bf16. On CPUs with bf16 instructions
            # lstmkit's fused kernels do their whole-sequence GEMMs on bf16 operands (fp32
            # accumulation, fp32 recurrence). torch's cuDNN kernels keep autocast.
            fused_bf16 = backend == "fused" and x.device.type == "cpu" and cpu_bf16_lstm()
            with torch.autocast(x.device.type, enabled=False):
                return self._run(x, h0, c0, lens, record, backend, probe, fused_bf16)
        return self._run(x, h0, c0, lens, record, backend, probe)

    def _run(self, x, h0, c0, lens, record, backend, probe=None, bf16=False):
        if backend == "torch":
            native = run_native
            if torch.compiler.is_compiling() and not torch.compiler.is_exporting():
                native = _run_native_eagerly  # as torch.nn.LSTM under torch.compile
            out, h_n, c_n = native(
                self.cell, x, h0, c0, self._flat_weights(), bias=self.bias,
                num_layers=self.num_layers, dropout=self.dropout, training=self.training,
                bidirectional=self.bidirectional, batch_first=self.batch_first, lengths=lens,
            )  # fmt: skip
            return out, (h_n, c_n)
        run = _LAYER_RUNNERS[backend]
        if bf16:  # backend is "fused" then
            run = functools.partial(run, bf16=True)
        return self._forward_layers(x, h0, c0, lens, record, run, probe)

    def _initial_state(self, hx: State, x: Tensor, n: int) -> tuple[Tensor, Tensor | None]:
        shape = (self.num_directions * self.num_layers, n, self.output_size)
        c_shape = (*shape[:2], self.hidden_size)
        has_c = self.spec.has_cell_state
        if hx is None:
            zeros = x.new_zeros(shape)
            return zeros, (x.new_zeros(c_shape) if self.proj_size else zeros) if has_c else None
        if isinstance(hx, Tensor):
            if has_c:
                raise TypeError(f"cell={self.cell!r} needs hx=(h0, c0), got a single tensor")
            h0, c0 = hx, None
        elif isinstance(hx, tuple | list) and len(hx) == 2:
            h0, c0 = hx
        else:
            raise TypeError(f"hx must be (h0, c0) or None, got {type(hx).__name__}")
        check_state("h0", h0, shape, x, "hidden[0]" if has_c else "hidden")
        if has_c:
            check_state("c0", c0, c_shape, x, "hidden[1]")
        else:
            c0 = None
        return h0, c0

    def _forward_layers(self, x, h0, c0, lens, record, run, probe=None):
        xt = (x.transpose(0, 1) if self.batch_first else x).contiguous()  # (L, N, I)
        L, N, _ = xt.shape
        rev = reverse_index(L, N, lens, x.device)  # (L, N) or None
        mask = None if lens is None else (torch.arange(L, device=x.device)[:, None] < lens)
        if mask is not None:  # padded steps never reach the math, whatever they hold (NaN too)
            mask = mask[..., None]  # (L, N, 1)
            xt = torch.where(mask, xt, 0.0)
        hn, cn, recs = [], [], []
        for k in range(self.num_layers):
            outs, layer_rec = [], []
            for d in range(self.num_directions):
                idx = k * self.num_directions + d
                inp = xt if d == 0 else time_reverse(xt, rev)
                extra = {}
                if self.proj_size:  # run is run_reference then (resolved_backend)
                    extra["proj"] = self._proj(k, d)
                if probe is not None:  # run is run_reference then
                    p = probe[k, d].transpose(0, 1)  # (L, N, H)
                    extra["probe"] = p if d == 0 else time_reverse(p, rev)  # processing order
                r = run(self.spec, inp, h0[idx], None if c0 is None else c0[idx],
                        self._layer_params(k, d), record, **extra)  # fmt: skip
                hn.append(final_state(r.hs, lens))
                if r.cs is not None:
                    cn.append(final_state(r.cs, lens))
                if d == 1:
                    r = reverse_result(r, rev)
                outs.append(r.hs)
                if record:
                    layer_rec.append(record_values(self.spec, r, mask))
            xt = outs[0] if len(outs) == 1 else torch.cat(outs, dim=2)  # (L, N, D*H)
            if mask is not None:
                xt = torch.where(mask, xt, 0.0)
            if self.dropout and self.training and k < self.num_layers - 1:
                xt = F.dropout(xt, self.dropout, training=True)
            recs.append(layer_rec)
        out = xt.transpose(0, 1) if self.batch_first else xt
        h_n = torch.stack(hn)
        c_n = torch.stack(cn) if self.spec.has_cell_state else None
        if not record:
            return out, (h_n, c_n)
        keys = self.spec.record_keys
        rec = {key: torch.stack([torch.stack([r[key] for r in lr]) for lr in recs]) for key in keys}
        return out, (h_n, c_n), rec


# torch's kernels run outside the compiled graph, as torch.nn.LSTM / GRU do under torch.compile
# (inductor's CPU lowering of a decomposed LSTM fails when only the weights need gradients).
# torch's lazy form of torch.compiler.disable: importing torch._dynamo on import cost every
# process that never compiles 2.5 s (the CLI's --help among them).
_run_native_eagerly = torch._disable_dynamo(run_native)


def _check_proj(proj_size: object, hidden_size: int, spec: CellSpec, cell: str, backend: str):
    """torch's rules for proj_size (and its messages), then lstmkit's: a cell state to project
    from, and a backend that can project."""
    if not isinstance(proj_size, int) or isinstance(proj_size, bool) or proj_size < 0:
        raise ValueError(
            f"proj_size should be a positive integer or zero to disable projections, "
            f"got {proj_size!r}"
        )
    if not proj_size:
        return
    if proj_size >= hidden_size:
        raise ValueError(
            f"proj_size has to be smaller than hidden_size, got {proj_size} >= {hidden_size}"
        )
    if not spec.has_cell_state:
        raise ValueError(f"proj_size needs a cell with a cell state to project, not cell={cell!r}")
    if backend == "fused":
        raise ValueError(
            "proj_size runs on backend='torch' (cell='lstm'), 'reference' or 'auto'; "
            "lstmkit's fused kernels have no projection"
        )


class GRU(LSTM):
    """``torch.nn.GRU``'s signature and results with lstmkit's kernels and recording:
    ``output, h_n = gru(x, h0)`` (and the recorded values third with ``record=True``).

    Example::

        >>> out, h_n = GRU(8, 16, 2)(torch.randn(5, 3, 8))   # (L, N, I): torch's default
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        backend: str = "auto",
        recurrent_init: str = "uniform",
    ) -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype, cell="gru", backend=backend,
                         recurrent_init=recurrent_init)  # fmt: skip

    def forward(self, x: Tensor, hx: Tensor | None = None, *args, **kwargs):
        output, (h_n, _), *rest = super().forward(x, hx, *args, **kwargs)
        return (output, h_n, *rest)
