"""Bad input to LSTM / LSTMCell: ValueError or TypeError naming what was expected and what came."""

from __future__ import annotations

import pytest
import torch

from lstmkit.nn import GRU, LSTM, GRUCell, LSTMCell

N, L, I, H = 2, 6, 4, 5


def _x(*shape, dtype=torch.float32):
    return torch.randn(*shape, dtype=dtype)


# (id, call on LSTM(I, H) (batch_first), exception type, message pattern)
FORWARD_ERRORS = [
    ("wrong-input-size", lambda m: m(_x(N, L, 3)), ValueError, r"input_size\. Expected 4, got 3"),
    ("2d-input-3d-hx", lambda m: m(_x(L, I), (_x(1, 1, H), _x(1, 1, H))), RuntimeError,
     r"For unbatched 2-D input, hx and cx should also be 2-D but got \(3-D, 3-D\) tensors"),
    ("3d-input-2d-hx", lambda m: m(_x(N, L, I), (_x(1, H), _x(1, H))), RuntimeError,
     r"For batched 3-D input, hx and cx should also be 3-D but got \(2-D, 2-D\) tensors"),
    ("4d-input", lambda m: m(_x(1, N, L, I)), ValueError,
     r"LSTM: Expected input to be 2D or 3D, got 4D instead"),
    ("integer-input", lambda m: m(torch.ones(N, L, I, dtype=torch.int64)), TypeError,
     r"floating-point.*torch\.float32.*got torch\.int64"),
    ("float64-into-float32", lambda m: m(_x(N, L, I, dtype=torch.float64)), TypeError,
     r"torch\.float64 does not match .*torch\.float32"),
    ("not-a-tensor", lambda m: m([[[1.0] * I]]), TypeError,
     r"torch\.Tensor \(N, L, I\), \(L, I\) or a PackedSequence, got list"),
    ("empty-batch", lambda m: m(_x(0, L, I)), ValueError, r"non-empty.*\(0, 6, 4\)"),
    ("lengths-wrong-shape", lambda m: m(_x(N, L, I), lengths=torch.tensor([3, 4, 5])), ValueError,
     r"lengths must have shape \(2,\).*got \(3,\)"),
    ("lengths-2d", lambda m: m(_x(N, L, I), lengths=torch.tensor([[3, 4]])), ValueError,
     r"lengths must have shape \(2,\).*got \(1, 2\)"),
    ("lengths-zero", lambda m: m(_x(N, L, I), lengths=torch.tensor([0, 4])), ValueError,
     r"lengths must lie in \[1, 6\].*got 0\.\.4"),
    ("lengths-too-long", lambda m: m(_x(N, L, I), lengths=[7, 4]), ValueError,
     r"lengths must lie in \[1, 6\].*got 4\.\.7"),
    ("lengths-float", lambda m: m(_x(N, L, I), lengths=torch.tensor([3.0, 4.0])), TypeError,
     r"lengths must hold integers, got dtype torch\.float32"),
    ("lengths-bool", lambda m: m(_x(N, L, I), lengths=torch.tensor([True, True])), TypeError,
     r"integers, got dtype torch\.bool"),
    ("lengths-string", lambda m: m(_x(N, L, I), lengths="44"), TypeError,
     r"lengths must be a 1-D integer tensor or list, got str"),
    ("h0-wrong-shape", lambda m: m(_x(N, L, I), (_x(1, 3, H), _x(1, N, H))), RuntimeError,
     r"Expected hidden\[0\] size \(1, 2, 5\), got \[1, 3, 5\]"),
    ("c0-wrong-shape", lambda m: m(_x(N, L, I), (_x(1, N, H), _x(2, N, H))), ValueError,
     r"Expected hidden\[1\] size \(1, 2, 5\), got \[2, 2, 5\]"),
    ("c0-wrong-dtype", lambda m: m(_x(N, L, I), (_x(1, N, H), _x(1, N, H, dtype=torch.float64))),
     TypeError, r"c0 dtype must match the input's \(torch\.float32\), got torch\.float64"),
    ("c0-missing", lambda m: m(_x(N, L, I), (_x(1, N, H), None)), TypeError,
     r"c0 must be a torch\.Tensor of shape \(1, 2, 5\), got NoneType"),
    ("single-tensor-hx", lambda m: m(_x(N, L, I), _x(1, N, H)), TypeError,
     r"cell='lstm' needs hx=\(h0, c0\), got a single tensor"),
    ("hx-one-tuple", lambda m: m(_x(N, L, I), (_x(1, N, H),)), TypeError,
     r"hx must be \(h0, c0\) or None, got tuple"),
]  # fmt: skip


@pytest.mark.parametrize(("call", "exc", "pattern"),
                         [pytest.param(*e[1:], id=e[0]) for e in FORWARD_ERRORS])  # fmt: skip
@pytest.mark.parametrize("backend", ["auto", "fused"])
def test_forward_rejects_bad_input(call, exc, pattern, backend):
    model = LSTM(I, H, backend=backend, batch_first=True)
    with pytest.raises(exc, match=pattern):
        call(model)


def test_gru_h0_wrong_shape():
    model = LSTM(I, H, cell="gru", batch_first=True)
    with pytest.raises(ValueError, match=r"Expected hidden size \(1, 2, 5\), got \[2, 2, 5\]"):
        model(_x(N, L, I), _x(2, N, H))
    with pytest.raises(RuntimeError, match=r"For batched 3-D input, hx should also be 3-D but"):
        model(_x(N, L, I), _x(N, H))


