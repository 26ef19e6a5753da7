"""The three input forms of torch's recurrent layers, reduced to one: a 3-D batch.

``torch.nn.LSTM`` / ``GRU`` take a batch ``(L, N, I)`` (``(N, L, I)`` with ``batch_first``), an
unbatched sequence ``(L, I)`` with 2-D states, or a ``PackedSequence``. ``as_batch`` turns each
into the batch ``LSTM`` computes on (a packed input becomes a right-padded batch and its lengths,
in the caller's order) and ``restore`` gives the results back in the form that came in.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from lstmkit.nn._checks import ShapeError

__all__ = ["Batch", "as_batch", "batch_and_length", "restore"]


@dataclass
class Batch:
    x: Tensor  # 3-D, in the module's layout
    hx: object  # the states, 3-D where given
    lengths: Tensor | list[int] | None
    batched: bool  # False: the input was one unbatched sequence
    packed: PackedSequence | None  # the packed input, to pack the output like it


def as_batch(
    name: str, x: object, hx: object, lengths: object, batch_first: bool, has_c: bool
) -> Batch:
    """Check the input's form and the states' dimensions as torch does; add the batch dimension
    to an unbatched input and its states, unpack a packed one."""
    if isinstance(x, PackedSequence):
        if lengths is not None:
            raise ValueError("lengths= does not go with a PackedSequence input: it has its own")
        padded, lens = pad_packed_sequence(x, batch_first=batch_first)
        return Batch(padded, hx, lens, True, x)
    if not isinstance(x, Tensor):
        layout = "(N, L, I)" if batch_first else "(L, N, I)"
        raise TypeError(
            f"input must be a torch.Tensor {layout}, (L, I) or a PackedSequence, "
            f"got {type(x).__name__}"
        )
    if x.dim() not in (2, 3):
        raise ValueError(f"{name}: Expected input to be 2D or 3D, got {x.dim()}D instead")
    batched = x.dim() == 3
    if hx is not None:
        hx = _states(hx, batched, has_c)
    if not batched:
        x = x.unsqueeze(0 if batch_first else 1)
    return Batch(x, hx, lengths, batched, None)


def _states(hx: object, batched: bool, has_c: bool) -> object:
    """torch's rule: states are 3-D for a batch, 2-D for an unbatched input (given a batch
    dimension of 1 here). Anything that is not a tensor or a pair is left for the shape checks."""
    want = 3 if batched else 2
    form = "batched 3-D" if batched else "unbatched 2-D"
    if isinstance(hx, Tensor):
        if hx.dim() != want:
            raise ShapeError(
                f"For {form} input, hx should also be {want}-D but got {hx.dim()}-D tensor"
            )
        return hx if batched else hx.unsqueeze(1)
    if isinstance(hx, tuple | list) and len(hx) == 2:
        h, c = hx
        tensors = [t for t in (h, c) if isinstance(t, Tensor)]
        if has_c and len(tensors) == 2 and (h.dim() != want or c.dim() != want):
            raise ShapeError(
                f"For {form} input, hx and cx should also be {want}-D but got "
                f"({h.dim()}-D, {c.dim()}-D) tensors"
            )
        if any(t.dim() != want for t in tensors):
            raise ShapeError(
                f"For {form} input, hx should also be {want}-D but got {tensors[0].dim()}-D tensor"
            )
        if batched:
            return hx
        return tuple(t.unsqueeze(1) if isinstance(t, Tensor) else t for t in (h, c))
    return hx


def restore(batch: Batch, out: Tensor, h_n: Tensor, c_n: Tensor | None, rec, batch_first: bool):
    """Results in the input's form: a PackedSequence for a packed input (packed in its order),
    no batch dimension for an unbatched one."""
    if batch.packed is not None:
        out = _pack_like(out, batch.lengths, batch.packed, batch_first)
    elif not batch.batched:
        out = out.squeeze(0 if batch_first else 1)
        h_n = h_n.squeeze(1)
        c_n = None if c_n is None else c_n.squeeze(1)
        if rec is not None:
            rec = {k: v.squeeze(2) for k, v in rec.items()}
    return out, h_n, c_n, rec


def _pack_like(out: Tensor, lengths: Tensor, like: PackedSequence, batch_first: bool):
    """``out`` (padded, the caller's order) packed with ``like``'s batch sizes and order."""
    order = like.sorted_indices
    if order is not None:
        out = out.index_select(0 if batch_first else 1, order)
        lengths = lengths.index_select(0, order.cpu())
    data = pack_padded_sequence(out, lengths.cpu(), batch_first=batch_first).data
    return PackedSequence(data, like.batch_sizes, like.sorted_indices, like.unsorted_indices)


def batch_and_length(x: Tensor | PackedSequence, batch_first: bool) -> tuple[int | None, int]:
    """(N, L) of an input in any of the three forms; N is None for an unbatched sequence."""
    if isinstance(x, PackedSequence):
        return int(x.batch_sizes[0]), len(x.batch_sizes)
    if x.dim() == 2:
        return None, x.shape[0]
    return (x.shape[0], x.shape[1]) if batch_first else (x.shape[1], x.shape[0])
