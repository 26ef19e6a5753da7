"""torch's own fused LSTM / GRU kernels (``torch._VF``), called with lstmkit's parameters.

This is what ``torch.nn.LSTM.forward`` does, without the module: the ``"auto"`` backend uses it
for plain lstm / gru cells when no recording is asked for, so it costs what torch.nn.LSTM costs.
"""

from __future__ import annotations

from torch import _VF, Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

__all__ = ["run_native"]


def run_native(
    cell: str,
    x: Tensor,
    h0: Tensor,
    c0: Tensor | None,
    flat_weights: list[Tensor],
    *,
    bias: bool,
    num_layers: int,
    dropout: float,
    training: bool,
    bidirectional: bool,
    batch_first: bool,
    lengths: Tensor | None,
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Returns (output, h_n, c_n) exactly as torch.nn.LSTM / GRU would (c_n None for gru)."""
    fn = _VF.lstm if cell == "lstm" else _VF.gru
    hx = (h0, c0) if cell == "lstm" else h0
    if lengths is None:
        out = fn(
            x, hx, flat_weights, bias, num_layers, dropout, training, bidirectional, batch_first
        )
        return out[0], out[1], (out[2] if cell == "lstm" else None)
    total = x.shape[1] if batch_first else x.shape[0]
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=batch_first, enforce_sorted=False)
    order, back = packed.sorted_indices, packed.unsorted_indices
    if cell == "lstm":
        hx = (h0.index_select(1, order), c0.index_select(1, order))
    else:
        hx = h0.index_select(1, order)
    out = fn(
        packed.data, packed.batch_sizes, hx, flat_weights, bias, num_layers, dropout, training,
        bidirectional,
    )  # fmt: skip
    seq = PackedSequence(out[0], packed.batch_sizes, order, back)
    output, _ = pad_packed_sequence(seq, batch_first=batch_first, total_length=total)
    h_n = out[1].index_select(1, back)
    c_n = out[2].index_select(1, back) if cell == "lstm" else None
    return output, h_n, c_n