def test_wrong_state_shapes_say_the_same_as_torch():
    """The same mistakes give torch's exception type and message, word for word."""
    for ours, theirs in [(LSTM(I, H), torch.nn.LSTM(I, H)), (GRU(I, H), torch.nn.GRU(I, H))]:
        for x, s in [(_x(L, N, I), _x(1, N + 1, H)), (_x(L, I), _x(1, 1, H)),
                     (_x(L, N, I), _x(1, H))]:  # fmt: skip
            hx = s if isinstance(ours, GRU) else (s, s)
            with pytest.raises(RuntimeError) as a:
                theirs(x, hx)
            with pytest.raises(RuntimeError) as b:
                ours(x, hx)
            assert str(a.value) == str(b.value)


CONSTRUCTOR_ERRORS = [
    ("unknown-cell", {"cell": "foo"}, ValueError,
     r"unknown cell 'foo'; expected one of lstm, peephole, coupled, gru, layernorm"),
    ("unknown-backend", {"backend": "cuda"}, ValueError,
     r"unknown backend 'cuda'; expected one of auto, torch, fused, reference"),
    ("torch-backend-peephole", {"cell": "peephole", "backend": "torch"}, ValueError,
     r"backend='torch' runs only cell='lstm' or 'gru'.*not cell='peephole'.*backend='fused'"),
    ("torch-backend-layernorm", {"cell": "layernorm", "backend": "torch"}, ValueError,
     r"not cell='layernorm'"),
    ("dropout-one", {"dropout": 1.0}, ValueError, r"dropout must lie in \[0, 1\), got 1\.0"),
    ("dropout-negative", {"dropout": -0.1}, ValueError, r"dropout must lie in \[0, 1\), got -0\.1"),
    ("forget-bias-gru", {"cell": "gru", "forget_bias": 1.0}, ValueError,
     r"forget_bias does not apply to cell='gru'"),
    ("recurrent-init", {"recurrent_init": "xavier"}, ValueError,
     r"recurrent_init must be one of .*'orthogonal'.*got 'xavier'"),
    ("hidden-size-zero", {"hidden_size": 0}, ValueError,
     r"hidden_size must be a positive integer, got 0"),
    ("input-size-float", {"input_size": 4.0}, ValueError,
     r"input_size must be a positive integer, got 4\.0"),
    ("num-layers-zero", {"num_layers": 0}, ValueError,
     r"num_layers must be a positive integer, got 0"),
]  # fmt: skip


@pytest.mark.parametrize(("kwargs", "exc", "pattern"),
                         [pytest.param(*e[1:], id=e[0]) for e in CONSTRUCTOR_ERRORS])  # fmt: skip
def test_constructor_rejects_bad_options(kwargs, exc, pattern):
    args = {"input_size": I, "hidden_size": H, **kwargs}
    with pytest.raises(exc, match=pattern):
        LSTM(**args)


def test_cell_rejects_bad_input():
    cell = LSTMCell(I, H)
    with pytest.raises(ValueError, match=r"input_size\. Expected 4, got 3"):
        cell(_x(N, 3))
    with pytest.raises(
        ValueError, match=r"LSTMCell: Expected input to be 1D or 2D, got 3D instead"
    ):
        cell(_x(N, L, I))
    with pytest.raises(ValueError, match=r"LSTMCell: Expected hx\[1\] to be 1D or 2D, got 3D"):
        cell(_x(N, I), (_x(N, H), _x(1, N, H)))
    with pytest.raises(ValueError, match=r"GRUCell: Expected hidden to be 1D or 2D, got 3D"):
        GRUCell(I, H)(_x(N, I), _x(1, N, H))
    with pytest.raises(ValueError, match=r"unknown cell 'x'"):
        LSTMCell(I, H, cell="x")


# ---------------------------------------------------------------- less common mistakes


def test_lengths_float_list_is_rejected():
    with pytest.raises(TypeError, match=r"integer"):
        LSTM(I, H, batch_first=True)(_x(N, L, I), lengths=[2.5, 6])


def test_num_layers_bool_is_rejected():
    with pytest.raises(ValueError, match=r"num_layers must be a positive integer, got True"):
        LSTM(I, H, True, batch_first=True)


def test_dropout_not_a_number_names_dropout():
    with pytest.raises((ValueError, TypeError), match=r"dropout"):
        LSTM(I, H, dropout="x", batch_first=True)


def test_forget_bias_without_bias_is_rejected():
    with pytest.raises(ValueError, match=r"forget_bias"):
        LSTM(I, H, bias=False, forget_bias=1.0, batch_first=True)


def test_cell_state_of_wrong_shape_is_value_error():
    with pytest.raises(ValueError, match=r"\(2, 5\)"):
        LSTMCell(I, H)(_x(N, I), (_x(3, H), _x(N, H)))


def test_cell_float64_input_is_type_error():
    with pytest.raises(TypeError, match=r"float64"):
        LSTMCell(I, H)(_x(N, I, dtype=torch.float64))


def test_cell_forget_bias_with_gru_is_clear():
    with pytest.raises(ValueError, match=r"forget_bias does not apply to cell='gru'"):
        LSTMCell(I, H, cell="gru", forget_bias=1.0)


def test_cell_rejects_zero_input_size():
    with pytest.raises(ValueError, match=r"input_size must be a positive integer, got 0"):
        LSTMCell(0, H)
